"""Orders left unpaid: after the payment window the gift is cancelled and its stock released,
unless the gateway says it was paid after all (then it settles as its notification would)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from gifts.models import Gift, GiftStatus
from gifts.states import gift_transition
from payments.services import payment_close_at_gateway, payment_paid_at_gateway
from payments.states import payments_close_pending
from shops.services import stock_release


def gift_cancel_unpaid(*, gift_id: int) -> bool:
    """Cancel a gift whose payment window has passed, unless the gateway says it was paid."""
    gift = Gift.objects.select_related("payment").get(pk=gift_id)
    if gift.status != GiftStatus.PENDING_PAYMENT:
        return False
    if payment_paid_at_gateway(payment=gift.payment):
        return False
    if not payment_close_at_gateway(payment=gift.payment):
        return False  # paid at the last second; its notification or the next query settles it
    with transaction.atomic():
        locked = Gift.objects.select_for_update().get(pk=gift_id)
        if locked.status != GiftStatus.PENDING_PAYMENT:
            return False
        gift_transition(locked, GiftStatus.CANCELLED, data={"reason": "payment_timeout"})
        payments_close_pending(gift_id=gift_id)
        stock_release(sku_id=locked.sku_id, quantity=locked.quantity * locked.recipients_count)
    return True


def gifts_unpaid_close_due(*, limit: int = 500) -> int:
    due = Gift.objects.filter(status=GiftStatus.PENDING_PAYMENT, pay_deadline__lte=timezone.now())
    return sum(
        gift_cancel_unpaid(gift_id=gift_id)
        for gift_id in due.order_by("pay_deadline").values_list("pk", flat=True)[:limit]
    )

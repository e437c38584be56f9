"""What money events mean for a gift. Connected in `GiftsConfig.ready` to `payments.signals`,
so the payments app never imports this one; each runs inside the payments transaction."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _

from gifts import modes
from gifts.events import refund_requested_events
from gifts.models import Gift, GiftStatus, Notification, Slot, SlotStatus
from gifts.services.notifications import notify
from gifts.states import gift_transition, slot_transition
from payments.models import Refund
from payments.services import refund_request

# Refund reasons whose success means the slot's money is back with the sender.
SLOT_CLOSING = {
    Refund.Reason.DECLINED,
    Refund.Reason.EXPIRED,
    Refund.Reason.AFTER_SALES,
    Refund.Reason.UNDRAWN,
    Refund.Reason.WITHDRAWN,
}


def gift_on_paid(sender, *, payment, notice, **_kw) -> str:
    """The gift is sent: its claim window opens (at the draw, for a lottery). Paid after we gave up
    on it (the payer was slow): the money goes straight back."""
    gift = Gift.objects.select_for_update(of=("self",)).select_related("sku__product").get(pk=payment.gift_id)
    if gift.status == GiftStatus.CANCELLED:
        refund_request(payment=payment, slot=None, amount_fen=payment.amount_fen, reason=Refund.Reason.LATE_PAYMENT)
        return "refunded_late_payment"
    gift.paid_at = payment.paid_at
    gift.expires_at = max(gift.paid_at, gift.draw_at or gift.paid_at) + settings.GIFT_CLAIM_WINDOW
    gift.save(update_fields=["paid_at", "expires_at"])
    Slot.objects.filter(gift=gift).update(expires_at=gift.expires_at)
    gift_transition(gift, GiftStatus.SENT, data={"transaction_id": notice.transaction_id})
    modes.of(gift).on_paid(gift)
    notify(
        user=gift.sender,
        kind=Notification.Kind.GIFT_PAID,
        dedupe_key=f"gift_paid:{gift.pk}",
        title=_("礼物已支付：%(title)s") % {"title": gift.sku.product.title},
        body=_("把蓝色礼物卡片发给朋友，朋友填写地址后商家就会发货。"),
        link=gift.get_absolute_url(),
    )
    return "paid"


def gift_on_refunds_requested(sender, *, refunds, **_kw) -> None:
    refund_requested_events(refunds)


def gift_on_refund_succeeded(sender, *, refund, **_kw) -> None:
    """A slot refunded for good is `refunded`; the sender hears of every refund once."""
    if refund.slot_id and refund.reason in SLOT_CLOSING:
        slot_transition(refund.slot_id, SlotStatus.REFUNDED, data={"out_refund_no": refund.out_refund_no})
    gift = Gift.objects.select_related("sender").get(pk=refund.payment.gift_id)
    notify(
        user=gift.sender,
        kind=Notification.Kind.REFUND,
        dedupe_key=f"refund:{refund.pk}",
        title=_("退款 ¥%(amount).2f 已原路退回") % {"amount": refund.amount_fen / 100},
        body=_("原因：%(reason)s") % {"reason": refund.get_reason_display()},
        link=gift.get_absolute_url(),
    )

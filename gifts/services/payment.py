"""Money in and money back: payment notifications, unpaid cancellation, refunds.

Every handler here may see the same notification twice, late or out of order; each is idempotent
because it locks the row it changes and returns quietly when the row already moved.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from giftshop.errors import AppError
from giftshop.logs import bind
from shops.services import stock_release

from .. import error_codes as E
from ..models import Gift, GiftEvent, GiftStatus, Payment, Refund, Slot, SlotStatus
from ..providers import payment_provider
from ..providers.base import PaymentNotice
from ..states import gift_transition, slot_transition
from .notifications import notify

log = logging.getLogger(__name__)


def payment_notification_handle(*, body: bytes, headers) -> str:
    """Entry point for the gateway's webhook. Returns what happened, for the log."""
    notice = payment_provider().parse_notification(body=body, headers=headers)
    if notice.kind == "payment.succeeded":
        return payment_settle(notice=notice)
    if notice.kind == "refund.succeeded":
        return refund_settle(out_refund_no=notice.out_refund_no, amount_fen=notice.amount_fen)
    raise AppError("unknown_event", f"Unknown event type {notice.kind}.")


def payment_settle(*, notice: PaymentNotice) -> str:
    """Apply a confirmed payment once. Also used by the query-order fallback."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().filter(out_trade_no=notice.out_trade_no).first()
        if payment is None:
            raise AppError(E.UNKNOWN_ORDER, "Unknown out_trade_no.", status_code=404)
        bind(gift_id=payment.gift_id)
        if notice.amount_fen != payment.amount_fen:
            log.error(
                "payment amount mismatch out_trade_no=%s expected=%s got=%s",
                payment.out_trade_no,
                payment.amount_fen,
                notice.amount_fen,
            )
            raise AppError(E.AMOUNT_MISMATCH, "Amount does not match the order.")
        if payment.status == Payment.Status.PAID:
            return "duplicate"
        payment.status = Payment.Status.PAID
        payment.transaction_id = notice.transaction_id
        payment.paid_at = timezone.now()
        payment.save(update_fields=["status", "transaction_id", "paid_at"])
        gift = Gift.objects.select_for_update(of=("self",)).select_related("sku__product").get(pk=payment.gift_id)
        if gift.status == GiftStatus.CANCELLED:
            # Paid after we gave up on it (the payer was slow): money goes straight back.
            refund_request(payment=payment, slot=None, amount_fen=payment.amount_fen, reason=Refund.Reason.LATE_PAYMENT)
            return "refunded_late_payment"
        now = timezone.now()
        gift.paid_at = now
        # A lottery's claim window opens at its draw; until then its slots must not expire.
        gift.expires_at = max(now, gift.draw_at or now) + settings.GIFT_CLAIM_WINDOW
        gift.save(update_fields=["paid_at", "expires_at"])
        Slot.objects.filter(gift=gift).update(expires_at=gift.expires_at)
        gift_transition(gift, GiftStatus.SENT, data={"transaction_id": notice.transaction_id})
        if gift.mode == Gift.Mode.BULK:
            from .bulk import bulk_links_start

            bulk_links_start(gift=gift)
        notify(
            user=gift.sender,
            kind="gift_paid",
            dedupe_key=f"gift_paid:{gift.pk}",
            title=_("礼物已支付：%(title)s") % {"title": gift.sku.product.title},
            body=_("把蓝色礼物卡片发给朋友，朋友填写地址后商家就会发货。"),
            link=gift.get_absolute_url(),
        )
    return "paid"


def gift_cancel_unpaid(*, gift_id: int) -> bool:
    """Cancel a gift whose payment window has passed, unless the gateway says it was paid."""
    gift = Gift.objects.select_related("payment").get(pk=gift_id)
    if gift.status != GiftStatus.PENDING_PAYMENT:
        return False
    provider = payment_provider()
    payment = gift.payment
    if _settle_if_paid_at_gateway(provider, payment):
        return False
    if not provider.close(out_trade_no=payment.out_trade_no):
        return False  # paid at the last second; its notification or the next query settles it
    with transaction.atomic():
        locked = Gift.objects.select_for_update().get(pk=gift_id)
        if locked.status != GiftStatus.PENDING_PAYMENT:
            return False
        gift_transition(locked, GiftStatus.CANCELLED, data={"reason": "payment_timeout"})
        Payment.objects.filter(pk=payment.pk, status=Payment.Status.PENDING).update(status=Payment.Status.CLOSED)
        stock_release(sku_id=locked.sku_id, quantity=locked.quantity * locked.recipients_count)
    return True


def gifts_cancel_unpaid_due(*, limit: int = 500) -> int:
    due = Gift.objects.filter(status=GiftStatus.PENDING_PAYMENT, pay_deadline__lte=timezone.now())
    count = 0
    for gift_id in due.order_by("pay_deadline").values_list("pk", flat=True)[:limit]:
        count += gift_cancel_unpaid(gift_id=gift_id)
    return count


def payments_query_unsettled(*, older_than_seconds: int = 60, limit: int = 200) -> int:
    """Settle orders whose notification never came by asking the gateway (query-order)."""
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds)
    pending = Payment.objects.filter(
        status=Payment.Status.PENDING, created_at__lte=cutoff, gift__status=GiftStatus.PENDING_PAYMENT
    )
    settled = 0
    provider = payment_provider()
    for payment in pending.order_by("id")[:limit]:
        settled += _settle_if_paid_at_gateway(provider, payment)
    return settled


def _settle_if_paid_at_gateway(provider, payment: Payment) -> bool:
    """Ask the gateway (query-order); settle exactly as its notification would have."""
    query = provider.query(out_trade_no=payment.out_trade_no)
    if query.status != "paid":
        return False
    payment_settle(
        notice=PaymentNotice(
            kind="payment.succeeded",
            out_trade_no=payment.out_trade_no,
            amount_fen=query.amount_fen,
            transaction_id=query.transaction_id,
        )
    )
    return True


# ----- refunds -----


def refund_request(*, payment: Payment, slot: Slot | None, amount_fen: int, reason: str) -> Refund | None:
    """Record a refund once per (slot, reason) and ask the gateway after commit."""
    if amount_fen <= 0:
        return None
    key = f"{payment.out_trade_no}-{slot.pk if slot else 'G'}-{reason}"
    try:
        with transaction.atomic():
            refund = Refund.objects.create(
                payment=payment, slot=slot, out_refund_no=key, amount_fen=amount_fen, reason=reason
            )
    except IntegrityError:
        return None
    GiftEvent.objects.create(
        gift_id=payment.gift_id,
        slot=slot,
        kind="refund_requested",
        data={"out_refund_no": key, "amount_fen": amount_fen, "reason": reason},
    )
    from ..tasks import send_refund

    transaction.on_commit(lambda: send_refund.delay(refund.pk))
    return refund


def refunds_request_bulk(*, items: list[tuple[Payment, int, int]], reason: str) -> list[int]:
    """Many refunds at once for slots the caller has just moved under lock (the expiry sweep):
    (payment, slot_id, amount_fen) each. Three statements for the batch instead of several per
    slot; the unique out_refund_no still makes a second refund for a slot impossible."""
    refunds = Refund.objects.bulk_create(
        Refund(
            payment=payment,
            slot_id=slot_id,
            amount_fen=amount,
            reason=reason,
            out_refund_no=f"{payment.out_trade_no}-{slot_id}-{reason}",
        )
        for payment, slot_id, amount in items
        if amount > 0
    )
    GiftEvent.objects.bulk_create(
        GiftEvent(
            gift_id=r.payment.gift_id,
            slot_id=r.slot_id,
            kind="refund_requested",
            data={"out_refund_no": r.out_refund_no, "amount_fen": r.amount_fen, "reason": reason},
        )
        for r in refunds
    )
    ids = [r.pk for r in refunds]
    from ..tasks import send_refund

    transaction.on_commit(lambda: [send_refund.delay(pk) for pk in ids])
    return ids


def refund_submit(*, refund_id: int) -> None:
    """Ask the gateway for the money back (idempotent per out_refund_no at the gateway)."""
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if refund.status == Refund.Status.SUCCEEDED:
        return
    payment_provider().refund(
        out_refund_no=refund.out_refund_no, out_trade_no=refund.payment.out_trade_no, amount_fen=refund.amount_fen
    )


def refunds_requeue_stale(*, older_than, limit: int = 1000) -> int:
    """Refunds still pending after `older_than` (a lost task, retries exhausted) are sent to the gateway
    again; the gateway refunds once per out_refund_no, so a second send is harmless."""
    from ..tasks import send_refund

    cutoff = timezone.now() - older_than
    ids = list(
        Refund.objects.filter(status=Refund.Status.PENDING, created_at__lte=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    for refund_id in ids:
        try:
            send_refund.delay(refund_id)
        except Exception:  # noqa: BLE001 (broker down: try again later)
            log.warning("broker unavailable; refund=%s left pending", refund_id)
            break
    return len(ids)


# Refund reasons whose success means the slot's money is back with the sender.
_SLOT_CLOSING = {Refund.Reason.DECLINED, Refund.Reason.EXPIRED, Refund.Reason.AFTER_SALES, Refund.Reason.UNDRAWN}


def refund_settle(*, out_refund_no: str, amount_fen: int) -> str:
    with transaction.atomic():
        refund = (
            Refund.objects.select_for_update()
            .select_related("payment__gift")
            .filter(out_refund_no=out_refund_no)
            .first()
        )
        if refund is None:
            raise AppError(E.UNKNOWN_ORDER, "Unknown out_refund_no.", status_code=404)
        if amount_fen != refund.amount_fen:
            log.error(
                "refund amount mismatch out_refund_no=%s expected=%s got=%s",
                out_refund_no,
                refund.amount_fen,
                amount_fen,
            )
            raise AppError(E.AMOUNT_MISMATCH, "Amount does not match the refund.")
        if refund.status == Refund.Status.SUCCEEDED:
            return "duplicate"
        refund.status = Refund.Status.SUCCEEDED
        refund.succeeded_at = timezone.now()
        refund.save(update_fields=["status", "succeeded_at"])
        if refund.slot_id and refund.reason in _SLOT_CLOSING:
            slot_transition(refund.slot_id, SlotStatus.REFUNDED, data={"out_refund_no": out_refund_no})
        gift = refund.payment.gift
        notify(
            user=gift.sender,
            kind="refund",
            dedupe_key=f"refund:{refund.pk}",
            title=_("退款 ¥%(amount).2f 已原路退回") % {"amount": refund.amount_fen / 100},
            body=_("原因：%(reason)s") % {"reason": refund.get_reason_display()},
            link=gift.get_absolute_url(),
        )
    return "refunded"

"""Money in and money back: prepay, payment notifications, query-order, refunds.

Every handler here may see the same notification twice, late or out of order; each is idempotent
because it locks the row it changes and returns quietly when the row already moved. What a paid
order or a settled refund means for a gift is not decided here: `payments.signals` tells the gifts
app, inside the same transaction.
"""

from __future__ import annotations

import logging
import secrets

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from giftshop.errors import AppError
from giftshop.logs import bind
from outbox.jobs import enqueue, enqueue_many

from . import error_codes as E
from .models import Payment, Refund
from .providers import Checkout, PaymentNotice, payment_provider
from .signals import payment_paid, refund_succeeded, refunds_requested
from .states import payment_transition, refund_transition

log = logging.getLogger(__name__)


def new_out_trade_no() -> str:
    return timezone.now().strftime("GS%Y%m%d%H%M%S") + secrets.token_hex(6).upper()


def payment_open(*, gift, amount_fen: int, description: str) -> Payment:
    """Create the prepay order at the gateway and our Payment row for a gift, in the caller's transaction."""
    provider = payment_provider()
    out_trade_no = new_out_trade_no()
    cashier_url = provider.prepay(out_trade_no=out_trade_no, amount_fen=amount_fen, description=description)
    return Payment.objects.create(
        gift=gift, provider=provider.name, out_trade_no=out_trade_no, amount_fen=amount_fen, cashier_url=cashier_url
    )


def payment_checkout(*, payment: Payment, provider: str, channel: str, client_ip: str, openid: str = "") -> Checkout:
    """Start paying a pending order with the provider the payer chose, in the way that fits where
    they are. The choice is recorded on the payment: queries, closes and refunds go to it."""
    if payment.status != Payment.Status.PENDING:
        raise AppError(E.NOT_PAYABLE, gettext("这笔订单已支付或已关闭"))
    gateway = payment_provider(provider)
    if payment.provider != provider:
        # The order stays payable at one gateway only: close it where the payer was before (a
        # payer who opened both and paid both would be charged twice). Paid there meanwhile: settle.
        if payment_paid_at_gateway(payment=payment) or not payment_close_at_gateway(payment=payment):
            raise AppError(E.NOT_PAYABLE, gettext("这笔订单已经支付"))
        Payment.objects.filter(pk=payment.pk, status=Payment.Status.PENDING).update(provider=provider)
        payment.provider = provider
    description = f"礼物：{payment.gift.sku.product.title}"
    return gateway.checkout(
        out_trade_no=payment.out_trade_no,
        amount_fen=payment.amount_fen,
        description=description,
        channel=channel,
        client_ip=client_ip,
        openid=openid,
    )


def payment_notification_handle(*, provider: str, body: bytes, headers) -> str:
    """Entry point for a gateway's webhook. Returns what happened, for the log."""
    try:
        notice = payment_provider(provider).parse_notification(body=body, headers=headers)
    except (ValueError, OverflowError) as exc:  # signed, but a value we cannot take (giftshop.inputs)
        raise AppError(E.BAD_NOTIFICATION, f"Notification is malformed: {exc}") from exc
    if notice.kind == "payment.succeeded":
        return payment_settle(notice=notice, provider=provider)
    if notice.kind == "refund.succeeded":
        return refund_settle(out_refund_no=notice.out_refund_no, amount_fen=notice.amount_fen)
    if notice.kind == "ignored":
        return "ignored"
    raise AppError(E.UNKNOWN_EVENT, f"Unknown event type {notice.kind}.")


def payment_settle(*, notice: PaymentNotice, provider: str = "") -> str:
    """Apply a confirmed payment once. Also used by the query-order fallback. `provider`: the
    gateway that says it took the money, when it is not the one the payment names."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().filter(out_trade_no=notice.out_trade_no).first()
        if payment is None:
            raise AppError(E.UNKNOWN_ORDER, "Unknown out_trade_no.")
        bind(gift_id=payment.gift_id)
        if notice.amount_fen != payment.amount_fen:
            log.error(
                "payment amount mismatch out_trade_no=%s expected=%s got=%s",
                payment.out_trade_no,
                payment.amount_fen,
                notice.amount_fen,
            )
            raise AppError(E.AMOUNT_MISMATCH, "Amount does not match the order.")
        if payment.status == Payment.Status.PENDING and provider and provider != payment.provider:
            payment.provider = provider  # paid where the payer was before switching: the money is there
            payment.save(update_fields=["provider"])
        if not payment_transition(payment, Payment.Status.PAID, transaction_id=notice.transaction_id):
            return "duplicate"
        outcomes = [r for _, r in payment_paid.send(sender=Payment, payment=payment, notice=notice) if r]
    return outcomes[0] if outcomes else "paid"


def payment_paid_at_gateway(*, payment: Payment) -> bool:
    """Ask the gateway (query-order); when it was paid, settle exactly as its notification would have."""
    query = payment_provider(payment.provider).query(out_trade_no=payment.out_trade_no)
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


def payment_close_at_gateway(*, payment: Payment) -> bool:
    """Close an unpaid order at the gateway. False when it was paid at the last second."""
    return payment_provider(payment.provider).close(out_trade_no=payment.out_trade_no)


def payments_settle_from_gateway(*, older_than_seconds: int = 60, limit: int = 200) -> int:
    """Settle orders whose notification never came by asking the gateway (query-order)."""
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds)
    pending = Payment.objects.filter(status=Payment.Status.PENDING, created_at__lte=cutoff)
    return sum(payment_paid_at_gateway(payment=p) for p in pending.order_by("id")[:limit])


# ----- refunds -----


def refund_request(*, payment: Payment, slot, amount_fen: int, reason: str) -> Refund | None:
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
    refunds_requested.send(sender=Refund, refunds=[refund])
    enqueue("payments.tasks.send_refund", refund.pk)
    return refund


def refunds_request_bulk(*, items: list[tuple[Payment, int, int]], reason: str) -> list[int]:
    """Many refunds at once for slots the caller has just moved under lock (the expiry sweep):
    (payment, slot_id, amount_fen) each. A fixed number of statements for the batch; the unique
    out_refund_no still makes a second refund for a slot impossible."""
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
    refunds_requested.send(sender=Refund, refunds=refunds)
    enqueue_many("payments.tasks.send_refund", [(r.pk,) for r in refunds])
    return [r.pk for r in refunds]


def refund_submit(*, refund_id: int) -> None:
    """Ask the gateway for the money back (idempotent per out_refund_no at the gateway)."""
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if refund.status == Refund.Status.SUCCEEDED:
        return
    done = payment_provider(refund.payment.provider).refund(
        out_refund_no=refund.out_refund_no,
        out_trade_no=refund.payment.out_trade_no,
        amount_fen=refund.amount_fen,
        total_fen=refund.payment.amount_fen,
    )
    if done:  # refunded at once (no notification will come): settle it as the notification would
        refund_settle(out_refund_no=refund.out_refund_no, amount_fen=refund.amount_fen)


def refunds_settle_from_gateway(*, older_than_seconds: int = 300, limit: int = 200) -> int:
    """Beat: refunds still pending a while after they were asked for (the gateway's notification
    was lost, or never comes) are settled when the gateway says they succeeded (query refund)."""
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds)
    pending = Refund.objects.select_related("payment").filter(status=Refund.Status.PENDING, created_at__lte=cutoff)
    settled = 0
    for refund in pending.order_by("created_at")[:limit]:
        state = payment_provider(refund.payment.provider).refund_query(
            out_refund_no=refund.out_refund_no, out_trade_no=refund.payment.out_trade_no
        )
        if state == "succeeded":
            settled += refund_settle(out_refund_no=refund.out_refund_no, amount_fen=refund.amount_fen) == "refunded"
    return settled


def refund_settle(*, out_refund_no: str, amount_fen: int) -> str:
    with transaction.atomic():
        refund = Refund.objects.select_for_update().filter(out_refund_no=out_refund_no).first()
        if refund is None:
            raise AppError(E.UNKNOWN_ORDER, "Unknown out_refund_no.")
        if amount_fen != refund.amount_fen:
            log.error(
                "refund amount mismatch out_refund_no=%s expected=%s got=%s",
                out_refund_no,
                refund.amount_fen,
                amount_fen,
            )
            raise AppError(E.AMOUNT_MISMATCH, "Amount does not match the refund.")
        if not refund_transition(refund, Refund.Status.SUCCEEDED):
            return "duplicate"
        refund_succeeded.send(sender=Refund, refund=refund)
    return "refunded"

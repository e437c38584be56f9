"""The one place where payment and refund statuses change: a transition table, a row lock, a quiet
no-op when the row is already there (a notice delivered twice), a timestamp."""

from __future__ import annotations

from django.utils import timezone

from giftshop.errors import AppError

from .models import Payment, Refund

P = Payment.Status
R = Refund.Status

PAYMENT_TRANSITIONS = {P.PENDING: {P.PAID, P.CLOSED}, P.PAID: set(), P.CLOSED: {P.PAID}}
REFUND_TRANSITIONS = {R.PENDING: {R.SUCCEEDED}, R.SUCCEEDED: set()}
ILLEGAL = "illegal_transition"  # the same code as every state module's


def payment_transition(payment: Payment, target: str, *, transaction_id: str = "") -> bool:
    """Move a payment the caller has locked (`select_for_update`). A paid-after-close notice moves
    a closed payment to paid: the money arrived and must be refunded, not ignored."""
    current = payment.status
    if current == target:
        return False
    if target not in PAYMENT_TRANSITIONS[current]:
        raise AppError(ILLEGAL, f"payment {payment.pk} cannot move from {current} to {target}.")
    payment.status = target
    fields = ["status"]
    if target == P.PAID:
        payment.transaction_id, payment.paid_at = transaction_id, timezone.now()
        fields += ["transaction_id", "paid_at"]
    payment.save(update_fields=fields)
    return True


def payments_close_pending(*, gift_id: int) -> int:
    """Close the still-pending payment of a gift whose payment window passed (one guarded UPDATE)."""
    return Payment.objects.filter(gift_id=gift_id, status=P.PENDING).update(status=P.CLOSED)


def refund_transition(refund: Refund, target: str) -> bool:
    """Move a refund the caller has locked."""
    current = refund.status
    if current == target:
        return False
    if target not in REFUND_TRANSITIONS[current]:
        raise AppError(ILLEGAL, f"refund {refund.pk} cannot move from {current} to {target}.")
    refund.status = target
    refund.succeeded_at = timezone.now()
    refund.save(update_fields=["status", "succeeded_at"])
    return True

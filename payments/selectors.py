"""Reads of payments that enforce who may see them (a missing order and someone else's fail alike)."""

from __future__ import annotations

from django.utils.translation import gettext

from giftshop.errors import NotFound

from .models import Payment


def payment_get_for_sender(*, out_trade_no: str, user) -> Payment:
    payment = (
        Payment.objects.select_related("gift__sku__product")
        .filter(out_trade_no=out_trade_no, gift__sender_id=user.pk)
        .first()
    )
    if payment is None:
        raise NotFound(gettext("订单不存在"))
    return payment


def refund_totals_for_gift(*, gift_id: int) -> dict[str, int]:
    """What went back to the sender so far: settled (the money is back) and still under way, in fen."""
    from django.db.models import Sum

    from .models import Refund

    rows = Refund.objects.filter(payment__gift_id=gift_id).values("status").annotate(fen=Sum("amount_fen"))
    totals = {row["status"]: row["fen"] or 0 for row in rows}
    return {
        "refunded_fen": totals.get(Refund.Status.SUCCEEDED, 0),
        "refund_pending_fen": totals.get(Refund.Status.PENDING, 0),
    }

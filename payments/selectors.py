"""Reads of payments that enforce who may see them (a missing order and someone else's fail alike)."""

from __future__ import annotations

from giftshop.errors import NotFound

from .models import Payment


def payment_get_for_sender(*, out_trade_no: str, user) -> Payment:
    payment = (
        Payment.objects.select_related("gift__sku__product")
        .filter(out_trade_no=out_trade_no, gift__sender_id=user.pk)
        .first()
    )
    if payment is None:
        raise NotFound("订单不存在")
    return payment

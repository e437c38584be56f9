"""Checkout for gifts whose recipients are settled later: a lottery's winners, a bulk list's rows.

The same building blocks as `checkout.gift_create` (eligibility, a guarded stock reserve, slots
created up front, one prepay order at the gateway) without its single/group rules.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from giftshop.errors import AppError
from shops.eligibility import OUT_OF_STOCK as OUT_OF_STOCK_REASON
from shops.eligibility import REASON_TEXT, sku_eligibility
from shops.models import Sku
from shops.selectors import sku_get
from shops.services import stock_reserve

from .. import error_codes as E
from ..models import Gift, GiftEvent, Payment, Slot
from ..providers import payment_provider
from .checkout import new_out_trade_no


def quantity_validate(quantity: int) -> None:
    if not 1 <= quantity <= settings.GIFT_MAX_QUANTITY:
        raise AppError(
            E.BAD_QUANTITY,
            f"每人份数须在 1 到 {settings.GIFT_MAX_QUANTITY} 之间",
            fields={"quantity": ["out of range"]},
        )


def sku_check_giftable(*, sku_id: int, units: int) -> Sku:
    """The SKU if it may be gifted in `units` units; the same refusals as gift_create."""
    sku = sku_get(sku_id=sku_id)
    eligibility = sku_eligibility(sku, quantity=units)
    if eligibility.reasons == [OUT_OF_STOCK_REASON]:
        raise AppError(E.OUT_OF_STOCK, "库存不足", fields={"reasons": eligibility.reasons})
    if not eligibility.eligible:
        raise AppError(
            E.NOT_ELIGIBLE,
            "；".join(REASON_TEXT[r] for r in eligibility.reasons),
            fields={"reasons": eligibility.reasons},
        )
    return sku


def gift_open(
    *, sender, sku: Sku, mode: str, recipients: int, quantity: int, message: str = "", draw_at=None
) -> tuple[Gift, list[Slot]]:
    """Reserve stock, create the gift with `recipients` slots and its prepay order. Returns (gift, slots)."""
    units = quantity * recipients
    with transaction.atomic():
        stock_reserve(sku_id=sku.pk, quantity=units)
        gift = Gift.objects.create(
            sender=sender,
            shop=sku.product.shop,
            sku=sku,
            mode=mode,
            recipients_count=recipients,
            quantity=quantity,
            unit_price_fen=sku.price_fen,
            amount_fen=sku.price_fen * units,
            message=message.strip()[:200],
            pay_deadline=timezone.now() + settings.GIFT_PAYMENT_WINDOW,
            draw_at=draw_at,
        )
        slots = Slot.objects.bulk_create(
            [Slot(gift=gift, number=n, sku=sku) for n in range(1, recipients + 1)], batch_size=1000
        )
        provider = payment_provider()
        out_trade_no = new_out_trade_no()
        cashier_url = provider.prepay(
            out_trade_no=out_trade_no, amount_fen=gift.amount_fen, description=f"礼物：{sku.product.title}"
        )
        Payment.objects.create(
            gift=gift,
            provider=provider.name,
            out_trade_no=out_trade_no,
            amount_fen=gift.amount_fen,
            cashier_url=cashier_url,
        )
        GiftEvent.objects.create(
            gift=gift,
            kind="created",
            to_status=gift.status,
            actor=sender,
            data={"units": units, "amount_fen": gift.amount_fen},
        )
    return gift, slots

"""Writes for shops: stock moves and the gifting switch."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext

from giftshop.errors import AppError
from shops import error_codes as E
from shops.models import Shop, Sku
from shops.permissions import Action, staff_require


def stock_reserve(*, sku_id: int, quantity: int) -> None:
    """Take `quantity` units in one guarded UPDATE: no lock held, no oversell under any concurrency."""
    taken = Sku.objects.filter(pk=sku_id, stock__gte=quantity).update(stock=F("stock") - quantity)
    if not taken:
        raise AppError(E.OUT_OF_STOCK, gettext("库存不足"))


def stock_release(*, sku_id: int, quantity: int) -> None:
    Sku.objects.filter(pk=sku_id).update(stock=F("stock") + quantity)


@transaction.atomic
def shop_set_gifting(*, shop: Shop, enabled: bool, actor=None) -> Shop:
    """The shop's one gifting switch. `actor`: the staff member (owners and managers only)."""
    if actor is not None:
        staff_require(user=actor, shop_id=shop.pk, action=Action.MANAGE_SHOP)
    Shop.objects.filter(pk=shop.pk).update(gifting_enabled=enabled)
    shop.gifting_enabled = enabled
    return shop


STOCK_MAX = 10_000_000


def sku_set_stock(*, sku: Sku, stock: int, actor=None) -> Sku:
    """The merchant's stock count for a SKU (a stocktake), written in one UPDATE.

    Units already reserved by paid gifts are not in `stock` any more, so the count set here is what
    is left to sell.
    """
    if actor is not None:
        staff_require(user=actor, shop_id=sku.product.shop_id, action=Action.EDIT_STOCK)
    if not 0 <= stock <= STOCK_MAX:
        raise AppError(
            E.INVALID,
            gettext("库存须在 0 到 10000000 之间"),
            fields={"stock": [gettext("库存须在 0 到 10000000 之间")]},
        )
    Sku.objects.filter(pk=sku.pk).update(stock=stock)
    sku.stock = stock
    return sku

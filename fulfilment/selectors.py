"""Reads of the merchant's recipient orders, scoped to the shops the user works for (a missing
order and another shop's fail the same way)."""

from __future__ import annotations

from django.db.models import QuerySet

from gifts.models import GIFT_UNPAID, Slot
from giftshop.errors import NotFound
from shops.selectors import shop_ids_for_staff


def merchant_slots(*, user, status: str | None = None) -> QuerySet[Slot]:
    """Recipient orders of the shops this user works for: paid gifts only."""
    qs = Slot.objects.filter(gift__shop_id__in=shop_ids_for_staff(user=user)).exclude(gift__status__in=GIFT_UNPAID)
    if status:
        qs = qs.filter(status=status)
    return qs.select_related("gift__shop", "sku__product", "address", "shipment")


def merchant_slot_get(*, user, slot_id: int) -> Slot:
    slot = merchant_slots(user=user).filter(pk=slot_id).first()
    if slot is None:
        raise NotFound("订单不存在")
    return slot

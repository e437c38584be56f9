"""Reads for gifts, each enforcing who may see what (fails the same way for missing and not yours)."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from giftshop.errors import NotFound
from shops.selectors import shop_ids_for_staff

from .models import Gift, Slot, SlotStatus


def gift_get_for_sender(*, gift_id: int, user) -> Gift:
    gift = (
        Gift.objects.select_related("sku__product__shop", "payment", "named_recipient")
        .filter(pk=gift_id, sender_id=getattr(user, "pk", None))
        .first()
    )
    if gift is None:
        raise NotFound("礼物不存在")
    return gift


def gifts_for_sender(*, user) -> QuerySet[Gift]:
    return (
        Gift.objects.filter(sender=user)
        .select_related("sku__product")
        .annotate(
            slots_accepted=Count(
                "slots",
                filter=~Q(
                    slots__status__in=[
                        SlotStatus.UNCLAIMED,
                        SlotStatus.DECLINED,
                        SlotStatus.EXPIRED,
                        SlotStatus.REFUNDED,
                    ]
                ),
            )
        )
        .order_by("-id")
    )


def slots_for_gift(*, gift: Gift) -> QuerySet[Slot]:
    return Slot.objects.filter(gift=gift).select_related("sku", "recipient", "shipment").order_by("number")


def slots_received(*, user) -> QuerySet[Slot]:
    return (
        Slot.objects.filter(recipient=user)
        .select_related("gift__sender", "sku__product", "shipment", "address")
        .order_by("-id")
    )


def slot_get_for_recipient(*, slot_id: int, user) -> Slot:
    slot = slots_received(user=user).filter(pk=slot_id).first()
    if slot is None:
        raise NotFound("订单不存在")
    return slot


def merchant_slots(*, user, status: str | None = None) -> QuerySet[Slot]:
    """Recipient orders of the shops this user works for: paid gifts only."""
    qs = Slot.objects.filter(gift__shop_id__in=shop_ids_for_staff(user=user)).exclude(
        gift__status__in=["pending_payment", "cancelled"]
    )
    if status:
        qs = qs.filter(status=status)
    return qs.select_related("gift__shop", "sku__product", "address", "shipment")


def merchant_slot_get(*, user, slot_id: int) -> Slot:
    slot = merchant_slots(user=user).filter(pk=slot_id).first()
    if slot is None:
        raise NotFound("订单不存在")
    return slot


def claim_card(*, gift: Gift, user) -> dict:
    """The gift card as a recipient sees it: no other recipient's data, no address."""
    from shops.eligibility import sku_eligibility

    product = gift.sku.product
    mine = Slot.objects.filter(gift=gift, recipient=user).first() if user.is_authenticated else None
    if gift.allow_sku_choice:
        skus = [
            s
            for s in product.skus.select_related("product__shop", "product__category__root").order_by("id")
            if s.price_fen <= gift.unit_price_fen
            and (s.pk == gift.sku_id or sku_eligibility(s, quantity=gift.quantity).eligible)
        ]
    else:
        skus = [gift.sku]
    left = Slot.objects.filter(gift=gift, status=SlotStatus.UNCLAIMED, recipient__isnull=True).count()
    sender = gift.sender
    return {
        "sender": sender.get_full_name() or sender.username,
        "message": gift.message,
        "mode": gift.mode,
        "status": gift.status,
        "product": {"id": product.pk, "title": product.title, "image": product.image, "shop": gift.shop.name},
        "quantity": gift.quantity,
        "skus": [
            {
                "id": s.pk,
                "attributes": s.attributes,
                "label": s.label,
                "price_fen": s.price_fen,
                "original_price_fen": s.original_price_fen,
                "stock": s.stock,
            }
            for s in skus
        ],
        "allow_sku_choice": gift.allow_sku_choice,
        "named": gift.named_recipient_id is not None,
        "for_you": gift.named_recipient_id in (None, getattr(user, "pk", None)),
        "slots_total": gift.recipients_count,
        "slots_left": left,
        "expires_at": gift.expires_at,
        "your_slot": {"id": mine.pk, "status": mine.status, "sku_id": mine.sku_id} if mine else None,
    }

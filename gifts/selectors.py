"""Reads for gifts, each enforcing who may see what (fails the same way for missing and not yours)."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from gifts.models import Gift, GiftStatus, Slot, SlotStatus
from giftshop.errors import NotFound
from shops.eligibility import sku_eligibility
from shops.selectors import product_card


def gift_get_for_sender(*, gift_id: int, user) -> Gift:
    gift = (
        Gift.objects.select_related("sku__product__shop", "payment", "named_recipient")
        .filter(pk=gift_id, sender_id=getattr(user, "pk", None))
        .first()
    )
    if gift is None:
        raise NotFound(gettext("礼物不存在"))
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
        raise NotFound(gettext("订单不存在"))
    return slot


def claim_card(*, gift: Gift, user) -> dict:
    """The gift card as a recipient sees it: no other recipient's data, no address."""

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
        "product": product_card(gift.sku, shop_name=gift.shop.name),
        "paid_sku": {"id": gift.sku_id, "label": gift.sku.label if gift.sku.attributes else ""},
        "quantity": gift.quantity,
        "skus": [
            {
                "id": s.pk,
                "attributes": s.attributes,
                "label": s.label,
                "price_fen": s.price_fen,
                "original_price_fen": s.original_price_fen,
                "stock": s.stock,
                "image_url": s.thumb_url,
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


# What a slot that has left `unclaimed` shows on the card, in every mode.
_SETTLED_FACES = {SlotStatus.DECLINED: "declined", SlotStatus.EXPIRED: "expired", SlotStatus.REFUNDED: "refunded"}


def card_face(*, gift: Gift, user, slot_status: str | None, ready: str = "fill_address", before=None) -> str:
    """Which face of the blue card to show, for every mode (claim, lottery, bulk link).

    `slot_status`: the status of the slot this person holds, or None. `ready`: the face of a held,
    still unclaimed slot (fill in the address; a lottery says "won"; a bulk link may ask for the
    code first). `before`: the mode's own faces for someone who holds no slot yet.
    """
    expired = (gift.expires_at is not None and gift.expires_at <= timezone.now()) or gift.status == GiftStatus.EXPIRED
    if not user.is_authenticated:
        return "expired" if expired else "sign_in"
    if gift.sender_id == user.pk:
        return "own_gift"
    if slot_status == SlotStatus.UNCLAIMED:
        return "expired" if expired else ready
    if slot_status is not None:
        return _SETTLED_FACES.get(slot_status, "accepted")
    if before is None:
        return "expired" if expired else ready
    return before()


def gift_takers(*, gift: Gift) -> list[str]:
    """Who has taken a share of a group gift, by display name in the order they took it (what a
    group chat shows under a red envelope; nothing else about them)."""
    slots = (
        Slot.objects.filter(gift=gift, recipient__isnull=False)
        .exclude(status__in=[SlotStatus.DECLINED, SlotStatus.EXPIRED, SlotStatus.REFUNDED])
        .select_related("recipient")
        .order_by("taken_at", "number")
    )
    return [s.recipient.get_full_name() or s.recipient.username for s in slots]

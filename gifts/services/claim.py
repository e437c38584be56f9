"""The recipient's half: open, accept with an address, decline, thank (the group grab: grab.py).

Accepting records the claim and its job in one transaction and returns fast; a worker
(`slot_hand_over`) does the rest, and the outbox publishes the job again if its message is lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext as _

from gifts import error_codes as E
from gifts import modes
from gifts.events import thanks_event
from gifts.models import (
    GIFT_CLAIMABLE,
    GIFT_UNPAID,
    Gift,
    GiftStatus,
    Notification,
    SavedAddress,
    ShippingAddress,
    Slot,
    SlotStatus,
)
from gifts.regions import phone_is_valid, region_is_valid
from gifts.services.grab import (  # noqa: F401 (the API and pages grab through here)
    gift_is_past_expiry,
    grab_authenticate,
    grab_by_token,
    slot_grab,
)
from gifts.services.handover import hand_over_notes
from gifts.services.notifications import notify, notify_many
from gifts.states import gift_sync_if_behind, slot_transition
from giftshop.errors import AppError, NotFound
from giftshop.logs import bind
from giftshop.rows import get_row
from outbox.jobs import enqueue, enqueue_along
from payments.models import Refund
from payments.services import refund_request
from shops.eligibility import sku_eligibility
from shops.models import Sku
from shops.services import stock_release, stock_reserve

log = logging.getLogger(__name__)

ADDRESS_FIELDS = ("name", "phone", "province", "city", "district", "detail")


@dataclass
class AddressInput:
    name: str
    phone: str
    province: str
    city: str
    district: str
    detail: str

    @classmethod
    def from_dict(cls, data: dict) -> AddressInput:
        return cls(**{f: str(data.get(f, "") or "").strip() for f in ADDRESS_FIELDS})


def _region_problem(address: AddressInput) -> str:
    """What to tell someone whose province / city / district is not a place: what to pick next."""
    if not address.province:
        return gettext("请选择省份")
    if not address.city:
        return gettext("请选择城市")
    if not address.district:
        return gettext("请选择区县")
    return gettext("省 / 市 / 区县不在行政区划表中")


def address_validate(address: AddressInput) -> None:
    errors: dict[str, list[str]] = {}
    if not 1 <= len(address.name) <= 30:
        errors["name"] = [gettext("请填写收件人姓名（30 字以内）")]
    if not phone_is_valid(address.phone):
        errors["phone"] = [gettext("请填写 11 位中国大陆手机号")]
    if not region_is_valid(address.province, address.city, address.district):
        errors["district"] = [_region_problem(address)]
    if not 4 <= len(address.detail) <= 120:
        errors["detail"] = [gettext("请填写详细地址（4 到 120 字）")]
    if errors:
        raise AppError(E.BAD_ADDRESS, gettext("地址信息有误"), fields=errors)


def claim_gift_get(*, token: str, for_card: bool = True) -> Gift:
    """The gift behind a claim link. Unpaid or cancelled gifts look the same as missing ones.

    `for_card`: with what the card shows (sender, product, shop, the named friend); accepting and
    declining read only the gift's own row."""
    if for_card:
        try:
            gift = Gift.objects.select_related("sender", "sku__product__shop", "named_recipient").get(claim_token=token)
        except Gift.DoesNotExist:
            gift = None
    else:  # the accept's hot path: a statement composed once (the token is unique)
        gift = get_row(Gift, {"claim_token": token})
    if gift is None or gift.status in GIFT_UNPAID:
        raise NotFound(gettext("礼物不存在或尚未支付"))
    return gift


def slot_for_recipient(*, gift: Gift, user) -> Slot | None:
    if user is None or not user.is_authenticated:
        return None
    return Slot.objects.filter(gift=gift, recipient=user).select_related("sku").first()


def claim_open(*, gift: Gift, user) -> None:
    """The recipient opened the card: the mode decides what the sender's tracker learns."""
    modes.of(gift).on_open(gift=gift, user=user)


def _choose_sku(*, gift: Gift, slot: Slot, sku_id: int | None) -> Sku | None:
    """Validate a switch of 款式; returns the new SKU, or None when the recipient keeps the paid one."""
    if sku_id is None or sku_id == slot.sku_id:
        return None
    if not gift.allow_sku_choice:
        raise AppError(E.SKU_CHOICE_NOT_ALLOWED, gettext("送礼人没有开放换款"))
    sku = Sku.objects.select_related("product__shop", "product__category__root").filter(pk=sku_id).first()
    if sku is None or sku.product_id != gift.sku.product_id or sku.price_fen > gift.unit_price_fen:
        raise AppError(
            E.SKU_NOT_ALLOWED,
            gettext("只能换成同一商品、价格不高于原款的款式"),
            fields={"sku_id": [gettext("只能换成同一商品、价格不高于原款的款式")]},
        )
    if not sku_eligibility(sku, quantity=gift.quantity).eligible:
        raise AppError(
            E.OUT_OF_STOCK,
            gettext("该款式暂不可选（缺货或不支持送礼）"),
            fields={"sku_id": [gettext("该款式暂不可选（缺货或不支持送礼）")]},
        )
    return sku


def slot_accept(
    *,
    gift: Gift,
    user,
    address: AddressInput,
    sku_id: int | None = None,
    save_address: bool = False,
    slot_token: str = "",
) -> Slot:
    """Record the recipient's acceptance and address; the worker processes it after commit.

    `slot_token`: bulk gifts, the personal link's token (the slot must be verified by code first)."""
    address_validate(address)
    if gift.status not in GIFT_CLAIMABLE:
        if gift.status == GiftStatus.EXPIRED or gift_is_past_expiry(gift):
            raise AppError(E.EXPIRED, gettext("礼物已过期"))
        raise AppError(E.NOT_CLAIMABLE, gettext("这份礼物已不能领取"))
    accept = dict(
        gift=gift, user=user, address=address, sku_id=sku_id, save_address=save_address, slot_token=slot_token
    )
    try:
        slot = _accept(**accept)
    except _TookAnotherSlot:
        # The account took a slot of this gift (a grab in another tab) while this accept held a free
        # one locked: everything here rolled back, and the accept goes to the account's own slot.
        try:
            slot = _accept(**accept)
        except _TookAnotherSlot as exc:
            raise AppError(E.ALREADY_TAKEN_BY_YOU, "你已经领过这份礼物了") from exc
    bind(gift_id=gift.pk, slot_id=slot.pk)
    log.info("claim accepted")
    return slot


class _TookAnotherSlot(Exception):
    """The accept's write met the one-slot-per-account constraint."""


def _accept(*, gift: Gift, user, address: AddressInput, sku_id, save_address: bool, slot_token: str) -> Slot:
    with transaction.atomic():
        slot = modes.of(gift).slot_to_accept(gift=gift, user=user, slot_token=slot_token)
        if slot.recipient_id not in (None, user.pk):
            raise AppError(E.TAKEN_BY_OTHER, gettext("礼物已被其他人收下"))
        if slot.status == SlotStatus.DECLINED:
            raise AppError(E.ALREADY_DECLINED, gettext("你已经拒收了这份礼物"))
        if slot.status in (SlotStatus.EXPIRED, SlotStatus.REFUNDED) or gift_is_past_expiry(gift):
            raise AppError(E.EXPIRED, gettext("礼物已过期"))
        if slot.status != SlotStatus.UNCLAIMED:
            raise AppError(E.ALREADY_ACCEPTED, gettext("你已经收下了这份礼物"))
        new_sku = _choose_sku(gift=gift, slot=slot, sku_id=sku_id)
        if new_sku is not None:
            # Reserve the new 款式 now so the answer is immediate; the worker releases the old one.
            stock_reserve(sku_id=new_sku.pk, quantity=gift.quantity)
            slot.sku = new_sku
        # A group slot may come free and locked (`slot_held_or_free`): the accept takes it with its write.
        slot.recipient = user
        slot.taken_at = slot.taken_at or timezone.now()
        if save_address:
            address_save(user=user, address=address)
        # The move, its event, the address and the worker's job: one statement on PostgreSQL.
        try:
            slot_transition(
                slot,
                SlotStatus.ACCEPTED,
                actor=user,
                data={"sku_id": slot.sku_id},
                locked=True,
                also=("recipient", "sku", "taken_at", "opened_at"),
                recount=False,  # process_claim counts the gift again once this commits, in its batch
                along=(
                    ShippingAddress(slot=slot, **address.__dict__),
                    enqueue_along("gifts.tasks.process_claim", slot.pk),
                ),
            )
        except IntegrityError as exc:
            if getattr(getattr(exc.__cause__, "diag", None), "constraint_name", "") == "slot_one_per_account":
                raise _TookAnotherSlot from exc
            raise
    return slot


def address_save(*, user, address: AddressInput) -> SavedAddress:
    for saved in SavedAddress.objects.filter(user=user):
        if all(getattr(saved, f) == getattr(address, f) for f in ADDRESS_FIELDS):
            return saved
    return SavedAddress.objects.create(user=user, **address.__dict__)


def slot_decline(*, gift: Gift, user, slot_token: str = "") -> Slot:
    """Single gift: decline it and refund the sender. Group gift: give your grabbed slot back."""
    mode = modes.of(gift)
    with transaction.atomic():
        if mode.decline_releases_slot():
            return mode.release(gift=gift, user=user)
        slot = modes.of(gift).slot_to_accept(gift=gift, user=user, slot_token=slot_token)
        if slot.status == SlotStatus.DECLINED:
            return slot
        if slot.status != SlotStatus.UNCLAIMED:
            raise AppError(E.ALREADY_ACCEPTED, gettext("礼物已收下，不能拒收"))
        if gift_is_past_expiry(gift):
            raise AppError(E.EXPIRED, gettext("礼物已过期"))
        slot.recipient = user
        slot.save(update_fields=["recipient"])
        slot_transition(slot, SlotStatus.DECLINED, actor=user)
        stock_release(sku_id=slot.sku_id, quantity=gift.quantity)
        refund_request(payment=gift.payment, slot=slot, amount_fen=gift.slot_amount_fen, reason=Refund.Reason.DECLINED)
        notify(
            user=gift.sender,
            kind=Notification.Kind.DECLINED,
            dedupe_key=f"declined:{slot.pk}",
            title=_("朋友婉拒了你的礼物，款项将原路退回"),
            link=gift.get_absolute_url(),
        )
    return slot


def slot_thank(*, slot: Slot, user, text: str) -> Slot:
    text = text.strip()
    if slot.recipient_id != user.pk:
        raise AppError(E.NOT_YOURS, gettext("只有收礼人可以答谢"))
    if not 1 <= len(text) <= 200:
        raise AppError(
            E.BAD_THANKS,
            gettext("答谢内容须在 1 到 200 字之间"),
            fields={"thanks": [gettext("答谢内容须在 1 到 200 字之间")]},
        )
    if slot.status in (SlotStatus.UNCLAIMED, SlotStatus.DECLINED, SlotStatus.EXPIRED):
        raise AppError(E.NOT_CLAIMABLE, gettext("收下礼物后才能答谢"))
    with transaction.atomic():
        first = not slot.thanks
        Slot.objects.filter(pk=slot.pk).update(thanks=text)
        slot.thanks = text
        thanks_event(slot=slot, actor=user)
        if first:
            notify(
                user=slot.gift.sender,
                kind=Notification.Kind.THANKS,
                dedupe_key=f"thanks:{slot.pk}",
                title=_("%(name)s 给你写了感谢") % {"name": user.get_full_name() or user.username},
                body=text,
                link=slot.gift.get_absolute_url(),
            )
    return slot


def slot_hand_over(*, slot_id: int) -> bool:
    """The worker's half of accepting: stock moves for a 款式 switch, the merchant's to-ship order,
    the sender's notice (never the address). Safe to run twice: only an `accepted` slot moves."""
    with transaction.atomic():
        slot = (
            Slot.objects.select_for_update(of=("self",))
            .select_related("gift__payment", "gift__sender", "sku__product")
            .get(pk=slot_id)
        )
        moved = slot.status == SlotStatus.ACCEPTED
        if moved:
            _hand_over(slot)
    # The accept left its gift's count after commit to this job (`slot_transition(recount=False)`):
    # counted here whether or not this run moved the slot, so a run again after a lost count makes it.
    gift_sync_if_behind(slot.gift_id)
    if moved:
        log.info("claim processed: to ship")
    return moved


def slot_hand_over_gave_up(slot_id: int, *, error: str = "") -> None:
    """The outbox gave the claim's job up: the gift's count, which the accept left to the job, is
    made all the same (the slot stays accepted; the operator sees the job among those that gave up)."""
    gift_id = Slot.objects.filter(pk=slot_id).values_list("gift_id", flat=True).first()
    if gift_id is not None:
        gift_sync_if_behind(gift_id)


def _hand_over(slot: Slot) -> None:
    """The hand-over of one accepted slot, inside the caller's transaction, under its row lock."""
    gift = slot.gift
    bind(gift_id=gift.pk, slot_id=slot.pk)
    slot_transition(slot, SlotStatus.PROCESSING)
    if slot.sku_id != gift.sku_id:
        stock_release(sku_id=gift.sku_id, quantity=gift.quantity)
        difference = (gift.unit_price_fen - slot.sku.price_fen) * gift.quantity
        refund_request(payment=gift.payment, slot=slot, amount_fen=difference, reason=Refund.Reason.PRICE_DIFFERENCE)
    slot_transition(slot, SlotStatus.TO_SHIP)
    notify_many(notes=hand_over_notes([slot]))
    enqueue("fulfilment.tasks.dispatch_shipment", slot.pk)

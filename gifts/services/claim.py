"""The recipient's half: open, grab (group), accept with an address, decline, thank.

Accepting records the claim and returns fast; a worker (`claim_process`) does the rest. The
accepted row itself is the outbox: a claim whose task was lost (broker down) is found again by
`claims_requeue_stale` and processed once the broker is back.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass
from typing import NoReturn

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from giftshop.errors import AppError, Conflict, NotFound
from giftshop.logs import bind
from shops.eligibility import sku_eligibility
from shops.models import ShopStaff, Sku
from shops.services import stock_release, stock_reserve

from .. import error_codes as E
from ..models import Gift, GiftEvent, GiftStatus, Refund, SavedAddress, ShippingAddress, Slot, SlotStatus
from ..regions import phone_is_valid, region_is_valid
from ..states import slot_transition
from .notifications import notify
from .payment import refund_request

log = logging.getLogger(__name__)

CLAIMABLE = (GiftStatus.SENT, GiftStatus.PARTLY_CLAIMED)
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


def address_validate(address: AddressInput) -> None:
    errors: dict[str, list[str]] = {}
    if not 1 <= len(address.name) <= 30:
        errors["name"] = ["请填写收件人姓名（30 字以内）"]
    if not phone_is_valid(address.phone):
        errors["phone"] = ["请填写 11 位中国大陆手机号"]
    if not region_is_valid(address.province, address.city, address.district):
        errors["district"] = ["省 / 市 / 区县不在行政区划表中"]
    if not 4 <= len(address.detail) <= 120:
        errors["detail"] = ["请填写详细地址（4 到 120 字）"]
    if errors:
        raise AppError(E.BAD_ADDRESS, "地址信息有误", fields=errors)


def claim_gift_get(*, token: str) -> Gift:
    """The gift behind a claim link. Unpaid or cancelled gifts look the same as missing ones."""
    gift = (
        Gift.objects.select_related("sender", "sku__product__shop", "named_recipient")
        .filter(claim_token=token)
        .exclude(status__in=[GiftStatus.PENDING_PAYMENT, GiftStatus.CANCELLED])
        .first()
    )
    if gift is None:
        raise NotFound("礼物不存在或尚未支付")
    return gift


def _is_expired(gift: Gift) -> bool:
    return gift.expires_at is not None and gift.expires_at <= timezone.now()


def slot_for_recipient(*, gift: Gift, user) -> Slot | None:
    if user is None or not user.is_authenticated:
        return None
    return Slot.objects.filter(gift=gift, recipient=user).select_related("sku").first()


def claim_open(*, gift: Gift, user) -> None:
    """Stamp the first time a recipient opens a single gift, for the sender's tracker."""
    if gift.mode == Gift.Mode.SINGLE and (gift.named_recipient_id in (None, user.pk)):
        Slot.objects.filter(gift=gift, opened_at__isnull=True).update(opened_at=timezone.now())


def slot_grab(*, gift: Gift, user) -> Slot:
    """Take one slot of a group gift for this account: first come, first served, one per account.

    One statement, its own transaction: `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED)
    RETURNING`, so grabbers never queue on each other's rows and no lock outlives the statement;
    the (gift, recipient) unique constraint settles a same-account race.
    """
    if gift.mode != Gift.Mode.GROUP:
        raise AppError(E.NOT_GROUP, "只有群发礼物需要先抢")
    if gift.sender_id == user.pk:
        raise AppError(E.NOT_YOURS, "不能领取自己送出的礼物", status_code=403)
    if _is_expired(gift) or gift.status == GiftStatus.EXPIRED:
        raise AppError(E.EXPIRED, "礼物已过期", status_code=410)
    # The hot path asks nothing more before taking a slot: a second slot for the same account is
    # refused by the (gift, recipient) unique constraint, and "already yours" is told apart from
    # "all taken" only when taking fails.
    if gift.status not in CLAIMABLE:
        _refuse_grab(gift=gift, user=user)
    for skip_locked in (True, False, False):
        try:
            slot = _take_free_slot(gift=gift, user=user, skip_locked=skip_locked)
        except IntegrityError as exc:
            raise Conflict(E.ALREADY_TAKEN_BY_YOU, "你已经领过这份礼物了") from exc
        if slot is not None:
            return slot
        # Nothing free was unlocked. Free rows may still exist, locked by grabbers whose
        # transaction could yet roll back: wait for one of them (no SKIP LOCKED) before saying so.
        if not Slot.objects.filter(gift=gift, recipient__isnull=True, status=SlotStatus.UNCLAIMED).exists():
            break
    _refuse_grab(gift=gift, user=user)


def _take_free_slot(*, gift: Gift, user, skip_locked: bool) -> Slot | None:
    """Give the first free slot to `user` in one statement; None when no free slot was taken."""
    features = connection.features
    lock = ""
    if features.has_select_for_update:
        lock = "FOR UPDATE SKIP LOCKED" if skip_locked and features.has_select_for_update_skip_locked else "FOR UPDATE"
    table = connection.ops.quote_name(Slot._meta.db_table)
    sql = (
        f"UPDATE {table} SET recipient_id = %s, taken_at = %s, opened_at = %s "  # noqa: S608 (no user input)
        f"WHERE id = (SELECT id FROM {table} WHERE gift_id = %s AND recipient_id IS NULL AND status = %s "
        f"ORDER BY number LIMIT 1 {lock}) RETURNING id, sku_id"
    )
    now = timezone.now()
    # Inside a caller's transaction (accept grabs on the way) a refusal must not break it: savepoint.
    guard = transaction.atomic() if connection.in_atomic_block else nullcontext()
    with guard, connection.cursor() as cursor:
        cursor.execute(sql, [user.pk, now, now, gift.pk, SlotStatus.UNCLAIMED])
        row = cursor.fetchone()
    if row is None:
        return None
    return Slot(
        pk=row[0], gift=gift, sku_id=row[1], recipient=user, status=SlotStatus.UNCLAIMED, taken_at=now, opened_at=now
    )


def _refuse_grab(*, gift: Gift, user) -> NoReturn:
    if Slot.objects.filter(gift=gift, recipient=user).exists():
        raise Conflict(E.ALREADY_TAKEN_BY_YOU, "你已经领过这份礼物了")
    raise Conflict(E.ALL_TAKEN, "手慢了，礼物已被领完")


def _slot_to_accept(*, gift: Gift, user, slot_token: str = "") -> Slot:
    if gift.mode == Gift.Mode.LOTTERY:
        # Winners' slots were given to their accounts by the draw; nobody else has one.
        slot = Slot.objects.select_for_update(of=("self",)).select_related("sku").filter(gift=gift, recipient=user)
        if (slot := slot.first()) is None:
            raise AppError(E.NOT_A_WINNER, "只有中奖的朋友可以领取", status_code=403)
        return slot
    if gift.mode == Gift.Mode.BULK:
        from .bulk import bulk_slot_for_accept

        return bulk_slot_for_accept(gift=gift, user=user, token=slot_token)
    if gift.mode == Gift.Mode.GROUP:
        slot = Slot.objects.filter(gift=gift, recipient=user).first()
        if slot is None:
            slot = slot_grab(gift=gift, user=user)
        return Slot.objects.select_for_update(of=("self",)).select_related("sku").get(pk=slot.pk)
    if gift.named_recipient_id and gift.named_recipient_id != user.pk:
        raise AppError(E.NOT_YOURS, "这份礼物是送给另一位朋友的", status_code=403)
    if gift.sender_id == user.pk:
        raise AppError(E.NOT_YOURS, "不能领取自己送出的礼物", status_code=403)
    return Slot.objects.select_for_update(of=("self",)).select_related("sku").get(gift=gift, number=1)


def _choose_sku(*, gift: Gift, slot: Slot, sku_id: int | None) -> Sku | None:
    """Validate a switch of 款式; returns the new SKU, or None when the recipient keeps the paid one."""
    if sku_id is None or sku_id == slot.sku_id:
        return None
    if not gift.allow_sku_choice:
        raise AppError(E.SKU_CHOICE_NOT_ALLOWED, "送礼人没有开放换款")
    sku = Sku.objects.select_related("product__shop", "product__category__root").filter(pk=sku_id).first()
    if sku is None or sku.product_id != gift.sku.product_id or sku.price_fen > gift.unit_price_fen:
        raise AppError(E.SKU_NOT_ALLOWED, "只能换成同一商品、价格不高于原款的款式", fields={"sku_id": ["not allowed"]})
    if not sku_eligibility(sku, quantity=gift.quantity).eligible:
        raise AppError(E.OUT_OF_STOCK, "该款式暂不可选（缺货或不支持送礼）", fields={"sku_id": ["unavailable"]})
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
    if gift.status not in CLAIMABLE and gift.status != GiftStatus.CLAIMED:
        if gift.status == GiftStatus.EXPIRED or _is_expired(gift):
            raise AppError(E.EXPIRED, "礼物已过期", status_code=410)
        raise AppError(E.NOT_CLAIMABLE, "这份礼物已不能领取", status_code=409)
    with transaction.atomic():
        slot = _slot_to_accept(gift=gift, user=user, slot_token=slot_token)
        if slot.recipient_id not in (None, user.pk):
            raise Conflict(E.TAKEN_BY_OTHER, "礼物已被其他人收下")
        if slot.status == SlotStatus.DECLINED:
            raise Conflict(E.ALREADY_DECLINED, "你已经拒收了这份礼物")
        if slot.status in (SlotStatus.EXPIRED, SlotStatus.REFUNDED) or _is_expired(gift):
            raise AppError(E.EXPIRED, "礼物已过期", status_code=410)
        if slot.status != SlotStatus.UNCLAIMED:
            raise Conflict(E.ALREADY_ACCEPTED, "你已经收下了这份礼物")
        new_sku = _choose_sku(gift=gift, slot=slot, sku_id=sku_id)
        if new_sku is not None:
            # Reserve the new 款式 now so the answer is immediate; the worker releases the old one.
            stock_reserve(sku_id=new_sku.pk, quantity=gift.quantity)
            slot.sku = new_sku
        slot.recipient = user
        slot.taken_at = slot.taken_at or timezone.now()
        slot.save(update_fields=["recipient", "sku", "taken_at"])
        ShippingAddress.objects.create(slot=slot, **address.__dict__)
        if save_address:
            address_save(user=user, address=address)
        slot_transition(slot, SlotStatus.ACCEPTED, actor=user, data={"sku_id": slot.sku_id})
        transaction.on_commit(lambda: enqueue_claim_processing(slot.pk))
    bind(gift_id=gift.pk, slot_id=slot.pk)
    log.info("claim accepted")
    return slot


def address_save(*, user, address: AddressInput) -> SavedAddress:
    for saved in SavedAddress.objects.filter(user=user):
        if all(getattr(saved, f) == getattr(address, f) for f in ADDRESS_FIELDS):
            return saved
    return SavedAddress.objects.create(user=user, **address.__dict__)


def enqueue_claim_processing(slot_id: int) -> None:
    """Hand a claim to the workers. If the broker is down the claim stays `accepted` and the
    requeue sweep hands it over later: nothing is lost, nothing fails for the recipient."""
    from ..tasks import process_claim

    try:
        process_claim.delay(slot_id)
    except Exception:  # noqa: BLE001 (any broker error: the row is the outbox)
        log.warning("broker unavailable; claim slot=%s left for the requeue sweep", slot_id, exc_info=True)


def slot_decline(*, gift: Gift, user, slot_token: str = "") -> Slot:
    """Single gift: decline it and refund the sender. Group gift: give your grabbed slot back."""
    with transaction.atomic():
        if gift.mode == Gift.Mode.GROUP:
            slot = Slot.objects.select_for_update().filter(gift=gift, recipient=user).first()
            if slot is None or slot.status != SlotStatus.UNCLAIMED:
                raise Conflict(E.NOT_CLAIMABLE, "没有可以退回的礼物")
            slot.recipient, slot.taken_at = None, None
            slot.save(update_fields=["recipient", "taken_at"])
            GiftEvent.objects.create(gift=gift, slot=slot, kind="grab_released", actor=user)
            return slot
        slot = _slot_to_accept(gift=gift, user=user, slot_token=slot_token)
        if slot.status == SlotStatus.DECLINED:
            return slot
        if slot.status != SlotStatus.UNCLAIMED:
            raise Conflict(E.ALREADY_ACCEPTED, "礼物已收下，不能拒收")
        if _is_expired(gift):
            raise AppError(E.EXPIRED, "礼物已过期", status_code=410)
        slot.recipient = user
        slot.save(update_fields=["recipient"])
        slot_transition(slot, SlotStatus.DECLINED, actor=user)
        stock_release(sku_id=slot.sku_id, quantity=gift.quantity)
        refund_request(payment=gift.payment, slot=slot, amount_fen=gift.slot_amount_fen, reason=Refund.Reason.DECLINED)
        notify(
            user=gift.sender,
            kind="declined",
            dedupe_key=f"declined:{slot.pk}",
            title=_("朋友婉拒了你的礼物，款项将原路退回"),
            link=gift.get_absolute_url(),
        )
    return slot


def slot_thank(*, slot: Slot, user, text: str) -> Slot:
    text = text.strip()
    if slot.recipient_id != user.pk:
        raise AppError(E.NOT_YOURS, "只有收礼人可以答谢", status_code=403)
    if not 1 <= len(text) <= 200:
        raise AppError("bad_thanks", "答谢内容须在 1 到 200 字之间", fields={"thanks": ["1-200"]})
    if slot.status in (SlotStatus.UNCLAIMED, SlotStatus.DECLINED, SlotStatus.EXPIRED):
        raise Conflict(E.NOT_CLAIMABLE, "收下礼物后才能答谢")
    with transaction.atomic():
        first = not slot.thanks
        Slot.objects.filter(pk=slot.pk).update(thanks=text)
        slot.thanks = text
        GiftEvent.objects.create(gift_id=slot.gift_id, slot=slot, kind="thanks", actor=user)
        if first:
            notify(
                user=slot.gift.sender,
                kind="thanks",
                dedupe_key=f"thanks:{slot.pk}",
                title=_("%(name)s 给你写了感谢") % {"name": user.get_full_name() or user.username},
                body=text,
                link=slot.gift.get_absolute_url(),
            )
    return slot


def claim_process(*, slot_id: int) -> bool:
    """The worker's half of accepting: stock moves for a 款式 switch, the merchant's to-ship order,
    the sender's notice (never the address). Safe to run twice: only an `accepted` slot moves."""
    with transaction.atomic():
        slot = (
            Slot.objects.select_for_update(of=("self",))
            .select_related("gift__payment", "gift__sender", "sku__product")
            .get(pk=slot_id)
        )
        if slot.status != SlotStatus.ACCEPTED:
            return False
        gift = slot.gift
        bind(gift_id=gift.pk, slot_id=slot.pk)
        slot_transition(slot, SlotStatus.PROCESSING)
        if slot.sku_id != gift.sku_id:
            stock_release(sku_id=gift.sku_id, quantity=gift.quantity)
            difference = (gift.unit_price_fen - slot.sku.price_fen) * gift.quantity
            refund_request(
                payment=gift.payment, slot=slot, amount_fen=difference, reason=Refund.Reason.PRICE_DIFFERENCE
            )
        slot_transition(slot, SlotStatus.TO_SHIP)
        notify(
            user=gift.sender,
            kind="accepted",
            dedupe_key=f"accepted:{slot.pk}",
            title=_("朋友收下了你的礼物：%(title)s") % {"title": slot.sku.product.title},
            body=_("商家将尽快发货。"),
            link=gift.get_absolute_url(),
        )
        notify(
            user=slot.recipient,
            kind="accepted",
            dedupe_key=f"accepted:{slot.pk}:recipient",
            title=_("你已收下礼物：%(title)s") % {"title": slot.sku.product.title},
            body=_("商家发货后可以在「我收到的礼物」里查看物流。"),
            link="/received/",
        )
        for member in ShopStaff.objects.filter(shop_id=gift.shop_id).select_related("user"):
            notify(
                user=member.user,
                kind="to_ship",
                dedupe_key=f"to_ship:{slot.pk}:{member.user_id}",
                title=_("新的待发货礼物订单 #%(no)s：%(title)s") % {"no": slot.pk, "title": slot.sku.product.title},
                link=f"/merchant/gifts/slot/{slot.pk}/change/",
            )
        from ..tasks import dispatch_shipment

        transaction.on_commit(lambda: dispatch_shipment.delay(slot.pk))
    log.info("claim processed: to ship")
    return True


def claims_requeue_stale(*, older_than, limit: int = 1000) -> int:
    """Find accepted claims whose task never ran (broker was down, worker died) and enqueue them again."""
    cutoff = timezone.now() - older_than
    ids = list(
        Slot.objects.filter(status=SlotStatus.ACCEPTED, status_changed_at__lte=cutoff)
        .order_by("status_changed_at")
        .values_list("pk", flat=True)[:limit]
    )
    for slot_id in ids:
        enqueue_claim_processing(slot_id)
    return len(ids)

"""The group grab (群发礼物): first come, first served, one slot per account.

Kept apart from the rest of the claim so the hot path reads in one place.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import NoReturn

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from giftshop.errors import AppError

from .. import error_codes as E
from ..models import GIFT_OPEN, Gift, GiftStatus, Slot, SlotStatus


def gift_is_past_expiry(gift: Gift) -> bool:
    return gift.expires_at is not None and gift.expires_at <= timezone.now()


def slot_grab(*, gift: Gift, user) -> Slot:
    """Take one slot of a group gift for this account: first come, first served, one per account.

    One statement, its own transaction: `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED)
    RETURNING`, so grabbers never queue on each other's rows and no lock outlives the statement;
    the (gift, recipient) unique constraint settles a same-account race.
    """
    if gift.mode != Gift.Mode.GROUP:
        raise AppError(E.NOT_GROUP, "只有群发礼物需要先抢")
    if gift.sender_id == user.pk:
        raise AppError(E.NOT_YOURS, "不能领取自己送出的礼物")
    if gift_is_past_expiry(gift) or gift.status == GiftStatus.EXPIRED:
        raise AppError(E.EXPIRED, "礼物已过期")
    # The hot path asks nothing more before taking a slot: a second slot for the same account is
    # refused by the (gift, recipient) unique constraint, and "already yours" is told apart from
    # "all taken" only when taking fails.
    if gift.status not in GIFT_OPEN:
        _refuse_grab(gift=gift, user=user)
    for skip_locked in (True, False, False):
        try:
            slot = _take_free_slot(gift=gift, user=user, skip_locked=skip_locked)
        except IntegrityError as exc:
            raise AppError(E.ALREADY_TAKEN_BY_YOU, "你已经领过这份礼物了") from exc
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
        raise AppError(E.ALREADY_TAKEN_BY_YOU, "你已经领过这份礼物了")
    raise AppError(E.ALL_TAKEN, "手慢了，礼物已被领完")

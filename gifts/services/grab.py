"""The group grab (群发礼物): first come, first served, one slot per account.

Kept apart from the rest of the claim so the hot path reads in one place.
"""

from __future__ import annotations

import hashlib
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import NoReturn

from django.conf import settings
from django.core.cache import caches
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.utils import timezone

from giftshop.errors import AppError, NotFound
from giftshop.rows import row_shape, row_to_instance, sql_literal, statement_cursor
from giftshop.token_auth import account_from_redis, token_redis_keys
from outbox.jobs import enqueue

from .. import error_codes as E
from ..models import GIFT_OPEN, GIFT_UNPAID, Gift, GiftStatus, Slot, SlotStatus
from . import grab_gate
from .grab_gate import Verdict


def gift_is_past_expiry(gift: Gift) -> bool:
    return gift.expires_at is not None and gift.expires_at <= timezone.now()


@dataclass(frozen=True)
class GateLook:
    """What the grab gate said of an account and a gift, looked up together with its API token."""

    gift: Gift
    verdict: Verdict | None  # ALL_TAKEN or MINE; None: the grab goes on to ask the gate for a slot


def grab_by_token(*, token: str, user, looked: GateLook | None = None) -> Slot:
    """The grab endpoint: the gift's few facts from the cache, then the gate, then the database.

    A refusal the gate can give (`all_taken`, `already_taken_by_you`) costs no database statement.
    `looked`: the gift and the gate's answer, looked up already with the token (`grab_authenticate`)."""
    if looked is not None:
        return slot_grab(gift=looked.gift, user=user, refused=looked.verdict)
    return slot_grab(gift=_gift_facts(token), user=user)


def grab_authenticate(*, claim_token: str, api_token: str) -> tuple[object, GateLook] | None:
    """Who is grabbing and whether the gate refuses them, in one round trip to Redis that takes nothing:
    the gate's script reads the account from the API token's cache entry (the gate's Redis is the
    shared cache's). The account, and what the gate said for `grab_by_token` (its verdict None: the
    grab goes on and asks the gate for a slot after the request's rate limits). None: check the token
    the usual way (the cache does not hold it yet, a gate elsewhere or down, a gift the grab refuses
    before its gate)."""
    keys = token_redis_keys(api_token) if grab_gate.gate_shares_cache() else None
    if keys is None:
        return None
    try:
        gift = _gift_facts(claim_token)
    except NotFound:
        return None  # the usual way answers 404
    if gift.mode != Gift.Mode.GROUP or gift_is_past_expiry(gift) or gift.status not in GIFT_OPEN:
        return None  # refused before the gate: the usual way says why
    looked = grab_gate.gate_look_as(gift.pk, gift.sender_id, keys)
    if looked is None:
        return None
    verdict, entry, account_id = looked
    user = account_from_redis(entry)
    if user is None or user.pk != account_id:  # an entry written for other columns: a miss
        return None
    return user, GateLook(gift=gift, verdict=verdict)


# The columns a grab reads (attribute names, in the model's order for Gift.from_db).
_FACTS = ("id", "sender_id", "mode", "recipients_count", "status", "expires_at")


def _gift_facts(token: str) -> Gift:
    """A Gift carrying only what the grab reads, cached briefly per claim link in this process. Stale
    facts answer the same: a gift that stopped being open has no free slot, which the gate or the
    database finds; mode, sender and expiry never change. Built as the ORM builds a row it loaded
    (`from_db`): the other columns are deferred (read from the database if anything asked), not
    filled with defaults."""
    key = "grab-facts:" + hashlib.sha256(token.encode()).hexdigest()[:40]
    local = caches["local" if "local" in settings.CACHES else "default"]
    facts = local.get(key)
    if facts is None:
        row = Gift.objects.filter(claim_token=token).exclude(status__in=GIFT_UNPAID).values_list(*_FACTS).first()
        if row is None:
            raise NotFound("礼物不存在或尚未支付")
        expires_at = row[-1]
        facts = (*row[:-1], None if expires_at is None else expires_at.timestamp())  # a float pickles cheaper
        local.set(key, facts, settings.GRAB_FACTS_CACHE_SECONDS)
    expires_at = facts[-1]
    return Gift.from_db(
        DEFAULT_DB_ALIAS,
        _FACTS,
        (*facts[:-1], None if expires_at is None else datetime.fromtimestamp(expires_at, tz=UTC)),
    )


def slot_grab(*, gift: Gift, user, savepoint: bool = True, refused: Verdict | None = None) -> Slot:
    """Take one slot of a group gift for this account: first come, first served, one per account.

    One statement, its own transaction: `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED)
    RETURNING`, so grabbers never queue on each other's rows and no lock outlives the statement;
    the (gift, recipient) unique constraint settles a same-account race.

    Inside a caller's transaction the statement runs in a savepoint, so that a refusal leaves the
    caller's transaction usable; `savepoint=False` for a caller whose transaction ends on a refusal.

    `refused`: the gate's refusal for this account, looked up already (`grab_authenticate`).
    """
    _grab_check(gift=gift, user=user)
    if connection.in_atomic_block:
        # Inside a caller's transaction (accept grabs on the way), which may yet roll back: the gate
        # would remember a win the database forgot. The database decides; the gate may over-count.
        return _grab_in_database(gift=gift, user=user, savepoint=savepoint)
    verdict = refused if refused is not None else grab_gate.gate_try(gift.pk, user.pk)
    if verdict is Verdict.MISSING:
        built = grab_gate.gate_build(gift.pk, lambda: _gate_state(gift.pk))
        verdict = grab_gate.gate_try(gift.pk, user.pk) if built else Verdict.OFF
    if verdict is Verdict.ALL_TAKEN:
        raise AppError(E.ALL_TAKEN, "手慢了，礼物已被领完")
    if verdict is Verdict.MINE:
        raise AppError(E.ALREADY_TAKEN_BY_YOU, "你已经领过这份礼物了")
    if verdict is Verdict.WIN:
        return _grab_after_win(gift=gift, user=user)
    return _grab_in_database(gift=gift, user=user)  # MISSING after a failed build, or OFF


def _grab_check(*, gift: Gift, user) -> None:
    """The refusals a grab gives before any slot is looked at."""
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


def _grab_after_win(*, gift: Gift, user) -> Slot:
    """The gate let this account through: take a slot in the database, and undo the win if the
    database says otherwise."""
    try:
        return _grab_in_database(gift=gift, user=user)
    except AppError as exc:
        if exc.code == E.ALREADY_TAKEN_BY_YOU:
            raise  # true: the account holds a slot, and stays in the gate's set
        # None free after all: the gate over-counted. Build it again from the database.
        grab_gate.gate_undo(gift.pk, user.pk, slot_back=False)
        grab_gate.gate_drop(gift.pk)
        raise
    except BaseException:
        grab_gate.gate_undo(gift.pk, user.pk, slot_back=True)
        raise


def grab_slot_freed(gift_id: int) -> None:
    """A slot of this gift went back to the pool (call inside the transaction that freed it): the gate
    is dropped once that commits, and an outbox job drops it again until Redis has heard it."""
    transaction.on_commit(lambda: grab_gate.gate_drop(gift_id))
    if settings.GRAB_GATE_URL:
        enqueue("gifts.tasks.grab_gate_drop", gift_id)


def _gate_state(gift_id: int) -> tuple[int, list[int]]:
    """What the gate is built from: free slots, and every account that holds one."""
    free = Slot.objects.filter(gift_id=gift_id, recipient__isnull=True, status=SlotStatus.UNCLAIMED).count()
    holders = list(Slot.objects.filter(gift_id=gift_id, recipient__isnull=False).values_list("recipient_id", flat=True))
    return free, holders


def _grab_in_database(*, gift: Gift, user, savepoint: bool = True) -> Slot:
    for skip_locked in (True, False, False):
        try:
            slot = _take_free_slot(gift=gift, user=user, skip_locked=skip_locked, savepoint=savepoint)
        except IntegrityError as exc:
            raise AppError(E.ALREADY_TAKEN_BY_YOU, "你已经领过这份礼物了") from exc
        if slot is not None:
            return slot
        # Nothing free was unlocked. Free rows may still exist, locked by grabbers whose
        # transaction could yet roll back: wait for one of them (no SKIP LOCKED) before saying so.
        if not Slot.objects.filter(gift=gift, recipient__isnull=True, status=SlotStatus.UNCLAIMED).exists():
            break
    _refuse_grab(gift=gift, user=user)


def _take_free_slot(*, gift: Gift, user, skip_locked: bool, savepoint: bool = True) -> Slot | None:
    """Give the first free slot to `user` in one statement; None when no free slot was taken."""
    sql, attnames, converters = _take_statement(connection.alias, skip_locked=skip_locked)
    now = timezone.now()
    # Inside a caller's transaction (accept grabs on the way) a refusal must not break it: savepoint.
    guard = transaction.atomic() if savepoint and connection.in_atomic_block else nullcontext()
    with guard, statement_cursor(connection.alias) as cursor:
        cursor.execute(sql, [user.pk, now, now, gift.pk])
        row = cursor.fetchone()
    if row is None:
        return None
    # The whole row as the statement left it (an accept goes on with it, under the lock it took).
    slot = row_to_instance(Slot, attnames, converters, row, connection.alias)
    slot.gift, slot.recipient = gift, user
    return slot


@cache
def _take_statement(alias: str, *, skip_locked: bool) -> tuple[str, list[str], list[tuple]]:
    """The take's SQL for this database, the attributes it returns, and for each returned column what
    converts it as a query would (the backend's converters take the column expression). Built once
    per process: composing it cost a won grab more than the rest of its Python."""
    conn = connections[alias]
    features = conn.features
    lock = ""
    if features.has_select_for_update:
        lock = "FOR UPDATE SKIP LOCKED" if skip_locked and features.has_select_for_update_skip_locked else "FOR UPDATE"
    table, columns, attnames, converters = row_shape(Slot, alias)
    sql = (
        f"UPDATE {table} SET recipient_id = %s, taken_at = %s, opened_at = %s "  # noqa: S608 (no user input)
        f"WHERE id = (SELECT id FROM {table} WHERE gift_id = %s AND recipient_id IS NULL "
        f"AND status = {sql_literal(SlotStatus.UNCLAIMED)} "
        f"ORDER BY number LIMIT 1 {lock}) RETURNING {columns}"
    )
    return sql, attnames, converters


def held_or_free_applies(*, gift: Gift, user) -> bool:
    """Whether an accept looks for its slot with `slot_held_or_free`: on PostgreSQL (the demo's
    SQLite has no row locks: there the grab's guarded `UPDATE` takes a free slot), for an account
    that may grab, while the gift has slots to grab."""
    return connection.vendor == "postgresql" and gift.sender_id != user.pk and gift.status in GIFT_OPEN


def slot_held_or_free(*, gift: Gift, user) -> Slot | None:
    """For an accept (inside its transaction, PostgreSQL): the slot this account holds, else the first
    free slot, locked, in one statement; None when neither (the grab's own path then decides why).

    A free slot is only locked here, not taken: the accept's one write gives it to the account, so
    the slot's row is written once instead of twice (each write of it touches every index of the
    table). Other grabbers skip the locked row as they skip one being taken; the (gift, recipient)
    unique constraint still refuses a second slot to an account taking one elsewhere meanwhile. A
    `WITH` query that locks rows runs only as far as the outer query reads it, so the free slot is
    looked at (and locked) only when the account holds none. Only where `held_or_free_applies`."""
    sql, attnames, converters = _held_or_free_statement(connection.alias)
    with statement_cursor(connection.alias) as cursor:
        cursor.execute(sql, [gift.pk, user.pk, gift.pk])
        row = cursor.fetchone()
    if row is None:
        return None
    slot = row_to_instance(Slot, attnames, converters, row, connection.alias)
    slot.gift = gift
    if slot.recipient_id is None:  # stamped now, as the grab's UPDATE stamps it; the accept writes it
        slot.opened_at = timezone.now()
    return slot


@cache
def _held_or_free_statement(alias: str) -> tuple[str, list[str], list[tuple]]:
    table, columns, attnames, converters = row_shape(Slot, alias)
    sql = (
        f"WITH held AS (SELECT {columns} FROM {table} WHERE gift_id = %s AND recipient_id = %s FOR UPDATE), "  # noqa: S608
        f"free AS (SELECT {columns} FROM {table} WHERE gift_id = %s AND recipient_id IS NULL "
        f"AND status = {sql_literal(SlotStatus.UNCLAIMED)} "
        f"ORDER BY number LIMIT 1 FOR UPDATE SKIP LOCKED) "
        f"SELECT * FROM held UNION ALL SELECT * FROM free LIMIT 1"
    )
    return sql, attnames, converters


def _refuse_grab(*, gift: Gift, user) -> NoReturn:
    if Slot.objects.filter(gift=gift, recipient=user).exists():
        raise AppError(E.ALREADY_TAKEN_BY_YOU, "你已经领过这份礼物了")
    raise AppError(E.ALL_TAKEN, "手慢了，礼物已被领完")

"""The one place where gift and slot statuses change.

Every change goes through `slot_transition` (or its bulk twin for sweeps) and `gift_transition`:
lock the row, refuse an illegal move with a coded error, return quietly when the row is already
where it should be, stamp the time, write a GiftEvent. The gift's status after payment follows
from its slots (`gift_sync`), so it can never disagree with them for longer than a commit (after
an accept: than the accept's job, below).

No hot row: a slot's move does not lock its gift unless the gift's status changes. Most moves
cannot change it (a slot going from accepted to shipped stays in the same `_KIND`); the others
count the gift's slots without a lock and lock the gift only when the count says its status moves.
That count cannot see other slots' moves that are not committed yet, so after commit every such
move counts again (`gift_sync_if_behind`): whichever of several concurrent moves commits last sees
them all. An accept leaves that second count to its own `process_claim` job, which counts the
gifts of its batch again once they are committed (`slot_transition(recount=False)`): until that job
has run (about a second with a worker running), a status that concurrent accepts changed may lag.
A process that dies between its commit and that second count leaves the status behind until the
gift's next move, or the worker's `process_claim`, which counts again too.

The gift's row is locked `FOR NO KEY UPDATE` (status is not a key): a plain `FOR UPDATE` would also
stop every other transaction that inserts a row pointing at the gift (an event, an address) at its
foreign-key check until the lock is gone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from functools import cache

from django.db import connection, transaction
from django.db.models import Count, Model
from django.utils import timezone

from gifts import error_codes as E
from gifts.models import GIFT_UNPAID, SLOT_IN_PROGRESS, Gift, GiftEvent, GiftStatus, Slot, SlotStatus
from giftshop.errors import AppError
from giftshop.rows import write_rows

S = SlotStatus
G = GiftStatus

SLOT_TRANSITIONS: dict[str, set[str]] = {
    S.UNCLAIMED: {S.ACCEPTED, S.DECLINED, S.EXPIRED, S.REFUNDED},
    S.ACCEPTED: {S.PROCESSING},
    S.PROCESSING: {S.TO_SHIP},
    S.TO_SHIP: {S.SHIPPED, S.REFUNDED},
    S.SHIPPED: {S.DELIVERED, S.REFUNDED},
    S.DELIVERED: {S.REFUNDED},
    S.DECLINED: {S.REFUNDED},
    S.EXPIRED: {S.REFUNDED},
    S.REFUNDED: set(),
}

GIFT_TRANSITIONS: dict[str, set[str]] = {
    G.PENDING_PAYMENT: {G.SENT, G.CANCELLED},
    G.CANCELLED: set(),
    G.SENT: {G.PARTLY_CLAIMED, G.CLAIMED, G.FINISHED, G.EXPIRED, G.REFUNDED},
    G.PARTLY_CLAIMED: {G.CLAIMED, G.FINISHED, G.EXPIRED, G.REFUNDED},
    G.CLAIMED: {G.FINISHED, G.EXPIRED, G.REFUNDED},
    G.EXPIRED: {G.REFUNDED, G.FINISHED},
    G.FINISHED: {G.REFUNDED},
    G.REFUNDED: set(),
}

# What a gift's status reads from a slot (`derive_gift_status`): a move within one kind cannot change it.
_KIND = {
    S.UNCLAIMED: "unclaimed",
    **dict.fromkeys((*SLOT_IN_PROGRESS, S.DECLINED), "taken"),
    S.DELIVERED: "delivered",
    S.EXPIRED: "expired",
    S.REFUNDED: "refunded",
}

# Slot status -> the timestamp field stamped on entering it.
_STAMPS = {S.ACCEPTED: "accepted_at", S.SHIPPED: "shipped_at", S.DELIVERED: "delivered_at"}

ILLEGAL = E.ILLEGAL_TRANSITION


def _refuse(kind: str, obj_id: int, current: str, target: str) -> AppError:
    return AppError(ILLEGAL, f"{kind} {obj_id} cannot move from {current} to {target}.")


def slot_transition(
    slot: Slot | int,
    target: str,
    *,
    actor=None,
    data: dict | None = None,
    expect: Iterable[str] | None = None,
    locked: bool = False,
    also: Iterable[str] = (),
    along: Sequence[Model] = (),
    recount: bool = True,
) -> tuple[Slot, bool]:
    """Move one slot to `target`. Returns (slot, changed). Idempotent: already there -> (slot, False).

    `expect`, when given, narrows the statuses the move may start from (e.g. only `to_ship` for a
    manual ship), on top of the transition table.

    `locked`: the caller read `slot` under its row lock in the transaction it is in now, so the move
    neither reads it again nor opens a savepoint (a refusal rolls the caller's transaction back);
    `also` names more of its fields to save in the same statement (the accept's recipient and 款式),
    `along` unsaved rows to insert with the move (the accept's address and outbox job): on PostgreSQL
    the move, its event and those rows are one statement (`giftshop.rows.write_rows`).

    `recount=False`: the gift's count after commit is left to the caller's job, which counts again
    once this has committed (the accept's `process_claim`: `slots_hand_over`); the gift's status is
    still moved in this transaction when the count here says so.
    """
    if along and not locked:
        raise TypeError("slot_transition(along=...) needs locked=True.")
    if locked:
        if isinstance(slot, int) or not connection.in_atomic_block:
            raise TypeError("slot_transition(locked=True) takes a Slot locked in the current transaction.")
        moved = _slot_move(slot, target, actor=actor, data=data, expect=expect, also=also, along=along, recount=recount)
        return slot, moved
    slot_id = slot if isinstance(slot, int) else slot.pk
    with transaction.atomic():
        row = Slot.objects.select_for_update().get(pk=slot_id)
        changed = _slot_move(row, target, actor=actor, data=data, expect=expect, also=())
    if not isinstance(slot, int):
        slot.status, slot.status_changed_at = row.status, row.status_changed_at
        for stamp in _STAMPS.values():
            setattr(slot, stamp, getattr(row, stamp))
    return row, changed


def _slot_move(
    locked: Slot,
    target: str,
    *,
    actor,
    data,
    expect,
    also: Iterable[str],
    along: Sequence[Model] = (),
    recount: bool = True,
) -> bool:
    current = locked.status
    if current == target:
        if along:  # the rows would be lost: a caller that writes rows with a move checks the status first
            raise _refuse("slot", locked.pk, current, target)
        return False
    if target not in SLOT_TRANSITIONS[current] or (expect is not None and current not in set(expect)):
        raise _refuse("slot", locked.pk, current, target)
    now = timezone.now()
    locked.status = target
    locked.status_changed_at = now
    fields = ["status", "status_changed_at", *also]
    stamp = _STAMPS.get(target)
    if stamp and getattr(locked, stamp) is None:
        setattr(locked, stamp, now)
        fields.append(stamp)
    event = GiftEvent(
        gift_id=locked.gift_id,
        slot=locked,
        kind=GiftEvent.Kind.SLOT_STATUS,
        from_status=current,
        to_status=target,
        actor=actor,
        data=data or {},
    )
    taken = _KIND[current] == "unclaimed" and _KIND[target] == "taken"
    # A slot taken: the gift's status is checked in the same round trip as the writes.
    seen = write_rows(
        update=(locked, fields), inserts=(event, *along), then=_after_taken_query(locked.gift_id) if taken else None
    )
    if _KIND[current] != _KIND[target]:
        _gift_follow(locked.gift_id, taken=taken, seen_before_taken=seen, recount=recount)
    return True


def slots_transition_bulk(slot_ids: list[int], target: str, *, source: str, data: dict | None = None) -> list[int]:
    """Move many slots from `source` to `target` in one statement (the expiry sweep).

    Must run inside the caller's transaction, with the slots already locked by the caller.
    Returns the ids that moved; a slot no longer in `source` is left alone.
    """
    if target not in SLOT_TRANSITIONS[source]:
        raise _refuse("slots", 0, source, target)
    now = timezone.now()
    moved = list(Slot.objects.filter(pk__in=slot_ids, status=source).values_list("pk", "gift_id"))
    if not moved:
        return []
    ids = [pk for pk, _ in moved]
    Slot.objects.filter(pk__in=ids).update(status=target, status_changed_at=now)
    GiftEvent.objects.bulk_create(
        GiftEvent(
            gift_id=gift_id,
            slot_id=pk,
            kind=GiftEvent.Kind.SLOT_STATUS,
            from_status=source,
            to_status=target,
            data=data or {},
        )
        for pk, gift_id in moved
    )
    if _KIND[source] != _KIND[target]:
        gift_ids = sorted({gift_id for _, gift_id in moved})
        # The caller holds these slots locked: a gift locked elsewhere is not waited for (a sender's
        # withdraw locks its gift, then waits for its slots: the two would deadlock) but counted
        # after commit, below.
        gifts_sync_bulk(gift_ids, skip_locked=True)
        # A slot of these gifts moving in another transaction meanwhile (an accept) is not counted
        # above, and its own count after its commit may not see these moves yet: count again once
        # this commits, as a single slot's move does (`_gift_follow`).
        transaction.on_commit(lambda: gifts_sync_if_behind(gift_ids), robust=True)
    return ids


def gift_transition(gift: Gift | int, target: str, *, actor=None, data: dict | None = None) -> tuple[Gift, bool]:
    gift_id = gift if isinstance(gift, int) else gift.pk
    with transaction.atomic():
        locked = Gift.objects.select_for_update(no_key=True).get(pk=gift_id)
        changed = _gift_move(locked, target, actor=actor, data=data)
    if not isinstance(gift, int):
        gift.status, gift.status_changed_at = locked.status, locked.status_changed_at
    return locked, changed


def _gift_move(locked: Gift, target: str, *, actor=None, data: dict | None = None) -> bool:
    current = locked.status
    if current == target:
        return False
    if target not in GIFT_TRANSITIONS[current]:
        raise _refuse("gift", locked.pk, current, target)
    locked.status = target
    locked.status_changed_at = timezone.now()
    locked.save(update_fields=["status", "status_changed_at"])
    GiftEvent.objects.create(
        gift_id=locked.pk,
        kind=GiftEvent.Kind.GIFT_STATUS,
        from_status=current,
        to_status=target,
        actor=actor,
        data=data or {},
    )
    return True


def derive_gift_status(counts: Counter, total: int) -> str:
    """What a paid gift's status is, given how many of its slots are in each status."""
    unclaimed = counts[S.UNCLAIMED]
    if unclaimed == total:
        return G.SENT
    if unclaimed:
        return G.PARTLY_CLAIMED
    if sum(counts[s] for s in SLOT_IN_PROGRESS) or counts[S.DECLINED]:
        return G.CLAIMED
    if counts[S.DELIVERED]:
        return G.FINISHED
    if counts[S.EXPIRED]:
        return G.EXPIRED
    return G.REFUNDED


def _slot_counts(gift_id: int) -> Counter:
    rows = Slot.objects.filter(gift_id=gift_id).values("status").annotate(n=Count("id")).order_by()
    return Counter({row["status"]: row["n"] for row in rows})


def _gifts_and_counts(gift_ids) -> dict[int, tuple[str, int, Counter]]:
    """Each gift's status, its number of slots and its slots' statuses, in one statement, no lock."""
    rows = (
        Slot.objects.filter(gift_id__in=list(gift_ids))
        .values("gift_id", "gift__status", "gift__recipients_count", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    found: dict[int, tuple[str, int, Counter]] = {}
    for row in rows:
        _, _, counts = found.setdefault(row["gift_id"], (row["gift__status"], row["gift__recipients_count"], Counter()))
        counts[row["status"]] = row["n"]
    return found


def _gift_and_counts(gift_id: int) -> tuple[str, int, Counter] | None:
    """`_gifts_and_counts` of one gift; None when it has no slot."""
    return _gifts_and_counts([gift_id]).get(gift_id)


def _gift_behind(gift_id: int) -> tuple[bool, Counter]:
    """Whether the gift's status differs from what its slots say, as far as this transaction sees (no
    lock); and the counts it saw."""
    found = _gift_and_counts(gift_id)
    if found is None or found[0] in GIFT_UNPAID:
        return False, Counter()
    status, total, counts = found
    return derive_gift_status(counts, total) != status, counts


@cache
def _most_transactions_at_once() -> int:
    """No more transactions can be in flight than the server takes connections."""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_connections")
        return int(cursor.fetchone()[0])


def _gift_follow(
    gift_id: int, *, taken: bool = False, seen_before_taken: tuple | None = None, recount: bool = True
) -> None:
    """After a slot moved to another kind, inside its transaction: move the gift now if the slots say
    so, and count again once this commits (moves of other slots in flight are not visible yet).

    The second count is left out when no set of moves in flight can change the status: while more
    slots are still unclaimed than transactions can be in flight, the status stays what it is now.

    `taken`: the slot went from unclaimed to taken (an accept, a decline). Then the gift's status can
    only be 部分领取 while another slot is unclaimed and 已领完 once none is, so one statement that
    counts unclaimed slots no further than it needs to tells (the accepts of a big group gift would
    otherwise count all its slots each time).

    `seen_before_taken`: that statement's row as it was read with the slot's move, before it
    (`_after_taken_query`), so it is not run again."""
    if taken:
        behind, unclaimed = _gift_behind_after_taken(gift_id, seen_before_taken)
    else:
        behind, unclaimed = _gift_behind_unclaimed(gift_id)
    if behind:
        gift_sync(gift_id)
    elif 0 < _most_transactions_at_once() < unclaimed:
        return
    if not recount:  # the caller's job counts again after commit (`slot_transition(recount=False)`)
        return
    transaction.on_commit(lambda: gift_sync_if_behind(gift_id, taken=taken), robust=True)


def _gift_behind_unclaimed(gift_id: int) -> tuple[bool, int]:
    behind, counts = _gift_behind(gift_id)
    return behind, counts[S.UNCLAIMED]


def _after_taken_query(gift_id: int, *, before: bool = True) -> tuple[str, list]:
    """The gift's status and its unclaimed slots, counted no further than needed: at most one more
    than transactions can be in flight, after the move. `before`: the query runs before the move it
    follows (in the same statement), so the slot moving is still unclaimed: one more is counted, and
    `_gift_behind_after_taken` takes it off."""
    limit = _most_transactions_at_once() + 1 + int(before) if connection.vendor == "postgresql" else None
    gift_table, slot_table = (connection.ops.quote_name(m._meta.db_table) for m in (Gift, Slot))
    sql = (
        f"SELECT g.status, (SELECT count(*) FROM (SELECT 1 FROM {slot_table} s "  # noqa: S608 (no user input)
        f"WHERE s.gift_id = g.id AND s.status = %s{' LIMIT %s' if limit else ''}) AS u) "
        f"FROM {gift_table} g WHERE g.id = %s"
    )
    return sql, [S.UNCLAIMED, *([limit] if limit else []), gift_id]


def _gift_behind_after_taken(gift_id: int, seen_before: tuple | None = None) -> tuple[bool, int]:
    """`_gift_behind` for a slot just taken, in one statement that reads at most one more unclaimed
    slot than transactions can be in flight: (whether the status is behind, unclaimed slots seen).
    `seen_before`: the row of `_after_taken_query` read before the move, with it (nothing is read)."""
    if seen_before is not None:
        row = (seen_before[0], max(0, seen_before[1] - 1))
    else:
        with connection.cursor() as cursor:
            cursor.execute(*_after_taken_query(gift_id, before=False))
            row = cursor.fetchone()
    if row is None or row[0] in GIFT_UNPAID:
        return False, 0
    status, unclaimed = row
    return status != (G.PARTLY_CLAIMED if unclaimed else G.CLAIMED), unclaimed


def gift_sync_if_behind(gift_id: int, *, taken: bool = False) -> None:
    """Count without a lock; lock and move only when the gift's status is behind its slots.

    `taken`: the count after a slot was taken reads the unclaimed slots only, as the one before its
    commit did (should the slot have moved on since, the cheap check says "behind" and `gift_sync`
    counts them all under the lock, changing nothing that is right)."""
    if (_gift_behind_after_taken(gift_id) if taken else _gift_behind(gift_id))[0]:
        gift_sync(gift_id)


def gifts_sync_if_behind(gift_ids) -> None:
    """`gift_sync_if_behind` for the gifts of a batch (the worker's claims: it counts again what the
    accepts counted after their commit, in case a process died in between; the expiry sweep, once it
    committed): one statement counts them all without a lock, and only the gifts whose status is
    behind are locked, counted again and moved (`gifts_sync_bulk`)."""
    behind = [
        pk
        for pk, (status, total, counts) in _gifts_and_counts(set(gift_ids)).items()
        if status not in GIFT_UNPAID and derive_gift_status(counts, total) != status
    ]
    if behind:
        gifts_sync_bulk(behind)


def gift_sync(gift_id: int) -> None:
    """Recompute a paid gift's status from its slots, under the gift's row lock."""
    with transaction.atomic():
        gift = Gift.objects.select_for_update(no_key=True).get(pk=gift_id)
        if gift.status in GIFT_UNPAID:
            return
        target = derive_gift_status(_slot_counts(gift_id), gift.recipients_count)
        if target != gift.status:
            _gift_move(gift, target)


def gifts_sync_bulk(gift_ids, *, skip_locked: bool = False) -> None:
    """`gift_sync` for many gifts in a fixed number of statements (the expiry sweep). Locks the
    gifts in id order, so two sweeps never wait on each other in a cycle; `skip_locked`: leaves out
    the gifts another transaction holds locked instead of waiting for them."""
    with transaction.atomic():
        gifts = list(
            Gift.objects.select_for_update(no_key=True, skip_locked=skip_locked)
            .filter(pk__in=list(gift_ids))
            .exclude(status__in=GIFT_UNPAID)
            .order_by("pk")
        )
        counts: dict[int, Counter] = {g.pk: Counter() for g in gifts}
        rows = Slot.objects.filter(gift_id__in=counts).values("gift_id", "status").annotate(n=Count("id"))
        for row in rows:
            counts[row["gift_id"]][row["status"]] = row["n"]
        now = timezone.now()
        changed, events = [], []
        for gift in gifts:
            target = derive_gift_status(counts[gift.pk], gift.recipients_count)
            if target == gift.status:
                continue
            if target not in GIFT_TRANSITIONS[gift.status]:
                raise _refuse("gift", gift.pk, gift.status, target)
            events.append(
                GiftEvent(gift_id=gift.pk, kind=GiftEvent.Kind.GIFT_STATUS, from_status=gift.status, to_status=target)
            )
            gift.status, gift.status_changed_at = target, now
            changed.append(gift)
        Gift.objects.bulk_update(changed, ["status", "status_changed_at"])
        GiftEvent.objects.bulk_create(events)

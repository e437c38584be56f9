"""The state machine: the one place statuses change."""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from gifts import states
from gifts.models import GiftEvent, GiftStatus, Slot, SlotStatus
from gifts.states import (
    GIFT_TRANSITIONS,
    SLOT_TRANSITIONS,
    derive_gift_status,
    gift_sync,
    gift_transition,
    slot_transition,
    slots_transition_bulk,
)
from giftshop.errors import AppError

S, G = SlotStatus, GiftStatus


def test_every_status_has_a_row_in_the_transition_tables():
    assert set(SLOT_TRANSITIONS) == set(S.values)
    assert set(GIFT_TRANSITIONS) == set(G.values)
    assert SLOT_TRANSITIONS[S.REFUNDED] == set() and GIFT_TRANSITIONS[G.REFUNDED] == set()


@pytest.mark.django_db
def test_illegal_slot_transition_raises_conflict_and_changes_nothing(make_gift):
    gift = make_gift()
    slot = gift.slots.get()
    events = GiftEvent.objects.count()
    with pytest.raises(AppError) as info:
        slot_transition(slot, S.SHIPPED)
    assert info.value.code == "illegal_transition" and info.value.status_code == 409
    slot.refresh_from_db()
    assert slot.status == S.UNCLAIMED and GiftEvent.objects.count() == events


@pytest.mark.django_db
def test_expect_narrows_where_a_slot_may_come_from(make_gift):
    slot = make_gift().slots.get()
    with pytest.raises(AppError) as info:
        slot_transition(slot, S.REFUNDED, expect=[S.TO_SHIP])
    assert info.value.code == "illegal_transition"
    assert Slot.objects.get(pk=slot.pk).status == S.UNCLAIMED


@pytest.mark.django_db
def test_illegal_gift_transition_raises_conflict(make_gift):
    unpaid = make_gift(paid=False)
    with pytest.raises(AppError) as info:
        gift_transition(unpaid, G.FINISHED)
    assert info.value.code == "illegal_transition"
    paid = make_gift()
    with pytest.raises(AppError) as info:
        gift_transition(paid, G.CANCELLED)
    assert info.value.code == "illegal_transition"
    paid.refresh_from_db()
    unpaid.refresh_from_db()
    assert (paid.status, unpaid.status) == (G.SENT, G.PENDING_PAYMENT)


@pytest.mark.django_db
def test_repeating_a_slot_transition_returns_unchanged_and_writes_no_second_event(make_gift, recipient):
    slot = make_gift().slots.get()
    _, changed = slot_transition(slot, S.DECLINED, actor=recipient)
    assert changed and slot.status == S.DECLINED
    _, again = slot_transition(slot, S.DECLINED, actor=recipient)
    assert again is False
    assert GiftEvent.objects.filter(slot=slot, kind="slot_status", to_status=S.DECLINED).count() == 1


@pytest.mark.django_db
def test_repeating_a_gift_transition_returns_unchanged_and_writes_no_second_event(make_gift):
    gift = make_gift(paid=False)
    _, changed = gift_transition(gift, G.CANCELLED)
    _, again = gift_transition(gift, G.CANCELLED)
    assert (changed, again) == (True, False)
    assert GiftEvent.objects.filter(gift=gift, kind="gift_status", to_status=G.CANCELLED).count() == 1


@pytest.mark.django_db
def test_slot_transition_stamps_the_time_once_and_syncs_the_gift(make_gift, recipient):
    gift = make_gift()
    slot = gift.slots.get()
    slot_transition(slot, S.ACCEPTED, actor=recipient)
    assert slot.accepted_at is not None
    gift.refresh_from_db()
    assert gift.status == G.CLAIMED
    event = GiftEvent.objects.filter(slot=slot, kind="slot_status").get()
    assert (event.from_status, event.to_status, event.actor) == (S.UNCLAIMED, S.ACCEPTED, recipient)


@pytest.mark.django_db
def test_bulk_transition_moves_only_slots_still_in_the_source_status(make_gift, recipient):
    gift = make_gift(mode="group", recipients=3)
    first, second, third = gift.slots.order_by("number")
    slot_transition(first, S.ACCEPTED, actor=recipient)
    moved = slots_transition_bulk([first.pk, second.pk, third.pk], S.EXPIRED, source=S.UNCLAIMED)
    assert sorted(moved) == sorted([second.pk, third.pk])
    assert dict(gift.slots.values_list("number", "status")) == {1: S.ACCEPTED, 2: S.EXPIRED, 3: S.EXPIRED}
    gift.refresh_from_db()
    assert gift.status == G.CLAIMED
    with pytest.raises(AppError):
        slots_transition_bulk([first.pk], S.SHIPPED, source=S.UNCLAIMED)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([S.UNCLAIMED, S.UNCLAIMED], G.SENT),
        ([S.UNCLAIMED, S.ACCEPTED], G.PARTLY_CLAIMED),
        ([S.UNCLAIMED, S.DELIVERED], G.PARTLY_CLAIMED),
        ([S.ACCEPTED, S.DELIVERED], G.CLAIMED),
        ([S.PROCESSING], G.CLAIMED),
        ([S.TO_SHIP, S.EXPIRED], G.CLAIMED),
        ([S.SHIPPED, S.REFUNDED], G.CLAIMED),
        ([S.DECLINED], G.CLAIMED),
        ([S.DELIVERED, S.DELIVERED], G.FINISHED),
        ([S.DELIVERED, S.EXPIRED, S.REFUNDED], G.FINISHED),
        ([S.EXPIRED, S.EXPIRED], G.EXPIRED),
        ([S.EXPIRED, S.REFUNDED], G.EXPIRED),
        ([S.REFUNDED, S.REFUNDED], G.REFUNDED),
    ],
)
def test_derive_gift_status_from_slot_statuses(statuses, expected):
    assert derive_gift_status(Counter(statuses), len(statuses)) == expected


def test_every_derived_status_is_reachable_from_sent():
    derived = {derive_gift_status(Counter([a, b]), 2) for a in SLOT_TRANSITIONS for b in SLOT_TRANSITIONS}
    assert derived == {G.SENT, G.PARTLY_CLAIMED, G.CLAIMED, G.FINISHED, G.EXPIRED, G.REFUNDED}
    assert derived - {G.SENT} <= GIFT_TRANSITIONS[G.SENT]


@pytest.mark.django_db
def test_gift_sync_leaves_unpaid_and_cancelled_gifts_alone(make_gift):
    gift = make_gift(paid=False)
    gift_sync(gift.pk)
    gift.refresh_from_db()
    assert gift.status == G.PENDING_PAYMENT
    gift_transition(gift, G.CANCELLED)
    gift_sync(gift.pk)
    gift.refresh_from_db()
    assert gift.status == G.CANCELLED


@pytest.mark.django_db(transaction=True)
def test_two_slots_of_one_gift_changing_at_once_do_not_deadlock(make_gift, monkeypatch):
    """Each slot change writes an event row pointing at the gift, then locks the gift to sync it. Hold both
    transactions at that point so they are truly in flight together: both must still go through."""
    gift = make_gift(mode="group", recipients=2)
    first, second = gift.slots.order_by("number")
    both_wrote_events = threading.Barrier(2, timeout=10)
    real_sync = states.gift_sync

    def sync_after_the_other_wrote(gift_id):
        both_wrote_events.wait()
        real_sync(gift_id)

    monkeypatch.setattr(states, "gift_sync", sync_after_the_other_wrote)

    def decline(slot):
        try:
            return slot_transition(slot.pk, S.DECLINED)[1]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(decline, [first, second]))

    assert outcomes == [True, True]
    assert set(gift.slots.values_list("status", flat=True)) == {S.DECLINED}
    gift.refresh_from_db()
    assert gift.status == G.CLAIMED


@pytest.mark.django_db(transaction=True)
def test_an_accept_that_does_not_change_the_gift_status_never_waits_for_the_gift_row(make_gift, address):
    """No hot row: with the gift's row locked by someone else, accepts in the middle of a group gift
    go through (a lock wait would hit the lock timeout), and the gift's status is right afterwards."""
    import psycopg
    from django.contrib.auth import get_user_model

    from gifts.services.claim import slot_accept, slot_grab

    gift = make_gift(mode="group", recipients=4)
    users = get_user_model().objects.bulk_create(get_user_model()(username=f"acc{i}") for i in range(4))
    for user in users:
        slot_grab(gift=gift, user=user)
    slot_accept(gift=gift, user=users[0], address=address)  # SENT -> PARTLY_CLAIMED: may lock the gift
    gift.refresh_from_db()
    assert gift.status == G.PARTLY_CLAIMED

    params = connection.get_connection_params()
    holder = psycopg.connect(**{k: v for k, v in params.items() if k in ("dbname", "user", "host", "port")})
    try:
        # What a status move takes (gift_sync): other transactions' foreign-key checks pass beside it.
        holder.execute("SELECT id FROM gifts_gift WHERE id = %s FOR NO KEY UPDATE", [gift.pk])
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")
        for user in users[1:3]:  # neither the first nor the last: the status stays PARTLY_CLAIMED
            slot_accept(gift=gift, user=user, address=address)
    finally:
        holder.rollback()
        holder.close()
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")
    slot_accept(gift=gift, user=users[3], address=address)  # the last one moves the gift
    gift.refresh_from_db()
    assert gift.status == G.CLAIMED


@pytest.mark.django_db(transaction=True)
def test_the_last_accepts_at_once_still_leave_the_gift_claimed(make_gift, address):
    """Each of several concurrent last accepts sees the others' slots as still free; whichever
    commits last counts again after commit and moves the gift."""
    from django.contrib.auth import get_user_model

    from gifts.services.claim import slot_accept, slot_grab

    for _ in range(3):
        gift = make_gift(mode="group", recipients=8)
        users = get_user_model().objects.bulk_create(get_user_model()(username=f"last{gift.pk}-{i}") for i in range(8))
        for user in users:
            slot_grab(gift=gift, user=user)
        slot_accept(gift=gift, user=users[0], address=address)
        start = threading.Barrier(7)

        def accept(user):
            start.wait()
            try:
                slot_accept(gift=gift, user=user, address=address)
            finally:
                connection.close()

        with ThreadPoolExecutor(max_workers=7) as pool:
            list(pool.map(accept, users[1:]))
        gift.refresh_from_db()
        assert S.UNCLAIMED not in set(gift.slots.values_list("status", flat=True))
        assert gift.status == G.CLAIMED


@pytest.mark.django_db
def test_the_worker_counts_again_what_an_accept_that_died_after_commit_did_not(make_gift, recipient, address):
    from gifts.models import Gift
    from gifts.services.claim import slot_accept, slot_hand_over
    from gifts.services.handover import slots_hand_over

    gift = make_gift(mode="group", recipients=2)
    slot = slot_accept(gift=gift, user=recipient, address=address)
    Gift.objects.filter(pk=gift.pk).update(status=G.SENT)  # the process died before its second count
    slot_hand_over(slot_id=slot.pk)
    gift.refresh_from_db()
    assert gift.status == G.PARTLY_CLAIMED

    other = make_gift(mode="group", recipients=2)
    first = slot_accept(gift=other, user=recipient, address=address)
    Gift.objects.filter(pk=other.pk).update(status=G.SENT)
    slots_hand_over(slot_ids=[first.pk])
    other.refresh_from_db()
    assert other.status == G.PARTLY_CLAIMED


@pytest.mark.django_db
def test_an_accept_in_the_middle_of_a_big_group_gift_never_counts_all_its_slots(make_gift, sku, address):
    """Taking a slot reads at most max_connections + 1 unclaimed slots to decide the gift's status,
    not every slot of the gift, and runs a fixed number of statements; a status left behind (a
    process that died after its commit) is still put right by the next accept."""
    from django.contrib.auth import get_user_model
    from django.test.utils import CaptureQueriesContext

    from gifts.services.claim import slot_accept

    slots = states._most_transactions_at_once() + 10
    type(sku).objects.filter(pk=sku.pk).update(stock=slots)
    gift = make_gift(mode="group", recipients=slots)
    users = get_user_model().objects.bulk_create(get_user_model()(username=f"big{i}") for i in range(3))
    slot_accept(gift=gift, user=users[0], address=address)
    gift.refresh_from_db()
    assert gift.status == G.PARTLY_CLAIMED

    with CaptureQueriesContext(connection) as queries:
        slot_accept(gift=gift, user=users[1], address=address)
    statements = [q["sql"] for q in queries.captured_queries]
    assert not [sql for sql in statements if "GROUP BY" in sql], statements
    assert len(statements) <= 12, statements
    assert Slot.objects.get(gift=gift, recipient=users[1]).status == S.ACCEPTED

    type(gift).objects.filter(pk=gift.pk).update(status=G.SENT)  # behind its slots
    slot_accept(gift=gift, user=users[2], address=address)
    gift.refresh_from_db()
    assert gift.status == G.PARTLY_CLAIMED

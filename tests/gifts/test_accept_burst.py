"""Accepts without a grab first (the accept grabs on the way) arriving all at once on one group gift:
every account gets a slot while slots are free, none twice, and the gift ends claimed."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from gifts.models import GiftStatus, Slot, SlotStatus
from gifts.services.claim import slot_accept
from giftshop.errors import AppError

User = get_user_model()


def _accept_outcome(gift, user, address, start: threading.Barrier | None = None) -> str:
    """One accept on its own connection, started together with the others at `start`: "ok" or the
    error code it was refused with."""
    if start is not None:
        start.wait()
    try:
        slot_accept(gift=gift, user=user, address=address)
        return "ok"
    except AppError as exc:
        return exc.code
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_as_many_accepts_as_slots_at_once_all_get_one(make_gift, address):
    gift = make_gift(mode="group", recipients=40)
    users = User.objects.bulk_create(User(username=f"burst{i:03d}") for i in range(40))
    start = threading.Barrier(20)

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(
            pool.map(lambda user: _accept_outcome(gift, user, address, start if user.pk % 2 else None), users)
        )

    assert outcomes == ["ok"] * 40
    taken = list(Slot.objects.filter(gift=gift).values_list("recipient_id", flat=True))
    assert sorted(taken) == sorted(u.pk for u in users)
    assert SlotStatus.UNCLAIMED not in set(Slot.objects.filter(gift=gift).values_list("status", flat=True))
    gift.refresh_from_db()
    assert gift.status == GiftStatus.CLAIMED


@pytest.mark.django_db(transaction=True)
def test_an_accept_without_a_grab_writes_the_free_slot_once(make_gift, address):
    """The accept locks a free slot and gives it to the account with its own write: the slot's row is
    written by one statement (the one that also writes the address, the event and the job)."""
    from django.test.utils import CaptureQueriesContext

    gift = make_gift(mode="group", recipients=3)
    user = User.objects.create(username="no-grab-first")
    with CaptureQueriesContext(connection) as queries:
        slot = slot_accept(gift=gift, user=user, address=address)
    # (the worker's moves after commit, eager here, do not write the recipient)
    writes = [
        q["sql"] for q in queries.captured_queries if 'UPDATE "gifts_slot"' in q["sql"] and "recipient_id" in q["sql"]
    ]
    assert len(writes) == 1 and writes[0].startswith("WITH"), writes
    slot.refresh_from_db()
    assert slot.recipient_id == user.pk and slot.number == 1
    assert slot.taken_at and slot.opened_at and slot.accepted_at  # stamped as a grab then an accept would
    assert slot.status in (SlotStatus.ACCEPTED, SlotStatus.TO_SHIP)


@pytest.mark.django_db(transaction=True)
def test_an_account_that_grabbed_accepts_its_own_slot_not_a_free_one(make_gift, address):
    from gifts.services.grab import slot_grab

    gift = make_gift(mode="group", recipients=3)
    user = User.objects.create(username="grabbed-first")
    grabbed = slot_grab(gift=gift, user=user)
    accepted = slot_accept(gift=gift, user=user, address=address)
    assert accepted.pk == grabbed.pk
    assert Slot.objects.filter(gift=gift, recipient=user).count() == 1
    assert Slot.objects.filter(gift=gift, recipient__isnull=True).count() == 2


@pytest.mark.django_db(transaction=True)
def test_one_account_accepting_twice_at_once_gets_one_slot_and_a_clear_refusal(make_gift, address):
    """Two accepts of one account that holds no slot lock two free slots; the second write meets the
    (gift, recipient) unique constraint and goes to the slot the first took, already accepted: a
    clear 409, not a server error."""
    gift = make_gift(mode="group", recipients=4)
    user = User.objects.create(username="twice-at-once")
    start = threading.Barrier(2)

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(pool.map(lambda _: _accept_outcome(gift, user, address, start), range(2)))
    assert outcomes in (["already_accepted", "ok"], ["already_taken_by_you", "ok"]), outcomes
    assert Slot.objects.filter(gift=gift, recipient=user).count() == 1
    assert Slot.objects.filter(gift=gift, recipient__isnull=True, status=SlotStatus.UNCLAIMED).count() == 3


@pytest.mark.django_db(transaction=True)
def test_an_accept_that_meets_the_accounts_own_grab_accepts_the_grabbed_slot(make_gift, address, monkeypatch):
    """The accept holds a free slot locked; meanwhile the same account grabs one in another tab. The
    accept's write meets the one-slot-per-account constraint, and the accept goes to the grabbed slot
    instead of telling the account it already has one (and leaving that slot unaccepted)."""
    from gifts.services import claim
    from gifts.services.grab import slot_grab

    gift = make_gift(mode="group", recipients=3)
    user = User.objects.create(username="two-tabs")
    grabbed = []
    real = claim._choose_sku

    def grab_in_another_tab(**kwargs):
        if not grabbed:
            tab = threading.Thread(target=lambda: (grabbed.append(slot_grab(gift=gift, user=user)), connection.close()))
            tab.start()
            tab.join()
        return real(**kwargs)

    monkeypatch.setattr(claim, "_choose_sku", grab_in_another_tab)
    accepted = slot_accept(gift=gift, user=user, address=address)
    assert grabbed and accepted.pk == grabbed[0].pk
    mine = Slot.objects.get(gift=gift, recipient=user)
    assert mine.pk == grabbed[0].pk and mine.status in (SlotStatus.ACCEPTED, SlotStatus.TO_SHIP)
    assert Slot.objects.filter(gift=gift, recipient__isnull=True, status=SlotStatus.UNCLAIMED).count() == 2

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


@pytest.mark.django_db(transaction=True)
def test_as_many_accepts_as_slots_at_once_all_get_one(make_gift, address):
    gift = make_gift(mode="group", recipients=40)
    users = User.objects.bulk_create(User(username=f"burst{i:03d}") for i in range(40))
    start = threading.Barrier(20)

    def accept(user):
        if user.pk % 2:
            start.wait()
        try:
            slot_accept(gift=gift, user=user, address=address)
            return "ok"
        except AppError as exc:
            return exc.code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(accept, users))

    assert outcomes == ["ok"] * 40
    taken = list(Slot.objects.filter(gift=gift).values_list("recipient_id", flat=True))
    assert sorted(taken) == sorted(u.pk for u in users)
    assert SlotStatus.UNCLAIMED not in set(Slot.objects.filter(gift=gift).values_list("status", flat=True))
    gift.refresh_from_db()
    assert gift.status == GiftStatus.CLAIMED

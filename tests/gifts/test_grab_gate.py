"""The grab gate (gifts/services/grab_gate.py) on a real Redis in front of PostgreSQL: refusals cost no
database statement, the gate is rebuilt from the database, a released slot goes back, and flushing
Redis at random moments of a race never gives a slot twice or a false `all_taken`."""

import logging
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from gifts.models import Slot
from gifts.services import grab_gate
from gifts.services.claim import AddressInput, slot_accept, slot_decline, slot_grab
from giftshop.errors import AppError
from tests.conftest import ADDRESS

User = get_user_model()
GATE_URL = os.environ.get("TEST_GRAB_GATE_URL", "redis://127.0.0.1:6379/13")
OTHER_CACHE_URL = os.environ.get("TEST_OTHER_CACHE_URL", "redis://127.0.0.1:6379/6")  # a cache apart from the gate


@pytest.fixture
def gate(settings):
    """The gate on its own Redis database, empty before and after."""
    settings.GRAB_GATE_URL = GATE_URL
    client = redis.Redis.from_url(GATE_URL)
    client.flushdb()
    grab_gate._client.cache_clear()
    grab_gate._paused_until = 0.0
    yield client
    client.flushdb()
    grab_gate._client.cache_clear()
    grab_gate._paused_until = 0.0


def _code(fn, **kwargs) -> str:
    try:
        fn(**kwargs)
        return "ok"
    except AppError as exc:
        return exc.code
    finally:
        connection.close()


def _free_in_gate(client, gift) -> int | None:
    value = client.get(f"grab:{{{gift.pk}}}:free")
    return None if value is None else int(value)


def _users(n: int, prefix: str = "u"):
    return User.objects.bulk_create(User(username=f"{prefix}{i:04d}") for i in range(n))


def _race_with_flushes(client, gift, work, users, *, workers: int, seed: int, pause=(0.001, 0.02)) -> list:
    """`work(user)` for every user from `workers` threads while the gift's gate is deleted at random moments."""
    done = threading.Event()

    def flusher():
        rng = random.Random(seed)
        while not done.is_set():
            time.sleep(rng.uniform(*pause))
            client.delete(*grab_gate._keys(gift.pk))

    chaos = threading.Thread(target=flusher)
    chaos.start()
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(work, users))
    finally:
        done.set()
        chaos.join()


@pytest.mark.django_db(transaction=True)
def test_refusals_from_the_gate_make_no_database_statement_even_over_http(make_gift, gate):
    gift = make_gift(mode="group", recipients=2)
    winner, late = User.objects.create_user("winner"), User.objects.create_user("late")
    other = User.objects.create_user("other")
    clients = {u: _grabber(u) for u in (winner, late, other)}

    def grab(user):
        return _grab(clients[user], gift)

    assert grab(winner).status_code == 200  # builds the gate, caches the token and the gift's facts
    assert grab(other).status_code == 200  # the second and last slot
    assert grab(late).status_code == 409  # caches late's token
    with CaptureQueriesContext(connection) as mine:
        again = grab(winner)
    with CaptureQueriesContext(connection) as full:
        taken = grab(late)
    assert (again.status_code, again.json()["code"]) == (409, "already_taken_by_you")
    assert (taken.status_code, taken.json()["code"]) == (409, "all_taken")
    assert len(mine) == 0 and len(full) == 0, [q["sql"] for q in (*mine, *full)]
    assert set(Slot.objects.filter(gift=gift).values_list("recipient_id", flat=True)) == {winner.pk, other.pk}


@pytest.mark.django_db(transaction=True)
def test_a_flushed_gate_is_rebuilt_from_the_database(make_gift, gate):
    gift = make_gift(mode="group", recipients=3)
    first, second, third, fourth = _users(4)
    slot_grab(gift=gift, user=first)
    assert _free_in_gate(gate, gift) == 2
    gate.flushdb()  # Redis restarted empty
    assert _code(slot_grab, gift=gift, user=first) == "already_taken_by_you"
    assert _free_in_gate(gate, gift) == 2  # rebuilt: 2 free, `first` holds one
    slot_grab(gift=gift, user=second)
    slot_grab(gift=gift, user=third)
    assert _code(slot_grab, gift=gift, user=fourth) == "all_taken"
    assert _free_in_gate(gate, gift) == 0


@pytest.mark.django_db(transaction=True)
def test_a_released_slot_goes_back_to_the_gate_and_can_be_grabbed_again(
    make_gift, gate, django_capture_on_commit_callbacks
):
    gift = make_gift(mode="group", recipients=2)
    first, second, third = _users(3)
    slot_grab(gift=gift, user=first)
    slot_grab(gift=gift, user=second)
    assert _code(slot_grab, gift=gift, user=third) == "all_taken"
    with django_capture_on_commit_callbacks(execute=True):
        slot_decline(gift=gift, user=first)  # group: 留给别人, the slot goes back to the pool
    assert _code(slot_grab, gift=gift, user=third) == "ok"
    assert _code(slot_grab, gift=gift, user=first) == "all_taken"  # gave it back: no longer holds one
    holders = set(Slot.objects.filter(gift=gift).values_list("recipient_id", flat=True))
    assert holders == {second.pk, third.pk}


@pytest.mark.django_db(transaction=True)
def test_a_gate_that_over_counts_is_corrected_by_the_database(make_gift, gate):
    gift = make_gift(mode="group", recipients=2)
    first, second, third, fourth = _users(4)
    slot_grab(gift=gift, user=first)
    slot_grab(gift=gift, user=second)
    gate.set(f"grab:{{{gift.pk}}}:free", 5)  # e.g. a slot refunded since the gate was built
    assert _code(slot_grab, gift=gift, user=third) == "all_taken"  # the database said so
    assert _code(slot_grab, gift=gift, user=fourth) == "all_taken"
    assert _free_in_gate(gate, gift) == 0  # built again from the database
    assert not gate.sismember(f"grab:{{{gift.pk}}}:holders", third.pk)


@pytest.mark.django_db(transaction=True)
def test_without_redis_grabs_take_the_database_path(make_gift, settings, gate, caplog):
    settings.GRAB_GATE_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    grab_gate._client.cache_clear()
    gift = make_gift(mode="group", recipients=2)
    first, second, third = _users(3)
    slot_grab(gift=gift, user=third)
    with caplog.at_level(logging.WARNING, logger="gifts.services.grab_gate"):
        assert _code(slot_grab, gift=gift, user=first) == "ok"
        assert _code(slot_grab, gift=gift, user=second) == "all_taken"
        assert _code(slot_grab, gift=gift, user=first) == "already_taken_by_you"
    assert "the database decides" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_two_hundred_grabbers_on_fifty_slots_with_the_gate_flushed_at_random_moments(make_gift, gate):
    gift = make_gift(mode="group", recipients=50)
    users = _users(200, prefix="racer")

    def grab_twice(user):  # each account tries twice: the second is always a refusal
        return _code(slot_grab, gift=gift, user=user), _code(slot_grab, gift=gift, user=user)

    outcomes = _race_with_flushes(gate, gift, grab_twice, users, workers=24, seed=7)
    firsts = [a for a, _ in outcomes]
    assert firsts.count("ok") == 50 and set(firsts) <= {"ok", "all_taken"}
    for first, second in outcomes:
        assert second == ("already_taken_by_you" if first == "ok" else "all_taken")
    taken = list(Slot.objects.filter(gift=gift).values_list("recipient_id", flat=True))
    assert None not in taken and len(set(taken)) == 50
    assert set(taken) == {u.pk for u, (first, _) in zip(users, outcomes, strict=True) if first == "ok"}


@pytest.mark.django_db(transaction=True)
def test_decline_and_regrab_keep_the_counts_right(make_gift, gate, django_capture_on_commit_callbacks):
    gift = make_gift(mode="group", recipients=10)
    users = _users(30, prefix="churn")
    rng = random.Random(11)
    holders: set[int] = set()
    for _ in range(3):
        for user in users:
            if _code(slot_grab, gift=gift, user=user) == "ok":
                holders.add(user.pk)
        assert len(holders) == 10
        for user in rng.sample([u for u in users if u.pk in holders], 4):
            with django_capture_on_commit_callbacks(execute=True):
                slot_decline(gift=gift, user=user)
            holders.discard(user.pk)
        free = Slot.objects.filter(gift=gift, recipient__isnull=True).count()
        assert free == 4
        assert _free_in_gate(gate, gift) in (None, 4)  # dropped by the releases, or rebuilt right
    accepted = User.objects.get(pk=next(iter(holders)))
    with django_capture_on_commit_callbacks(execute=True):
        slot_accept(gift=gift, user=accepted, address=AddressInput(**ADDRESS))
    assert _code(slot_grab, gift=gift, user=accepted) == "already_taken_by_you"


# ----- the gate asked with the API token: one round trip to Redis when the gate shares the cache's Redis


@pytest.fixture
def shared_gate(gate, settings):
    """The gate on the shared cache's own Redis (the same URL): a grab asks both in one script."""
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": GATE_URL,
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_TIMEOUT": 0.5},
        },
    }
    return gate


@pytest.fixture
def sends(monkeypatch):
    """How many times this process sent something to a Redis (one per round trip, a pipeline too).
    The grab's rate limits are left out (a round trip each, on either path)."""
    from gifts.api.views import ClaimGrab

    monkeypatch.setattr(ClaimGrab, "throttle_classes", [])
    counted = {"n": 0}
    real = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        counted["n"] += 1
        return real(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    return counted


def _grabber(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def _grab(client: APIClient, gift):
    return client.post(f"/api/v1/claims/{gift.claim_token}/grab/")


@pytest.mark.django_db(transaction=True)
def test_a_grab_asks_redis_once_when_the_gate_shares_the_cache(make_gift, shared_gate, sends):
    gift = make_gift(mode="group", recipients=2)
    winner, second, late = (_grabber(u) for u in _users(3))
    assert _grab(winner, gift).status_code == 200  # builds the gate; caches the token and the gift's facts
    assert _grab(second, gift).status_code == 200
    assert _grab(late, gift).status_code == 409  # caches late's token
    for client, code in ((late, "all_taken"), (winner, "already_taken_by_you")):
        sends["n"] = 0
        with CaptureQueriesContext(connection) as queries:
            response = _grab(client, gift)
        assert (response.status_code, response.json()["code"]) == (409, code)
        assert sends["n"] == 1, sends  # the token and the gate in one script
        assert len(queries) == 0


@pytest.mark.django_db(transaction=True)
def test_with_the_gate_on_another_redis_a_grab_asks_twice(make_gift, gate, settings, sends):
    settings.CACHES = {
        **settings.CACHES,
        "default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": OTHER_CACHE_URL},
    }
    try:
        gift = make_gift(mode="group", recipients=2)
        winner, second, late = (_grabber(u) for u in _users(3))
        assert _grab(winner, gift).status_code == 200
        assert _grab(second, gift).status_code == 200
        assert _grab(late, gift).status_code == 409
        sends["n"] = 0
        assert _grab(late, gift).json()["code"] == "all_taken"
        assert sends["n"] == 2  # the token, then the gate
    finally:
        redis.Redis.from_url(OTHER_CACHE_URL).flushdb()


@pytest.mark.django_db(transaction=True)
def test_a_signed_out_token_cannot_grab_on_the_one_trip_path(make_gift, shared_gate, sends):
    gift = make_gift(mode="group", recipients=3)
    first, second = _users(2)
    client = _grabber(first)
    assert _grab(client, gift).status_code == 200  # the token checked the usual way, then cached
    sends["n"] = 0
    assert _grab(client, gift).json()["code"] == "already_taken_by_you"
    assert sends["n"] == 1  # the one-trip path
    assert client.delete("/api/v1/auth/token/").status_code == 204  # sign-out
    assert _grab(client, gift).status_code == 401
    assert _grab(_grabber(second), gift).status_code == 200
    assert _free_in_gate(shared_gate, gift) == 1


@pytest.mark.django_db(transaction=True)
def test_a_throttled_grab_takes_nothing_from_the_gate(make_gift, shared_gate, monkeypatch):
    from gifts.throttles import ClaimIpThrottle, ClaimThrottle

    for cls in (ClaimThrottle, ClaimIpThrottle):
        monkeypatch.setattr(cls, "THROTTLE_RATES", {"claim": "1/min", "claim_ip": "1000/min"})
    warm, gift = make_gift(mode="group", recipients=2), make_gift(mode="group", recipients=2)
    (user,) = _users(1)
    client = _grabber(user)
    assert _grab(client, warm).status_code == 200  # the account's one grab this minute; its token cached
    other = _grabber(_users(1, prefix="other")[0])
    assert _grab(other, gift).status_code == 200  # builds the gift's gate: one slot left
    taken = []
    real_try = grab_gate.gate_try
    monkeypatch.setattr(grab_gate, "gate_try", lambda *args: taken.append(args) or real_try(*args))
    response = _grab(client, gift)
    assert response.status_code == 429, response.content
    assert taken == []  # the one-trip script only looked; nothing asked the gate for a slot
    assert _free_in_gate(shared_gate, gift) == 1
    assert not shared_gate.sismember(f"grab:{{{gift.pk}}}:holders", user.pk)
    assert not Slot.objects.filter(gift=gift, recipient=user).exists()


@pytest.mark.django_db(transaction=True)
def test_the_sender_asking_with_a_token_takes_nothing_from_the_gate(make_gift, shared_gate, monkeypatch):
    gift = make_gift(mode="group", recipients=2)
    (first,) = _users(1)
    assert _grab(_grabber(first), gift).status_code == 200  # builds the gate
    sender = _grabber(gift.sender)
    assert _grab(sender, gift).status_code == 403  # caches the sender's token
    asked = []
    real_try = grab_gate.gate_try
    monkeypatch.setattr(grab_gate, "gate_try", lambda *args: asked.append(args) or real_try(*args))
    response = _grab(sender, gift)  # looked at in one trip: refused before the gate is asked
    assert response.json()["code"] == "not_yours"
    assert asked == []
    assert _free_in_gate(shared_gate, gift) == 1
    assert not shared_gate.sismember(f"grab:{{{gift.pk}}}:holders", gift.sender_id)


@pytest.mark.django_db(transaction=True)
def test_grabs_over_http_on_the_one_trip_path_with_the_gate_flushed_meanwhile(make_gift, shared_gate):
    gift = make_gift(mode="group", recipients=20)
    users = _users(80, prefix="http")
    clients = {u.pk: _grabber(u) for u in users}
    for user in users[:40]:  # half the tokens cached, half not
        assert clients[user.pk].get("/api/v1/received/").status_code == 200

    def grab(user):
        try:
            first = _grab(clients[user.pk], gift)
            second = _grab(clients[user.pk], gift)
            return first.status_code, first.json().get("code"), second.json().get("code")
        finally:
            connection.close()

    outcomes = _race_with_flushes(shared_gate, gift, grab, users, workers=16, seed=5, pause=(0.002, 0.03))
    assert [status for status, _, _ in outcomes].count(200) == 20
    for status, code, again in outcomes:
        assert status in (200, 409) and (status == 200 or code == "all_taken")
        assert again == ("already_taken_by_you" if status == 200 else "all_taken")
    taken = list(Slot.objects.filter(gift=gift).values_list("recipient_id", flat=True))
    assert None not in taken and len(set(taken)) == 20


@pytest.mark.django_db(transaction=True)
def test_an_unreadable_token_entry_is_a_miss_not_a_server_error(make_gift, shared_gate):
    """An entry written by a process with another serializer (a rolling deploy), or corrupt: the token
    is checked in the database and the grab answers as usual, on the one-trip path and the usual one."""
    from django.core.cache import cache

    from giftshop.token_auth import _names

    gift = make_gift(mode="group", recipients=2)
    first, other, second = _users(3)
    client = _grabber(first)
    assert _grab(client, gift).status_code == 200  # builds the gate; caches the token
    assert _grab(_grabber(other), gift).status_code == 200  # the last slot
    late = _grabber(second)
    assert _grab(late, gift).status_code == 409  # caches late's token
    entry_key = cache.make_key(_names(Token.objects.get(user=second).key)[0])
    shared_gate.set(entry_key, b"\x80\x05not a pickle")
    response = _grab(late, gift)
    assert (response.status_code, response.json()["code"]) == (409, "all_taken")
    shared_gate.set(entry_key, b"\x80\x05not a pickle")
    assert late.get("/api/v1/received/").status_code == 200
    assert _grab(client, gift).json()["code"] == "already_taken_by_you"

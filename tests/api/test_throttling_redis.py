"""Rate limits counted in Redis (giftshop/throttling.py), on a redis-server of the test's own configured
as production configures the cache: the same limits, 429 and `Retry-After` as DRF's throttles give
(tests/api/test_throttling.py runs them on per-process memory), counted once per request for all of
a view's limits in one script call, shared by every process, and exact under concurrent requests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
import redis
from django.core.cache import caches
from django.test import RequestFactory
from rest_framework.request import Request
from rest_framework.views import APIView

from gifts.api.views import ClaimIpThrottle, ClaimThrottle
from giftshop.api_auth import AuthThrottle
from giftshop.settings.base import BASE_DIR, cache_config
from tests.conftest import api_for
from tests.factories import UserFactory
from tests.servers import RedisServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_cache(settings, tmp_path):
    server = RedisServer(log_path=tmp_path / "redis.log").start()
    settings.CACHES = {**settings.CACHES, "default": cache_config(server.url, socket_timeout=0.5)}
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def rates(monkeypatch):
    def _set(**rates):
        for cls in (AuthThrottle, ClaimThrottle, ClaimIpThrottle):
            monkeypatch.setattr(
                cls, "THROTTLE_RATES", {"auth": "1000/min", "claim": "1000/min", "claim_ip": "1000/min", **rates}
            )

    return _set


def assert_throttled(response, *, window: int = 60):
    assert response.status_code == 429, response.content
    # DRF's wait: the oldest counted request's remaining time (the window, less the few seconds the test took).
    assert window - 10 < int(response["Retry-After"]) <= window
    body = response.json()
    assert body["code"] == "throttled" and body["detail"] and "fields" not in body


def _commands(client) -> dict[str, int]:
    """Commands the server ran so far by name (those a script runs count under their own names)."""
    return {name.removeprefix("cmdstat_"): row["calls"] for name, row in client.info("commandstats").items()}


def test_grab_limit_per_account_is_a_429_with_retry_after_and_other_accounts_go_on(
    redis_cache, rates, make_gift, recipient, other
):
    rates(claim="2/min")
    gift = make_gift(mode="group", recipients=5)
    bob = api_for(recipient)
    assert bob.post(f"/api/v1/claims/{gift.claim_token}/grab/").status_code == 200
    assert bob.post(f"/api/v1/claims/{gift.claim_token}/grab/").status_code == 409
    assert_throttled(bob.post(f"/api/v1/claims/{gift.claim_token}/grab/"))
    assert_throttled(bob.post(f"/api/v1/claims/{gift.claim_token}/accept/", {}, format="json"))
    assert api_for(other).post(f"/api/v1/claims/{gift.claim_token}/grab/").status_code == 200
    keys = redis.Redis.from_url(redis_cache.url).keys("*throttle_claim*")
    assert len(keys) == 3  # bob's, carol's, and the one address both came from


def test_grab_limit_per_ip_across_accounts(redis_cache, rates, make_gift):
    rates(claim_ip="3/min")
    gift = make_gift(mode="group", recipients=10)
    accounts = [api_for(UserFactory()) for _ in range(4)]
    for client in accounts[:3]:
        assert client.post(f"/api/v1/claims/{gift.claim_token}/grab/").status_code == 200
    assert_throttled(accounts[3].post(f"/api/v1/claims/{gift.claim_token}/grab/"))
    assert accounts[3].post(f"/api/v1/claims/{gift.claim_token}/grab/", REMOTE_ADDR="10.1.2.3").status_code == 200


def test_sign_in_limit_per_ip(redis_cache, rates, api, sender):
    rates(auth="2/min")
    creds = {"username": "alice", "password": "wrong-password"}
    assert [api.post("/api/v1/auth/token/", creds, format="json").status_code for _ in range(2)] == [400, 400]
    assert_throttled(api.post("/api/v1/auth/token/", {**creds, "password": "giftshop-demo"}, format="json"))


def test_both_claim_limits_cost_one_redis_call_per_request(redis_cache, rates, make_gift, recipient):
    """Two limits (per account, per address), one script call: no read-then-write of a list per limit."""
    rates(claim="100/min", claim_ip="100/min")
    gift = make_gift(mode="group", recipients=5)
    bob = api_for(recipient)  # authenticated in-process: the token cache is not asked
    assert bob.post(f"/api/v1/claims/{gift.claim_token}/grab/").status_code == 200  # loads the script
    stats = redis.Redis.from_url(redis_cache.url)
    before = _commands(stats)
    assert bob.post(f"/api/v1/claims/{gift.claim_token}/grab/").status_code == 409
    after = _commands(stats)
    calls = {name: n - before.get(name, 0) for name, n in after.items() if n != before.get(name, 0)}
    assert calls.pop("evalsha") == 1
    assert set(calls) <= {"info", "zremrangebyscore", "zcard", "zadd", "expire", "zrange"}  # the script's own


def test_the_count_is_shared_by_processes(redis_cache, rates, make_gift):
    """Another process (another web worker or host) counts into the same limit."""
    rates(claim_ip="3/min")
    code = (
        "import django; django.setup();"
        "from django.test import RequestFactory; from rest_framework.request import Request;"
        "from rest_framework.views import APIView; from gifts.api.views import ClaimIpThrottle;"
        "ClaimIpThrottle.THROTTLE_RATES = {'claim_ip': '3/min'};"
        "view = type('V', (APIView,), {'throttle_classes': [ClaimIpThrottle]})();"
        "make = lambda: Request(RequestFactory().post('/', REMOTE_ADDR='10.7.7.7'));"
        "print([ClaimIpThrottle().allow_request(make(), view) for _ in range(2)])"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "giftshop.settings.test", "CACHE_URL": redis_cache.url}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[True, True]"
    gift = make_gift(mode="group", recipients=5)
    client = api_for(UserFactory())
    assert client.post(f"/api/v1/claims/{gift.claim_token}/grab/", REMOTE_ADDR="10.7.7.7").status_code == 200
    assert_throttled(api_for(UserFactory()).post(f"/api/v1/claims/{gift.claim_token}/grab/", REMOTE_ADDR="10.7.7.7"))


def test_concurrent_requests_are_each_counted_once(redis_cache, rates):
    """32 requests at once against a limit of 5: exactly 5 go through (a read-then-write of the list
    lets requests that read it at the same moment overwrite each other's count)."""
    rates(claim_ip="5/min")
    view = type("View", (APIView,), {"throttle_classes": [ClaimIpThrottle]})()
    start = threading.Barrier(32)
    answers: list[bool] = []

    def one() -> None:
        request = Request(RequestFactory().post("/", REMOTE_ADDR="10.8.8.8"))
        start.wait()
        answers.append(ClaimIpThrottle().allow_request(request, view))

    threads = [threading.Thread(target=one) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers).count(True) == 5


def test_without_redis_drf_counts_in_the_cache_it_has(rates, settings, make_gift, recipient):
    """The demo and the test suite: per-process memory, DRF's own implementation."""
    assert not type(caches["default"]).__module__.startswith("django_redis")
    rates(claim="1/min")
    gift = make_gift(mode="group", recipients=5)
    bob = api_for(recipient)
    assert bob.post(f"/api/v1/claims/{gift.claim_token}/grab/").status_code == 200
    assert_throttled(bob.post(f"/api/v1/claims/{gift.claim_token}/grab/"))

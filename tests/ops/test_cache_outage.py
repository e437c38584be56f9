"""Cache outage drill: the shared cache (Redis, CACHE_URL) goes away and the site keeps answering.

A real redis-server of the test's own is the cache, configured as production configures it
(`cache_config` in the settings: django-redis, failing open). With Redis stopped, every throttled API
call (DRF reads its counters before the view runs), a claim page and the phone step still answer, no
500; the limits simply do not count until Redis is back (and then they count again); a new SMS code
is the exception: refused with a 429 while its limits can't be counted. Each dropped cache call
leaves an error line on the `giftshop.cache` logger.
"""

from __future__ import annotations

import logging

import pytest

from gifts.throttles import ClaimIpThrottle, ClaimThrottle
from giftshop.api_auth import AuthThrottle
from giftshop.settings.base import cache_config
from tests.conftest import ADDRESS, api_for
from tests.servers import RedisServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_cache(settings, tmp_path, monkeypatch):
    server = RedisServer(log_path=tmp_path / "redis.log").start()
    settings.CACHES = {"default": cache_config(server.url, socket_timeout=0.5)}
    for cls in (AuthThrottle, ClaimThrottle, ClaimIpThrottle):
        monkeypatch.setattr(cls, "THROTTLE_RATES", {"auth": "3/min", "claim": "1000/min", "claim_ip": "1000/min"})
    try:
        yield server
    finally:
        server.stop()


def _wrong_password(api, username: str):
    """A wrong password (each phase its own name: django-axes would lock one name out after five)."""
    return api.post("/api/v1/auth/token/", {"username": username, "password": "wrong-password"}, format="json")


def test_the_limits_count_in_redis_and_fail_open_while_it_is_down(
    redis_cache, api, sender, recipient, make_gift, caplog
):
    import redis

    # Up: the sign-in limit is counted in Redis.
    assert [_wrong_password(api, "alice").status_code for _ in range(3)] == [400, 400, 400]
    assert _wrong_password(api, "alice").status_code == 429
    assert any(b"throttle" in key for key in redis.Redis.from_url(redis_cache.url).keys("*"))
    redis.Redis.from_url(redis_cache.url).flushdb()

    gift = make_gift()
    group = make_gift(mode="group", recipients=2)
    redis_cache.stop()
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="giftshop.cache"):
        # Down: answered, not a 500; the limit is not counted.
        assert [_wrong_password(api, "bob").status_code for _ in range(4)] == [400, 400, 400, 400]
        assert api.get("/api/v1/products/").status_code == 200
        bob = api_for(recipient)
        assert bob.get(f"/api/v1/claims/{gift.claim_token}/").status_code == 200
        assert bob.post(f"/api/v1/claims/{group.claim_token}/grab/").status_code == 200
        accepted = bob.post(f"/api/v1/claims/{gift.claim_token}/accept/", {"address": ADDRESS}, format="json")
        assert accepted.status_code == 202
        assert api.get(gift.claim_path()).status_code == 200
        sms = api.post("/api/v1/auth/phone/code/", {"phone": "13800138000"}, format="json")
        assert sms.status_code == 429 and sms.json()["code"] == "throttled" and int(sms["Retry-After"]) > 0
    dropped = [r for r in caplog.records if r.name == "giftshop.cache"]
    assert dropped and all(r.levelno == logging.ERROR for r in dropped)
    assert "Connection refused" in caplog.text or "Connection" in caplog.text

    # Back: counted again, from zero.
    redis_cache.start()
    assert [_wrong_password(api, "carol").status_code for _ in range(3)] == [400, 400, 400]
    assert _wrong_password(api, "carol").status_code == 429

"""The API's rate limits, counted atomically by the `limits` package.

DRF's own throttles read a key's history from the cache and write it back: two round trips, and
requests that arrive together all read the same history, so 32 requests at once went through a limit
of 5 ten at a time. Here each hit is one atomic step in the storage (a Lua script on Redis: count and
check together), so a limit holds however many requests arrive at once, at one round trip per limit.

Where the counts live follows the shared cache (`CACHES["default"]`, from `CACHE_URL`): a Redis cache
means the same Redis (its own keys, prefixed `LIMITS`), so every process and host counts together; an
in-process cache (the demo, tests) means counts in this process. Like the cache, the limits fail open:
with Redis down a request is let through and the failure logged on `giftshop.cache`, so an outage of
the cache never turns the API into 500s.

Subclasses set `scope` and, where needed, `get_cache_key` exactly as for DRF's throttles; the rates
are DRF's (`DEFAULT_THROTTLE_RATES`).
"""

from __future__ import annotations

import logging
import time
from functools import cache

from django.conf import settings
from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import SlidingWindowCounterRateLimiter
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

log = logging.getLogger("giftshop.cache")


def _cache_location() -> tuple[str, float]:
    """(Redis URL of the shared cache or "" for an in-process one, its socket timeout)."""
    config = settings.CACHES["default"]
    location = config.get("LOCATION", "")
    if isinstance(location, list | tuple):
        location = location[0] if location else ""
    if "django_redis" not in config["BACKEND"] or not str(location).startswith(("redis://", "rediss://")):
        return "", 0.0
    return str(location), float(config.get("OPTIONS", {}).get("SOCKET_TIMEOUT", 0.5))


@cache
def _limiter_for(location: str, timeout: float) -> SlidingWindowCounterRateLimiter:
    storage: Storage
    if location:
        storage = RedisStorage(location, socket_timeout=timeout, socket_connect_timeout=timeout)
    else:
        storage = MemoryStorage()
    return SlidingWindowCounterRateLimiter(storage)


def limiter() -> SlidingWindowCounterRateLimiter:
    """The limiter of the shared cache as the settings name it now (a test may point them elsewhere)."""
    return _limiter_for(*_cache_location())


def limits_reset() -> None:
    """Forget every count (tests start from zero; an operator lifting every limit at once)."""
    limiter().storage.reset()


class CountedRateThrottle(SimpleRateThrottle):
    """A DRF throttle whose hit is counted and checked in one atomic step (see the module's docstring)."""

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        item = _item(self.num_requests, self.duration)
        try:
            if limiter().hit(item, key):
                return True
            stats = limiter().get_window_stats(item, key)
        except Exception as exc:  # noqa: BLE001 (any storage failure: fail open, as the cache does)
            log.error("rate limit %s not counted: %s: %s", self.scope, type(exc).__name__, exc)
            return True
        self._wait = max(1.0, stats.reset_time - time.time())
        return False

    def wait(self) -> float:
        return getattr(self, "_wait", float(self.duration))


class CountedUserRateThrottle(CountedRateThrottle, UserRateThrottle):
    """Per account (per client address when nobody is signed in)."""


class CountedAnonRateThrottle(CountedRateThrottle, AnonRateThrottle):
    """Per client address, for requests nobody is signed in to."""


@cache
def _item(amount: int, seconds: int) -> RateLimitItemPerSecond:
    return RateLimitItemPerSecond(amount, seconds, namespace="API")

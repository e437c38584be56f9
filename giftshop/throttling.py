"""The API's rate limits, counted atomically by the `limits` package.

DRF's own throttles read a key's history from the cache and write it back: two round trips, and
requests that arrive together all read the same history: in a test, all 32 of 32 requests arriving at
once went through a limit of 5. Here each hit is one atomic step in the storage (a Lua script on Redis: count and
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

from django_redis import get_redis_connection
from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import SlidingWindowCounterRateLimiter
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

log = logging.getLogger("giftshop.cache")


@cache
def _limiter_for(pool) -> SlidingWindowCounterRateLimiter:
    storage: Storage = MemoryStorage() if pool is None else RedisStorage("redis://", connection_pool=pool)
    return SlidingWindowCounterRateLimiter(storage)


def limiter() -> SlidingWindowCounterRateLimiter:
    """The limiter of the shared cache as the settings name it now (a test may point them elsewhere):
    on a Redis cache it counts through the cache's own connection pool (its address and timeouts)."""
    try:
        pool = get_redis_connection("default").connection_pool
    except NotImplementedError:  # not a django-redis cache: counts in this process
        pool = None
    return _limiter_for(pool)


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

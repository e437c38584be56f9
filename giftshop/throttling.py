"""Rate limits counted in Redis: all of a view's limits in one round trip, each update atomic.

DRF's `SimpleRateThrottle` keeps a limit's recent request times as a list in the cache: per limit and
request a read and a write of the whole list (the claim endpoints have two limits: four round trips
before the view runs), and two processes that read the list at the same moment both write it back,
so one of their requests is not counted. `SharedRateThrottle` keeps DRF's rule exactly (the same
`rate` strings and scopes, cache keys, sliding window and `Retry-After`), with each key's request
times in a Redis sorted set that one Lua script prunes, counts and appends to; the first of a view's
limits to be asked checks every limit of the view in that one call, and the others read its answer.

Where the default cache is not django-redis (the embedded demo and the tests use per-process memory),
DRF's own implementation counts. Redis unreachable: the request goes through, as every other cache
read does (`cache_config` fails open), and the error is logged on `giftshop.cache`.
"""

from __future__ import annotations

import logging
import secrets

from django.core.cache import caches
from rest_framework.throttling import SimpleRateThrottle

log = logging.getLogger("giftshop.cache")

# KEYS: one sorted set per limit. ARGV: now, then per key: limit, window seconds, a unique member.
# Per key, as DRF does with its list: drop the times at or before now - window; at the limit,
# refuse and record nothing; else record now and keep the key for one window. Returns per key:
# allowed (1/0), how many were counted before this request, the oldest time still counted ('' if none).
_CHECK = """
local now = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS do
  local limit = tonumber(ARGV[i * 3 - 1])
  local window = tonumber(ARGV[i * 3])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  local count = redis.call('ZCARD', KEYS[i])
  local allowed = 0
  if count < limit then
    redis.call('ZADD', KEYS[i], now, ARGV[i * 3 + 1])
    redis.call('EXPIRE', KEYS[i], math.ceil(window))
    allowed = 1
  end
  local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
  out[#out + 1] = allowed
  out[#out + 1] = count
  out[#out + 1] = oldest[2] or ''
end
return out
"""


def _redis():
    """The default cache's Redis client, or None when the default cache is not django-redis."""
    cache = caches["default"]
    client_of = getattr(getattr(cache, "client", None), "get_client", None)
    if client_of is None or not type(cache).__module__.startswith("django_redis"):
        return None
    return client_of(True)


class SharedRateThrottle(SimpleRateThrottle):
    """DRF's sliding-window throttle, counted in Redis (see the module docstring). Put it first among
    the bases of a DRF throttle class (`class ClaimThrottle(SharedRateThrottle, UserRateThrottle)`):
    that class keeps its scope and its key, and is counted here."""

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        client = _redis()
        if client is None:
            return super().allow_request(request, view)
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        verdicts = getattr(request, "_shared_rate_verdicts", None)
        if verdicts is None or self._ident() not in verdicts:
            verdicts = _check(client, [self, *_others(request, view, self)])
            request._shared_rate_verdicts = verdicts
        allowed, self.counted, self.oldest, self.now = verdicts[self._ident()]
        return allowed

    def wait(self):
        """DRF's `wait()` on the counts the script returned: the oldest counted request's remaining
        time, shared among the requests still available."""
        if getattr(self, "counted", None) is None:
            return super().wait()
        remaining = self.duration - (self.now - self.oldest) if self.oldest is not None else self.duration
        available = self.num_requests - self.counted + 1
        if available <= 0:
            return None
        return remaining / float(available)

    def _ident(self) -> tuple:
        return self.key, self.num_requests, self.duration


def _others(request, view, asked: SharedRateThrottle) -> list[SharedRateThrottle]:
    """The view's other shared limits that apply to this request (their keys set)."""
    others = []
    for throttle in view.get_throttles():
        if not isinstance(throttle, SharedRateThrottle) or throttle.rate is None:
            continue
        throttle.key = throttle.get_cache_key(request, view)
        if throttle.key is not None and throttle._ident() != asked._ident():
            others.append(throttle)
    return others


def _check(client, throttles: list[SharedRateThrottle]) -> dict:
    """One script call for all these limits: {ident: (allowed, counted, oldest, now)}."""
    now = SimpleRateThrottle.timer()
    keys = [caches["default"].make_key(t.key) + ":log" for t in throttles]
    args = [repr(now)]
    for throttle in throttles:
        args += [throttle.num_requests, throttle.duration, f"{now!r}:{secrets.token_hex(6)}"]
    script = getattr(client, "_giftshop_rate_check", None)
    if script is None:
        script = client._giftshop_rate_check = client.register_script(_CHECK)
    try:
        out = script(keys=keys, args=args)
    except Exception as exc:  # noqa: BLE001 (Redis unavailable: let it through, as the cache does)
        log.error("rate limits not counted, Redis unavailable: %s", exc)
        return {t._ident(): (True, None, None, now) for t in throttles}
    verdicts = {}
    for i, throttle in enumerate(throttles):
        allowed, counted, oldest = out[i * 3 : i * 3 + 3]
        verdicts[throttle._ident()] = (
            bool(allowed),
            int(counted),
            float(oldest) if oldest not in (b"", "") else None,
            now,
        )
    return verdicts

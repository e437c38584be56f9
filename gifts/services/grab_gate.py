"""The grab gate: a group gift's contest for its slots, settled in Redis before any SQL.

Per gift, two keys: the number of free slots and the set of accounts that hold one. One Lua script
checks and updates both at once, so a refusal (`all_taken`, `already_taken_by_you`) costs one Redis
round trip and no database statement; a win goes on to take a slot in PostgreSQL exactly as
without the gate (`grab.slot_grab`), and PostgreSQL stays the truth: the gate only turns away
requests the database would turn away too.

Why that holds:
- The gate is built from the database (`gate_build`) and may count *more* free slots than there
  are (a slot taken or refunded since), never fewer: an over-count costs a database statement that
  finds nothing and answers `all_taken` from the database. Every way a slot becomes free again (a
  group member's 留给别人) drops the gate (`gate_drop`), and the next grab builds it again.
- A build reads the database and then writes Redis. A slot freed between the two would be missing
  from the new gate, so a build first leaves a marker, a drop deletes the marker too, and the
  build writes only if its marker is still there.
- A win that the database then refuses is undone (`gate_undo`): the account leaves the set, and the
  slot goes back to the count unless the database said none is free.
- A process that dies between a win and its SQL leaves the gate one slot short: the keys expire
  after `GRAB_GATE_TTL_SECONDS`, and the next grab builds them from the database.
- Redis missing, slow or restarted empty: the grab takes the database path (`Verdict.OFF`), which
  is the path without a gate.

Looked at with the API token (`gate_look_as`): when the gate's Redis is the shared cache's (the same
URL), one script reads whose token it is from the cache's entry and tells whether the gate would
refuse that account. It takes nothing: the request's rate limits and checks have not run yet, and a
request they stop must not hold a slot even for a moment. So a refusal (most of a storm) costs one
round trip to Redis instead of two (the token, then the gate); an account the gate may let through
goes on to `gate_try`, after its rate limits, as every grab did. A token the cache does not hold, or
a gate on another Redis, is checked the usual way. (On a Redis Cluster the script's keys would sit
on different nodes: there the gate must have a Redis of its own, and every grab asks twice.)

Without `GRAB_GATE_URL` (the embedded demo) there is no gate.
"""

from __future__ import annotations

import enum
import logging
import secrets
import time
from functools import cache

from django.conf import settings

log = logging.getLogger(__name__)


class Verdict(enum.Enum):
    WIN = "win"  # take a slot in the database
    ALL_TAKEN = "all_taken"
    MINE = "already_taken_by_you"
    MISSING = "missing"  # no gate for this gift yet: build it
    OFF = "off"  # no gate at all (not configured, or Redis unavailable): the database decides


# KEYS: free, holders, building. ARGV: account id.
# -1: no gate; -2: already holds one; 0: all taken; 1: won (count taken, account added).
_TRY = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return -2 end
if tonumber(redis.call('GET', KEYS[1])) <= 0 then return 0 end
redis.call('DECR', KEYS[1])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""

# KEYS: free, holders, the cached account id of an API token, that token's cache entry. ARGV: the
# gift's sender. Changes nothing. {-3}: the token is not cached (check it the usual way); otherwise
# {code, the entry, the account id}, the code as _TRY's but 1 = "may win" (take it with _TRY) and
# -4 = the gift's sender (the grab refuses them before its gate).
_LOOK_AS = """
local account = redis.call('GET', KEYS[3])
if not account then return {-3, false} end
local entry = redis.call('GET', KEYS[4])
if not entry then return {-3, false} end
if account == ARGV[1] then return {-4, entry, account} end
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, entry, account} end
if redis.call('SISMEMBER', KEYS[2], account) == 1 then return {-2, entry, account} end
if tonumber(redis.call('GET', KEYS[1])) <= 0 then return {0, entry, account} end
return {1, entry, account}
"""

# KEYS: free, holders, building. ARGV: marker, free count, ttl seconds, holder ids...
# Writes the gate only if this build's marker survived (no slot was freed meanwhile).
_BUILD = """
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[3], KEYS[1], KEYS[2])
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
for i = 4, #ARGV, 5000 do
  redis.call('SADD', KEYS[2], unpack(ARGV, i, math.min(i + 4999, #ARGV)))
end
if #ARGV >= 4 then redis.call('EXPIRE', KEYS[2], ARGV[3]) end
return 1
"""

# KEYS: free, holders. ARGV: account id, 1 to give the slot back to the count.
_UNDO = """
if redis.call('SREM', KEYS[2], ARGV[1]) == 1 and ARGV[2] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('INCR', KEYS[1])
end
return 1
"""

_TRY_CODES = {-1: Verdict.MISSING, -2: Verdict.MINE, 0: Verdict.ALL_TAKEN, 1: Verdict.WIN}
# What a look (_LOOK_AS) tells: a refusal, or None (may win, or the sender: the grab goes on to decide).
_LOOK_CODES = {-4: None, -1: None, -2: Verdict.MINE, 0: Verdict.ALL_TAKEN, 1: None}

# After Redis failed, this process leaves it alone for a moment instead of waiting on every request.
_PAUSE_SECONDS = 5.0
_paused_until = 0.0


def _keys(gift_id: int) -> list[str]:
    # One hash tag per gift: a script's gift keys stay on one node of a Redis Cluster.
    tag = f"grab:{{{gift_id}}}"
    return [f"{tag}:free", f"{tag}:holders", f"{tag}:building"]


@cache
def _client():
    import redis

    url = settings.GRAB_GATE_URL
    if not url:
        return None
    timeout = settings.GRAB_GATE_TIMEOUT_SECONDS
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    client.try_script = client.register_script(_TRY)
    client.look_as_script = client.register_script(_LOOK_AS)
    client.build_script = client.register_script(_BUILD)
    client.undo_script = client.register_script(_UNDO)
    return client


def _usable():
    if time.monotonic() < _paused_until:
        return None
    return _client()


def _failed(what: str, exc: Exception) -> None:
    global _paused_until
    _paused_until = time.monotonic() + _PAUSE_SECONDS
    log.warning("grab gate: %s failed (%s); the database decides for %ss", what, type(exc).__name__, _PAUSE_SECONDS)


def gate_try(gift_id: int, user_id: int) -> Verdict:
    """Ask the gate whether this account may go on to take a slot."""
    client = _usable()
    if client is None:
        return Verdict.OFF
    try:
        return _TRY_CODES[int(client.try_script(keys=_keys(gift_id), args=[user_id]))]
    except Exception as exc:  # noqa: BLE001 (any Redis failure: the database path answers)
        _failed("try", exc)
        return Verdict.OFF


def gate_shares_cache() -> bool:
    """Whether the gate's Redis is the shared cache's (same server and database): then the gate can be
    looked at with an API token (`gate_look_as`). Read from the two connection pools, as the rate
    limits find the cache's Redis (giftshop/throttling.py), not from the settings' URLs; once per
    process for the settings in force (every grab asks)."""
    shared = settings.CACHES["default"]
    return _shares_cache(settings.GRAB_GATE_URL, repr((shared.get("BACKEND"), shared.get("LOCATION"))))


@cache
def _shares_cache(gate_url: str, cache_location: str) -> bool:  # the arguments only key the answer
    from django_redis import get_redis_connection

    client = _client()
    if client is None:
        return False
    try:
        cache_pool = get_redis_connection("default").connection_pool
    except NotImplementedError:  # not a django-redis cache
        return False
    return _server(client.connection_pool) == _server(cache_pool)


def _server(pool) -> tuple:
    found = pool.connection_kwargs
    return found.get("host"), found.get("port", 6379), found.get("path"), int(found.get("db") or 0)


def gate_look_as(gift_id: int, sender_id: int, token_keys: tuple[str, str]) -> tuple[Verdict | None, bytes, int] | None:
    """Look at the gate for the account whose API token's cache entry `token_keys` names (the account
    id's key and the entry's key, as `giftshop.token_auth.token_redis_keys` gives them), in one round
    trip that changes nothing: (the refusal the gate would give, or None when it may let the account
    through or the account is the gift's sender; the entry; the account id). None when the token is
    not cached or Redis failed: check the token the usual way."""
    client = _usable()
    if client is None:
        return None
    try:
        code, entry, *account = client.look_as_script(keys=[*_keys(gift_id)[:2], *token_keys], args=[sender_id])
        if code == -3:
            return None
        return _LOOK_CODES[int(code)], entry, int(account[0])
    except Exception as exc:  # noqa: BLE001 (any Redis failure or a value not as written: the usual way)
        _failed("look", exc)
        return None


def gate_build(gift_id: int, read_state) -> bool:
    """Build the gate from the database. `read_state()` returns (free slots, holder account ids) as
    the database has them now. False when another build is under way or a slot was freed meanwhile
    (the caller takes the database path this time)."""
    client = _usable()
    if client is None:
        return False
    keys = _keys(gift_id)
    marker = secrets.token_hex(8)
    try:
        if not client.set(keys[2], marker, nx=True, ex=max(1, int(settings.GRAB_GATE_TIMEOUT_SECONDS * 20))):
            return False
        free, holders = read_state()
        args = [marker, free, settings.GRAB_GATE_TTL_SECONDS, *holders]
        return bool(client.build_script(keys=keys, args=args))
    except Exception as exc:  # noqa: BLE001
        _failed("build", exc)
        return False


def gate_undo(gift_id: int, user_id: int, *, slot_back: bool) -> None:
    """A win the database refused: the account holds nothing; `slot_back` when a slot may still be free."""
    client = _usable()
    if client is None:
        return
    try:
        client.undo_script(keys=_keys(gift_id)[:2], args=[user_id, 1 if slot_back else 0])
    except Exception as exc:  # noqa: BLE001
        _failed("undo", exc)


def gate_drop(gift_id: int) -> bool:
    """A slot became free again: forget the gate; the next grab builds it from the database.
    False when Redis could not be told (the caller's outbox job tries again)."""
    client = _client()  # even while paused: Redis may be back
    if client is None:
        return True
    try:
        client.delete(*_keys(gift_id))
    except Exception as exc:  # noqa: BLE001
        _failed("drop", exc)
        return False
    return True

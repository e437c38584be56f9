"""Reads of the read-heavy pages from a PostgreSQL streaming replica; everything else on the primary.

Why our own router and not django-multidb-router's `PinningReplicaRouter` (0.11, the newest): that
router sends every read anywhere to the replica unless the thread is pinned, and pins only for
unsafe HTTP methods. Workers, beat and management commands have no request to pin them, so a task
that reads a slot and then moves it on would read it from a copy that may be a second behind; and
it has no notion of a replica that is down or lagging. Here reads go to the replica only where a
view says it may (`REPLICA_READ_VIEWS`: the product and shop pages, the merchant's lists and
dashboard, the sender's gift page and tracker, the API's list endpoints, on GET and HEAD), and even
then never when:

- the model is one whose reads decide something (`REPLICA_NEVER_APPS`: payments and refunds, and
  the sign-in tables: a token or a session made a moment ago must be found);
- a transaction is open on the primary (a service reading what it is about to change: money, stock,
  slots and their row locks are read inside `transaction.atomic` or `select_for_update`, which is a
  write as far as routing goes);
- the request already wrote, or the client wrote less than `REPLICA_PIN_SECONDS` ago
  (read-your-writes: a browser carries a cookie, an API client is remembered in the shared cache
  by a hash of its Authorization header);
- the replica did not answer, or replays more than `REPLICA_MAX_LAG_SECONDS` behind the primary
  (checked with `pg_last_xact_replay_timestamp()`, at most once per `REPLICA_CHECK_SECONDS` per
  process: each process judges the replica from where it stands).

A replica that fails in the middle of a GET costs that request a second run of the view on the
primary, not an error page.
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections

REPLICA = "replica"
PIN_COOKIE = "giftshop_pin"
SAFE_METHODS = frozenset({"GET", "HEAD"})

logger = logging.getLogger("giftshop.replica")

# Behind by how many seconds. Caught up (every WAL record received has been replayed, and the
# receiver is streaming) counts as 0 whatever the age of the last transaction, so an idle primary
# does not look like lag; a replica that is not streaming is as old as its last replayed
# transaction. Needs the replica's user to see pg_stat_wal_receiver (role pg_monitor).
LAG_SQL = """
SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN 0
    WHEN EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')
         AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
    ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 1e9)
END
"""


def replica_configured() -> bool:
    return bool(getattr(settings, "REPLICA_ENABLED", False)) and REPLICA in settings.DATABASES


@dataclass
class _Health:
    checked_at: float = float("-inf")
    usable: bool = False
    reason: str = "not checked"
    lock: threading.Lock = field(default_factory=threading.Lock)


_health = _Health()


def replica_lag_seconds() -> float:
    """How far the replica's replay is behind, in seconds (0 when caught up). Raises when it is down."""
    with connections[REPLICA].cursor() as cursor:
        cursor.execute(LAG_SQL)
        return float(cursor.fetchone()[0])


def _close_replica() -> None:
    try:
        connections[REPLICA].close()
    except Exception:  # noqa: BLE001 (a dead connection may fail to close; it is dropped all the same)
        logger.debug("closing the replica connection failed", exc_info=True)


def _record(usable: bool, reason: str) -> None:
    if usable != _health.usable:
        log = logger.info if usable else logger.warning
        log("replica %s: %s", "in use" if usable else "not used, reads go to the primary", reason)
    _health.usable, _health.reason, _health.checked_at = usable, reason, time.monotonic()


def replica_usable() -> bool:
    """Up and no further behind than REPLICA_MAX_LAG_SECONDS, as seen at most REPLICA_CHECK_SECONDS ago."""
    if time.monotonic() - _health.checked_at < settings.REPLICA_CHECK_SECONDS:
        return _health.usable
    with _health.lock:
        if time.monotonic() - _health.checked_at < settings.REPLICA_CHECK_SECONDS:
            return _health.usable
        try:
            lag = replica_lag_seconds()
        except (OperationalError, InterfaceError) as exc:
            _close_replica()
            _record(False, f"unreachable ({exc.__class__.__name__})")
        else:
            if lag > settings.REPLICA_MAX_LAG_SECONDS:
                _record(False, f"{lag:.1f} s behind (limit {settings.REPLICA_MAX_LAG_SECONDS} s)")
            else:
                _record(True, f"{lag:.1f} s behind")
    return _health.usable


def replica_status() -> str:
    """For /readyz: "off", "ok" or "fallback" (reads on the primary); never fails the readiness."""
    if not replica_configured():
        return "off"
    return "ok" if replica_usable() else "fallback"


def mark_replica_down(reason: str) -> None:
    """A query on the replica failed: use the primary until the next check."""
    _close_replica()
    _record(False, reason)


def forget_replica_health() -> None:
    """Check again on the next read (tests; an operator's shell after fixing the replica)."""
    _health.checked_at = float("-inf")
    _health.usable = False
    _health.reason = "not checked"


@dataclass
class _RequestState:
    eligible: bool = False  # the view's reads may come from the replica
    wrote: bool = False  # this request wrote (or locked) something on the primary
    used_replica: bool = False
    pin_key: str | None = None  # the shared-cache key that pins an API client
    pinned: bool | None = None  # the client wrote recently (looked up once, when first needed)
    has_pin_cookie: bool = False

    def client_pinned(self) -> bool:
        if self.pinned is None:
            self.pinned = self.has_pin_cookie or _pinned_in_cache(self.pin_key)
        return self.pinned


_request_state: contextvars.ContextVar[_RequestState | None] = contextvars.ContextVar("replica_state", default=None)


def _pin_key(request) -> str | None:
    authorization = request.headers.get("Authorization", "")
    if not authorization:
        return None
    return "replica-pin:" + hashlib.sha256(authorization.encode()).hexdigest()[:32]


def _pinned_in_cache(key: str | None) -> bool:
    if key is None:
        return False
    from django.core.cache import cache

    try:
        return cache.get(key) is not None
    except Exception:  # noqa: BLE001 (the cache is out: the primary is always right)
        return True


def _pin_in_cache(key: str) -> None:
    from django.core.cache import cache

    try:
        cache.set(key, 1, timeout=settings.REPLICA_PIN_SECONDS)
    except Exception:  # noqa: BLE001 (the next read then finds no pin; _pinned_in_cache fails safe too)
        logger.warning("could not pin an API client to the primary (cache unavailable)")


class ReplicaRouter:
    """DATABASE_ROUTERS entry: see the module's docstring for when a read goes to the replica."""

    def db_for_read(self, model, **hints):
        state = _request_state.get()
        if state is None or not state.eligible or state.wrote:
            return DEFAULT_DB_ALIAS
        if model._meta.app_label in settings.REPLICA_NEVER_APPS:
            return DEFAULT_DB_ALIAS
        if connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return DEFAULT_DB_ALIAS
        if state.client_pinned() or not replica_usable():
            return DEFAULT_DB_ALIAS
        state.used_replica = True
        return REPLICA

    def db_for_write(self, model, **hints):
        state = _request_state.get()
        if state is not None:
            state.wrote = True
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # one database, two copies of it

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS


class ReplicaMiddleware:
    """Marks the read-heavy views' reads as replica-eligible, pins a client who writes to the
    primary for REPLICA_PIN_SECONDS, and runs a GET again on the primary if the replica fails
    under it. Placed after DatabaseUnavailableMiddleware, so it sees a database error first."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not replica_configured():
            return self.get_response(request)
        state = _RequestState(pin_key=_pin_key(request), has_pin_cookie=PIN_COOKIE in request.COOKIES)
        token = _request_state.set(state)
        try:
            response = self.get_response(request)
        finally:
            _request_state.reset(token)
        if state.wrote or request.method not in SAFE_METHODS:
            response.set_cookie(
                PIN_COOKIE,
                "1",
                max_age=settings.REPLICA_PIN_SECONDS,
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
            if state.pin_key:
                _pin_in_cache(state.pin_key)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        state = _request_state.get()
        if state is None or request.method not in SAFE_METHODS or request.resolver_match is None:
            return None
        state.eligible = request.resolver_match.view_name in settings.REPLICA_READ_VIEWS
        if state.eligible:
            request._replica_view = (view_func, view_args, view_kwargs)
        return None

    def process_exception(self, request, exception):
        state = _request_state.get()
        if state is None or not state.used_replica or not isinstance(exception, OperationalError | InterfaceError):
            return None
        mark_replica_down(f"a query failed ({exception.__class__.__name__})")
        state.eligible = False
        view_func, view_args, view_kwargs = request._replica_view
        try:
            return view_func(request, *view_args, **view_kwargs)
        except (OperationalError, InterfaceError):
            return None  # the primary failed too: DatabaseUnavailableMiddleware answers 503

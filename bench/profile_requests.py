"""Where a request's time goes: the no-op, a refused grab and a won grab, called in-process through the
WSGI application (every middleware, no network), timed and profiled with cProfile.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/giftshop .venv/bin/python bench/profile_requests.py [N]

Uses its own database (giftshop_profile, or PROFILE_DB; dropped at the end) and the bench settings
(Redis cache and grab gate: BENCH_CACHE_URL and BENCH_GRAB_GATE_URL pick other Redis databases, so two
people can profile on one machine). Prints milliseconds of CPU per request for each kind, the database statements each makes,
and the top functions of each profile by cumulative time. PROFILE_DUMP=<dir> also writes each profile
there (<kind>.prof) for pstats or snakeviz; PROFILE_CLOCK=cpu profiles CPU time instead of the wall clock.
PROFILE_PARTS=1 times each part of the request instead of
profiling it (bench/request_parts.py: each middleware, URL resolution, DRF's steps, the grab's steps,
the access log line, the garbage collector), in milliseconds of wall clock per request;
PROFILE_PARTS=cpu counts this thread's CPU time instead (waits on Redis and PostgreSQL left out;
each reading of that clock is a system call, so the parts carry more of the timers' own cost).
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).absolute().parent.parent
sys.path.insert(0, str(ROOT))
DB = os.environ.get("PROFILE_DB", "giftshop_profile")


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    parts = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/giftshop"))
    url = urlunsplit(parts._replace(path=f"/{DB}"))
    os.environ.update(DJANGO_SETTINGS_MODULE="bench.settings", BENCH_DATABASE_URL=url)
    import psycopg

    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB}"')
    try:
        return _profile(n)
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')


def _profile(n: int) -> int:
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection

    from bench.common import ADDRESS, bulk_users, catalogue, paid_gift
    from giftshop.wsgi import application

    call_command("migrate", verbosity=0, interactive=False)
    cache.clear()
    cat = catalogue(slug="profile", stock=10 * n)
    from django.contrib.auth import get_user_model

    sender = get_user_model().objects.create_user("profile-sender", password="x")
    slots = n // 2
    gift = paid_gift(sender=sender, sku=cat.sku, mode="group", recipients=slots)
    accounts = [token for _, token in bulk_users("profiled", 2 * n, with_tokens=True)]

    accept_gift = paid_gift(sender=sender, sku=cat.sku, mode="group", recipients=min(1000, n))
    accepter_tokens = [token for _, token in bulk_users("accepter", min(1000, n), with_tokens=True)]
    accepters = iter(accepter_tokens)
    address = json.dumps({"address": ADDRESS}).encode()

    def call(path: str, method: str = "GET", token: str | None = None, body: bytes = b"") -> int:
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": "application/json",
            "wsgi.errors": sys.stderr,
        }
        if token:
            environ["HTTP_AUTHORIZATION"] = f"Token {token}"
        status = []
        body = application(environ, lambda s, h, exc_info=None: status.append(s))
        content = b"".join(body)
        if os.environ.get("PROFILE_SHOW"):
            print(status, content[:300])
        if hasattr(body, "close"):
            body.close()
        return int(status[0].split()[0])

    grab = f"/api/v1/claims/{gift.claim_token}/grab/"
    # Each account has used its token before (opened the card): its cache entry is there, as in a storm.
    from giftshop.token_auth import CachedTokenAuthentication

    for token in accounts + accepter_tokens:
        CachedTokenAuthentication().authenticate_credentials(token)
    # Warm up: imports, URL resolver, connections, cached tokens and the gate.
    for token in accounts[:50]:
        call("/healthz")
        call(grab, "POST", token)
    parts = None
    if os.environ.get("PROFILE_PARTS"):
        from bench.request_parts import instrument

        parts = instrument(application, cpu=os.environ.get("PROFILE_PARTS") == "cpu")
        call = parts.wrap("outside the chain: WSGI handler, request_started/finished", call)
    profiling = not os.environ.get("PROFILE_OFF") and parts is None
    winners = iter(accounts[50 : 50 + slots])
    refused = iter(accounts[50 + slots :])
    # Every slot is taken below, by the "win" run; the "refused" run then meets a full gate.
    kinds = {
        "no-op GET /healthz": lambda: call("/healthz"),
        "grab, won": lambda: call(grab, "POST", next(winners)),
        "grab, refused (all taken)": lambda: call(grab, "POST", next(refused)),
        "accept with an address": lambda: call(
            f"/api/v1/claims/{accept_gift.claim_token}/accept/", "POST", next(accepters), address
        ),
    }
    report, machine = {}, {}
    for name, fn in kinds.items():
        runs = min(n, slots - 50) if "won" in name else min(1000, n) - 10 if "accept" in name else n
        for t in accounts[:5]:  # a refused request for every kind first: the tokens are cached
            call(grab, "POST", t)
        queries: list[str] = []  # (CaptureQueriesContext loses them: request_started resets the query log)
        with connection.execute_wrapper(lambda execute, sql, *a, q=queries: q.append(sql) or execute(sql, *a)):
            fn()
        statuses: dict[int, int] = {}
        sql_time: dict[str, list[float]] = {}

        def timed(execute, sql, *args, store=sql_time):
            t0 = time.perf_counter()
            try:
                return execute(sql, *args)
            finally:
                store.setdefault(sql[:70], []).append(time.perf_counter() - t0)

        # PROFILE_CLOCK=cpu: the profile counts this thread's CPU time, so waits on Redis and PostgreSQL
        # drop out of it (the default counts the wall clock, waits included).
        profiler = (
            cProfile.Profile(time.thread_time) if os.environ.get("PROFILE_CLOCK") == "cpu" else cProfile.Profile()
        )
        if parts is not None:
            parts.reset()
        others0 = _other_cpu(connection)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        if profiling:
            profiler.enable()
        with connection.execute_wrapper(timed):
            for _ in range(runs - 1):
                code = fn()
                statuses[code] = statuses.get(code, 0) + 1
        profiler.disable()
        if os.environ.get("PROFILE_DUMP"):
            profiler.dump_stats(os.environ["PROFILE_DUMP"] + "-" + name.split()[0].strip(",") + ".prof")
        cpu = (time.process_time() - cpu0) / max(1, runs - 1) * 1000
        wall = (time.perf_counter() - wall0) / max(1, runs - 1) * 1000
        others = {
            k: None if v is None else v / max(1, runs - 1) * 1000
            for k, v in _cpu_between(others0, _other_cpu(connection)).items()
        }
        in_sql = sum(sum(v) for v in sql_time.values()) / max(1, runs - 1) * 1000
        print(f"\n--- {name}: wall {wall:.2f} ms per request, {in_sql:.2f} ms of it in SQL calls (send, wait, read)")
        for shape, times in sorted(sql_time.items(), key=lambda kv: -sum(kv[1]))[:12]:
            print(
                f"    {sum(times) / max(1, runs - 1) * 1000:6.3f} ms/req  x{len(times) / max(1, runs - 1):4.2f}  {shape}"
            )
        if parts is not None:
            rows = parts.table(max(1, runs - 1))
            print(
                f"    {'CPU' if os.environ.get('PROFILE_PARTS') == 'cpu' else 'wall clock'} by part, {sum(ms for _, ms, _ in rows):.3f} ms per request in all:"
            )
            for label, ms, calls in rows:
                print(f"    {ms:6.3f} ms  x{calls:4.2f}  {label}")
        out = io.StringIO()
        if profiling and os.environ.get("PROFILE_DUMP"):
            dump = Path(os.environ["PROFILE_DUMP"])
            dump.mkdir(parents=True, exist_ok=True)
            profiler.dump_stats(
                dump / (name.split(" (")[0].replace(" ", "-").replace(",", "").replace("/", "") + ".prof")
            )
        if profiling:
            pstats.Stats(profiler, stream=out).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(
                int(os.environ.get("PROFILE_LINES", "25"))
            )
        report[name] = cpu
        machine[name] = None if None in others.values() else cpu + sum(others.values())
        print(
            f"\n+++ {name}: CPU per request outside this process: "
            + ", ".join(f"{k} {'unknown (reconnected)' if v is None else f'{v:.3f} ms'}" for k, v in others.items())
        )
        print(
            f"\n=== {name}: {cpu:.2f} ms CPU per request ({'profiled' if profiling else 'not profiled'}), statuses {statuses}, "
            f"statements {len(queries)}:\n  " + "\n  ".join(q[:160] for q in queries)
        )
        print(out.getvalue()[:6000])
    base = report["no-op GET /healthz"]
    print("\nCPU per request: this process; and with PostgreSQL's backend and Redis (no HTTP server, no network)")
    for name, cpu in report.items():
        whole = "     ?" if machine[name] is None else f"{machine[name]:6.2f}"
        print(f"{name:32s} {cpu:6.2f} ms  ({cpu / base:.1f}x the no-op)   {whole} ms")
    return 0


def _other_cpu(connection) -> dict[str, float | tuple]:
    """CPU seconds used so far by this connection's PostgreSQL backend (keyed by its process id: a
    connection closed at CONN_MAX_AGE and opened again is another process) and by the Redis server (all
    of it: someone else's load on the same server counts too). A backend on another host is left out."""
    import redis
    from django.conf import settings

    used: dict = {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        used["PostgreSQL"] = (pid, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
    except OSError:
        pass
    info = redis.Redis.from_url(settings.GRAB_GATE_URL).info("cpu")
    used["Redis"] = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    return used


def _cpu_between(before: dict, after: dict) -> dict[str, float | None]:
    """Seconds each used between two readings of `_other_cpu`; None for a backend that changed between
    them (its CPU before the change is not known)."""
    used: dict[str, float | None] = {}
    for name, value in after.items():
        if isinstance(value, tuple):
            old = before.get(name)
            used[name] = value[1] - old[1] if old is not None and old[0] == value[0] else None
        else:
            used[name] = value - before.get(name, value)
    return used


if __name__ == "__main__":
    sys.exit(main())

"""Group grab storm: 20,000 accounts race for the 1,000 slots of one group gift over HTTP.

Side by side in the same run, with the same tool, concurrency and duration: the no-op endpoint of
the same server (/healthz), and pgbench running the grab's own SQL on the same database.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from bench.common import (
    RESULTS,
    SCALE,
    Server,
    analyze,
    bulk_users,
    catalogue,
    db_params,
    log,
    noop_bracket,
    paid_gift,
    pg_env,
    sql,
    tokens_seen,
    wrk,
)

SLOTS = 1000
ATTEMPTS = int(20_000 * SCALE)
CONNECTIONS = 64
THREADS = 2
PGBENCH_CLIENTS = 16
SPARE = 4000
# The storm's p99 is decided while slots are still free (every request then wins): that path alone,
# on gifts with a slot for every request.
WIN_GIFTS = 10
NOOP_S = 10

# The statements one grab runs (token auth, the gift, "mine?", then the SKIP LOCKED take), with a
# per-client counter so every transaction is another account, as over HTTP.
PGBENCH_SCRIPT = """
\\set n :n + 1
\\set uid :ubase + ((:client_id + {clients} * :n) % :nusers)
SELECT t.key, u.id, u.is_active FROM authtoken_token t JOIN auth_user u ON u.id = t.user_id WHERE t.user_id = :uid;
SELECT id, status, mode, expires_at FROM gifts_gift WHERE id = :gift AND status NOT IN ('pending_payment', 'cancelled');
SELECT id FROM gifts_slot WHERE gift_id = :gift AND recipient_id = :uid LIMIT 1;
BEGIN;
UPDATE gifts_slot SET recipient_id = :uid, taken_at = now(), opened_at = now()
 WHERE id = (SELECT id FROM gifts_slot WHERE gift_id = :gift AND recipient_id IS NULL AND status = 'unclaimed'
             ORDER BY number LIMIT 1 FOR UPDATE SKIP LOCKED);
COMMIT;
"""


def _winners(gift_id: int) -> tuple[int, int]:
    (row,) = sql(
        "SELECT count(*), count(DISTINCT recipient_id) FROM gifts_slot WHERE gift_id = %s AND recipient_id IS NOT NULL",
        [gift_id],
    )
    return row


def _pgbench(*, gift_id: int, ubase: int, nusers: int, duration_s: int) -> dict:
    db = db_params()
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(PGBENCH_SCRIPT.format(clients=PGBENCH_CLIENTS))
        script = f.name
    cmd = [
        "pgbench",
        "-n",
        f"-h{db['host']}",
        f"-p{db['port']}",
        f"-U{db['user']}",
        f"-c{PGBENCH_CLIENTS}",
        f"-j{THREADS}",
        f"-T{duration_s}",
        "-D",
        "n=0",
        "-D",
        f"gift={gift_id}",
        "-D",
        f"ubase={ubase}",
        "-D",
        f"nusers={nusers}",
        "-f",
        script,
        db["name"],
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, env=pg_env(), timeout=duration_s + 120)  # noqa: S603
    Path(script).unlink(missing_ok=True)
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out.stdout)
    latency = re.search(r"latency average = ([\d.]+) ms", out.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", out.stdout)
    if tps is None:
        raise RuntimeError(f"pgbench gave no tps:\n{out.stdout}\n{out.stderr}")
    return {
        "tps": round(float(tps.group(1)), 1),
        "latency_avg_ms": float(latency.group(1)) if latency else None,
        "failed": int(failed.group(1)) if failed else 0,
        "clients": PGBENCH_CLIENTS,
        "duration_s": duration_s,
    }


class _Flusher(threading.Thread):
    """Deletes the gift's gate keys once the gate's free count falls to half: Redis restarted empty."""

    def __init__(self, gift_id: int) -> None:
        super().__init__(daemon=True)
        self.gift_id = gift_id
        self.flushed_at_free: int | None = None

    def run(self) -> None:
        import redis
        from django.conf import settings

        client = redis.Redis.from_url(settings.GRAB_GATE_URL)
        key = f"grab:{{{self.gift_id}}}"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            free = client.get(f"{key}:free")
            if free is not None and int(free) <= SLOTS // 2:
                client.delete(f"{key}:free", f"{key}:holders", f"{key}:building")
                self.flushed_at_free = int(free)
                return
            time.sleep(0.005)


def _win_phase_s(gift_id: int, started: float) -> float | None:
    """The storm's first phase, the one the wins are in: from its start until the last slot was taken
    (the latest `taken_at`, written by the web process that won it). Every request of that phase waits
    behind a database write, so the storm's tail latency is decided there."""
    (row,) = sql(
        "SELECT count(*), extract(epoch FROM max(taken_at)) FROM gifts_slot WHERE gift_id = %s AND recipient_id IS NOT NULL",
        [gift_id],
    )
    taken, last = row
    return round(float(last) - started, 2) if taken >= SLOTS and last is not None else None


def _cpu_line(result) -> str:
    switches = "/".join(str(v) for v in result.web_switches_per_request.values())
    cpu = ", ".join(f"{k} {v}" for k, v in result.cpu_ms_per_request.items() if v >= 0.005)
    return f"{cpu}; web context switches per request (voluntary/involuntary) {switches}"


def _flush_gate_midway(gift_id: int) -> _Flusher:
    flusher = _Flusher(gift_id)
    flusher.start()
    return flusher


def run(server: Server) -> dict:
    log(f"grab storm: setting up {ATTEMPTS:,} accounts with tokens and group gifts of {SLOTS} slots")
    cat = catalogue(slug="grab", stock=(5 + WIN_GIFTS) * SLOTS)
    from django.contrib.auth import get_user_model

    sender = get_user_model().objects.create_user("grab-sender", password="bench-pass")
    gift = paid_gift(sender=sender, sku=cat.sku, mode="group", recipients=SLOTS)
    flushed_gift = paid_gift(sender=sender, sku=cat.sku, mode="group", recipients=SLOTS)
    pg_gift = paid_gift(sender=sender, sku=cat.sku, mode="group", recipients=SLOTS)
    warm_gift = paid_gift(sender=sender, sku=cat.sku, mode="group", recipients=SLOTS)
    # Threads finish their share at slightly different times and go on until the last one has: spares.
    accounts = bulk_users("grabber", ATTEMPTS + SPARE, with_tokens=True)
    analyze("auth_user", "authtoken_token", "gifts_slot", "gifts_gift")
    tokens_seen(accounts)
    tokens_file = Path(tempfile.mkstemp(prefix="grab-tokens-", suffix=".txt", dir=RESULTS)[1])
    tokens_file.write_text("\n".join(token for _, token in accounts) + "\n")
    grab_url = f"{server.base}/api/v1/claims/{gift.claim_token}/grab/"

    # The no-op is measured on a warm server: the grab storm too. Warmed on the no-op and the card alone,
    # the first storm on a fresh server ran 2% slower on average than the gate-flushed one after it.
    log("grab storm: warming the workers up (no-op, claim card and a grab storm on another gift, 3 s each)")
    wrk(f"{server.base}/healthz", connections=CONNECTIONS, threads=THREADS, duration_s=3)
    wrk(f"{server.base}/api/v1/claims/{gift.claim_token}/", connections=8, threads=THREADS, duration_s=3)
    wrk(
        f"{server.base}/api/v1/claims/{warm_gift.claim_token}/grab/",
        connections=CONNECTIONS,
        threads=THREADS,
        duration_s=3,
        tokens_file=tokens_file,
    )

    # The no-op right before and right after the storm, the ratio against their mean (noop_bracket).
    log(f"grab storm: no-op ceiling before the storm, GET /healthz, {CONNECTIONS} connections, {NOOP_S} s")
    noop_before = wrk(f"{server.base}/healthz", connections=CONNECTIONS, threads=THREADS, duration_s=NOOP_S)
    log(f"grab storm: {ATTEMPTS:,} grabs, {CONNECTIONS} connections, each request another account")
    started = time.time()
    grab = wrk(
        grab_url,
        connections=CONNECTIONS,
        threads=THREADS,
        duration_s=600,
        tokens_file=tokens_file,
        quota_per_thread=ATTEMPTS // THREADS,
    )
    winners, distinct = _winners(gift.pk)
    win_phase = _win_phase_s(gift.pk, started)
    win_rate = round(SLOTS / win_phase, 1) if win_phase else None
    log(
        f"grab storm: {grab.requests:,} answers in {grab.duration_s} s = {grab.rps} grabs/s, "
        f"p50 {grab.p50_ms} ms, p99 {grab.p99_ms} ms, statuses {grab.statuses}; "
        f"winners in the database {winners}, distinct {distinct}; "
        f"the {SLOTS} wins were in within {win_phase} s ({win_rate} wins/s)"
    )

    noop = wrk(f"{server.base}/healthz", connections=CONNECTIONS, threads=THREADS, duration_s=NOOP_S)
    noops = noop_bracket(noop_before, noop)
    log(f"grab storm: no-op {noop_before.rps} req/s before the storm, {noop.rps} after (p99 {noop.p99_ms} ms)")
    log(f"grab storm: CPU per request, ms: grab {_cpu_line(grab)}; no-op {_cpu_line(noop)}")

    log("grab storm: the same storm on another gift, its Redis gate deleted once half the slots are gone")
    flushes = _flush_gate_midway(flushed_gift.pk)
    tokens_file.write_text("\n".join(token for _, token in accounts) + "\n")
    flushed = wrk(
        f"{server.base}/api/v1/claims/{flushed_gift.claim_token}/grab/",
        connections=CONNECTIONS,
        threads=THREADS,
        duration_s=600,
        tokens_file=tokens_file,
        quota_per_thread=ATTEMPTS // THREADS,
    )
    flushes.join(timeout=5)
    f_winners, f_distinct = _winners(flushed_gift.pk)
    log(
        f"grab storm (gate flushed at {flushes.flushed_at_free} free): {flushed.rps} grabs/s, p99 {flushed.p99_ms} ms, "
        f"statuses {flushed.statuses}; winners {f_winners}, distinct {f_distinct}"
    )

    win_grabs = min(WIN_GIFTS * SLOTS, len(accounts))  # one grab per account: a small BENCH_SCALE has fewer
    log(f"grab storm: the win path alone, {win_grabs:,} grabs spread over {WIN_GIFTS} gifts of {SLOTS} slots")
    win_gifts = [paid_gift(sender=sender, sku=cat.sku, mode="group", recipients=SLOTS) for _ in range(WIN_GIFTS)]
    analyze("gifts_slot", "gifts_gift")
    tokens_file.write_text(
        "".join(
            f"{token} /api/v1/claims/{win_gifts[i % WIN_GIFTS].claim_token}/grab/\n"
            for i, (_, token) in enumerate(accounts[:win_grabs])
        )
    )
    wins = wrk(
        grab_url,
        connections=CONNECTIONS,
        threads=THREADS,
        duration_s=600,
        tokens_file=tokens_file,
        quota_per_thread=max(1, win_grabs // THREADS - CONNECTIONS),  # stopped before the tokens run out
    )
    tokens_file.unlink(missing_ok=True)
    log(
        f"grab storm (every grab a win): {wins.rps} grabs/s, p50 {wins.p50_ms} ms, p99 {wins.p99_ms} ms, "
        f"statuses {wins.statuses}; CPU per request, ms: {_cpu_line(wins)}"
    )

    duration = max(10, min(30, round(grab.duration_s)))
    log(f"grab storm: database ceiling, pgbench with the grab's SQL, {PGBENCH_CLIENTS} clients, {duration} s")
    pg = _pgbench(gift_id=pg_gift.pk, ubase=accounts[0][0], nusers=ATTEMPTS, duration_s=duration)
    pg_winners, pg_distinct = _winners(pg_gift.pk)
    log(f"grab storm: pgbench {pg['tps']} tps (avg {pg['latency_avg_ms']} ms), its gift got {pg_winners} winners")

    met_ratio = grab.rps / noops["rps"] >= 0.5
    return {
        "slots": SLOTS,
        "attempts": grab.requests,
        "connections": CONNECTIONS,
        "web_workers": server.workers,
        "grab": grab.as_dict(),
        "winners": winners,
        "winners_distinct": distinct,
        "win_phase_s": win_phase,
        "win_phase_wins_per_s": win_rate,
        "winners_ok": winners == SLOTS and distinct == SLOTS,
        "flushed_midway": {
            **flushed.as_dict(),
            "gate_flushed_at_free": flushes.flushed_at_free,
            "winners": f_winners,
            "winners_distinct": f_distinct,
            "winners_ok": f_winners == SLOTS and f_distinct == SLOTS,
            "no_5xx": not flushed.statuses.get("5xx"),
        },
        "wins_only": {**wins.as_dict(), "gifts": WIN_GIFTS},
        "noop": noops,
        "pgbench": {**pg, "winners": pg_winners, "winners_distinct": pg_distinct},
        "ratio_grab_to_noop": round(grab.rps / noops["rps"], 3),
        "ratio_grab_to_pgbench": round(grab.rps / pg["tps"], 3),
        "target_met": {
            "throughput_ge_50pct_noop": met_ratio,
            "p99_lt_100ms": grab.p99_ms < 100,
            "flushed_exact_winners_no_5xx": f_winners == SLOTS
            and f_distinct == SLOTS
            and not flushed.statuses.get("5xx"),
        },
    }

"""Accept burst over HTTP: accounts accept a group gift with a shipping address, all at once.

Side by side in the same run, with the same tool and concurrency: every accept on ONE gift of 1,000
slots, then the same number of accepts spread over 20 gifts of 50 slots, then the no-op endpoint.
If accepts on one gift queued behind a lock on its row, the first would be far slower than the
second; "no hot row" means they run at about the same rate. (A gift has at most 1,000 slots, so each
side is 1,000 accepts rather than the 2,000 of the claim pipeline's burst.)

The accept grabs a slot on the way (no grab first), stores the encrypted address and records the
worker's job; no worker runs here (the claim pipeline has its own benchmark).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from bench.common import (
    ADDRESS,
    RESULTS,
    SCALE,
    Server,
    analyze,
    bulk_users,
    catalogue,
    log,
    noop_bracket,
    paid_gift,
    sql,
    tokens_seen,
    wrk,
)

ACCEPTS = max(40, int(1000 * SCALE))
SPREAD_GIFTS = 20
CONNECTIONS = 64
THREADS = 2


def _accepted(gift_ids: list[int]) -> int:
    """Accepted slots, once the count holds still: wrk is stopped as soon as every thread has had its
    answers, and a request it gave up on may still be committing on the server."""
    last, stable_since = -1, time.monotonic()
    while time.monotonic() - stable_since < 1.0:
        now = sql("SELECT count(*) FROM gifts_slot WHERE gift_id = ANY(%s) AND status = 'accepted'", [gift_ids])[0][0]
        if now != last:
            last, stable_since = now, time.monotonic()
        time.sleep(0.1)
    return last


def _storm(server: Server, lines: list[str], body: Path):
    tokens_file = Path(tempfile.mkstemp(prefix="accept-", suffix=".txt", dir=RESULTS)[1])
    tokens_file.write_text("\n".join(lines) + "\n")
    try:
        return wrk(
            f"{server.base}/healthz",  # each line names its own path
            connections=CONNECTIONS,
            threads=THREADS,
            duration_s=600,
            tokens_file=tokens_file,
            quota_per_thread=len(lines) // THREADS,
            body_file=body,
        )
    finally:
        tokens_file.unlink(missing_ok=True)


def run(server: Server) -> dict:
    from django.contrib.auth import get_user_model

    log(f"accept burst: {ACCEPTS} accounts accept one gift of {ACCEPTS} slots, then {SPREAD_GIFTS} gifts")
    cat = catalogue(slug="accept", stock=10 * ACCEPTS)
    sender = get_user_model().objects.create_user("accept-sender", password="bench-pass")
    big = paid_gift(sender=sender, sku=cat.sku, mode="group", recipients=ACCEPTS)
    per = ACCEPTS // SPREAD_GIFTS
    spread = [paid_gift(sender=sender, sku=cat.sku, mode="group", recipients=per) for _ in range(SPREAD_GIFTS)]
    # Threads finish their share at slightly different times and go on until the last one has: the
    # last requests of the faster thread are refused (all taken), which wrk counts but we do not.
    one_side = bulk_users("accept-big", ACCEPTS, with_tokens=True)
    other_side = bulk_users("accept-spread", ACCEPTS, with_tokens=True)
    tokens_seen(one_side + other_side)
    analyze("auth_user", "authtoken_token", "gifts_slot", "gifts_gift")
    body = Path(tempfile.mkstemp(prefix="accept-body-", suffix=".json", dir=RESULTS)[1])
    body.write_text(json.dumps({"address": ADDRESS}, ensure_ascii=False))

    log("accept burst: warming the workers up (no-op, 3 s)")
    wrk(f"{server.base}/healthz", connections=CONNECTIONS, threads=THREADS, duration_s=3)
    try:
        big_path = f"/api/v1/claims/{big.claim_token}/accept/"
        one = _storm(server, [f"{token} {big_path}" for _, token in one_side], body)
        one_done = _accepted([big.pk])
        log(
            f"accept burst, one gift: {one.rps} accepts/s, p50 {one.p50_ms} ms, p99 {one.p99_ms} ms, "
            f"statuses {one.statuses}, accepted {one_done}"
        )
        # The no-op right before and right after the spread burst (the one it is compared with), the
        # ratio against their mean (noop_bracket).
        noop_before = wrk(f"{server.base}/healthz", connections=CONNECTIONS, threads=THREADS, duration_s=10)
        lines = [
            f"{token} /api/v1/claims/{spread[i % SPREAD_GIFTS].claim_token}/accept/"
            for i, (_, token) in enumerate(other_side)
        ]
        many = _storm(server, lines, body)
        many_done = _accepted([g.pk for g in spread])
        log(
            f"accept burst, {SPREAD_GIFTS} gifts: {many.rps} accepts/s, p50 {many.p50_ms} ms, "
            f"p99 {many.p99_ms} ms, statuses {many.statuses}, accepted {many_done}"
        )
    finally:
        body.unlink(missing_ok=True)
    noop = wrk(f"{server.base}/healthz", connections=CONNECTIONS, threads=THREADS, duration_s=10)
    noops = noop_bracket(noop_before, noop)
    log(f"accept burst: no-op {noop_before.rps} req/s before the spread burst, {noop.rps} after")
    big.refresh_from_db()
    return {
        "accepts_per_side": ACCEPTS,
        "one_gift": {**one.as_dict(), "accepted": one_done, "gift_status": big.status},
        "spread": {**many.as_dict(), "accepted": many_done, "gifts": SPREAD_GIFTS},
        "noop": noops,
        "ratio_accept_to_noop": round(many.rps / noops["rps"], 3),
        "ratio_one_gift_to_spread": round(one.rps / many.rps, 3),
        "target_met": {
            "accept_ge_15pct_noop": many.rps / noops["rps"] >= 0.15,
            "one_gift_ge_80pct_spread": one.rps / many.rps >= 0.8,
            "every_slot_accepted": one_done == ACCEPTS and many_done == per * SPREAD_GIFTS,
        },
    }

"""Expiry sweep over a 1,000,000-gift table: time and statements of gifts.services.expiry.expire_due
with 10,000 gifts due, then with 100,000 due in the same table. Cost should follow what expired.

Refund and notification tasks are really published (Celery eager off) to the bench Redis database,
which no worker reads and which is flushed afterwards: the publish cost is part of the figure.
"""

from __future__ import annotations

import time

from bench import dataset
from bench.common import SCALE, analyze, count_queries, log, sql

SMALL = int(10_000 * SCALE)
BIG = int(100_000 * SCALE)
# expire_due is called 20 batches at a time until nothing is due or this much time has passed; a run
# cut short reports its cost per expired row on what it did (the rest stays due).
TIME_LIMIT_S = 150


def _make_due(lo: int, hi: int) -> None:
    """Move the claim window of gifts lo..hi (unclaimed ones) into the past."""
    sql("UPDATE gifts_gift SET expires_at = now() - interval '1 hour' WHERE id BETWEEN %s AND %s", [lo, hi])
    sql(
        "UPDATE gifts_slot SET expires_at = now() - interval '1 hour' WHERE id BETWEEN %s AND %s AND status = 'unclaimed'",
        [lo, hi],
    )
    analyze("gifts_gift", "gifts_slot")


def _due() -> int:
    (row,) = sql("SELECT count(*) FROM gifts_slot WHERE status = 'unclaimed' AND expires_at <= now()")
    return row[0]


def _sweep(label: str) -> dict:
    from django.conf import settings

    from gifts.services.expiry import expire_due

    due = _due()
    log(f"expiry sweep: {label}: {due:,} slots due; sweeping with batches of {settings.SWEEP_BATCH_SIZE}")
    with count_queries() as counter:
        t0 = time.perf_counter()
        expired = 0
        while time.perf_counter() - t0 < TIME_LIMIT_S:
            n = expire_due(batch_size=settings.SWEEP_BATCH_SIZE, max_batches=20)
            expired += n
            if n == 0:
                break
        seconds = time.perf_counter() - t0
    (left,) = sql("SELECT count(*) FROM gifts_slot WHERE status = 'unclaimed' AND expires_at <= now()")
    (refunds,) = sql("SELECT count(*) FROM gifts_refund WHERE reason = 'expired'")
    result = {
        "label": label,
        "due": due,
        "expired": expired,
        "left_due": left[0],
        "cut_short": left[0] > 0,
        "refunds_total": refunds[0],
        "seconds": round(seconds, 2),
        "queries": counter.count,
        "ms_per_row": round(seconds * 1000 / max(1, expired), 3),
        "queries_per_row": round(counter.count / max(1, expired), 2),
    }
    if left[0]:
        log(f"expiry sweep: {label}: stopped at the {TIME_LIMIT_S} s limit with {left[0]:,} still due")
    log(
        f"expiry sweep: {label}: {expired:,} expired in {result['seconds']} s, {counter.count:,} statements "
        f"({result['ms_per_row']} ms and {result['queries_per_row']} statements per expired row)"
    )
    return result


def run(server) -> dict:
    ds = dataset.get()
    assert ds.expired == SMALL, "the data set was built with another number of due gifts"
    runs = [_sweep(f"{SMALL:,} due")]
    # The next BIG gifts after the ones the dataset made due (every other one is accepted, so twice as many ids).
    lo = ds.first_id + SMALL
    _make_due(lo, lo + 2 * BIG - 1)
    runs.append(_sweep(f"{BIG:,} due"))
    small, big = runs
    ratio = big["ms_per_row"] / small["ms_per_row"]
    return {
        "gifts": ds.gifts,
        "runs": runs,
        "per_row_ratio": round(ratio, 2),
        "queries_per_row_ratio": round(big["queries_per_row"] / small["queries_per_row"], 2),
        "proportional": 0.5 <= ratio <= 2.0,
        "tasks": "published to Redis (eager off, no worker; the bench Redis database is flushed afterwards)",
        "dataset_seconds": ds.seconds,
    }

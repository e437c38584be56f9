"""Claim to dispatch: 2,000 accepts made through the service layer (many threads), processed by a real
Celery worker (2 processes) on Redis: accept -> `process_claim` -> `dispatch_shipment` -> waybill issued."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from bench.common import RESULTS, ROOT, SCALE, VENV_BIN, bulk_users, catalogue, log, paid_gift, pct

GIFTS = max(2, int(20 * SCALE))
SLOTS_PER_GIFT = 100
ACCEPT_THREADS = 8
WORKER_PROCESSES = 2
WAIT_LIMIT_S = 300
ADDRESS = {
    "name": "张三",
    "phone": "13812345678",
    "province": "广东省",
    "city": "深圳市",
    "district": "南山区",
    "detail": "科技园南路 88 号 3 栋 1201",
}


def _start_worker() -> subprocess.Popen:
    cmd = [
        str(VENV_BIN / "celery"),
        "-A",
        "giftshop",
        "worker",
        "-c",
        str(WORKER_PROCESSES),
        "-P",
        "prefork",
        "-l",
        "warning",
        "-n",
        f"bench-{os.getpid()}@%h",
        "--without-gossip",
        "--without-mingle",
        "--logfile",
        str(RESULTS / "celery-worker.log"),
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ), start_new_session=True)  # noqa: S603
    from giftshop.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the Celery worker exited; see bench/results/celery-worker.log")
        if app.control.ping(timeout=1):
            return proc
    raise RuntimeError("the Celery worker did not answer a ping within 60 s")


def _stop_worker(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _queue_length() -> int:
    import redis
    from django.conf import settings

    try:
        return redis.Redis.from_url(settings.CELERY_BROKER_URL).llen("celery")
    except redis.RedisError:
        return -1


def _requeue() -> int:
    from django.utils import timezone

    from outbox.jobs import jobs_republish_due
    from outbox.models import Job

    Job.objects.update(due_at=timezone.now())
    n = jobs_republish_due(limit=100_000)
    if n:
        log(f"claim to dispatch: the queue was empty with work left; published {n} outbox jobs again")
    return n


def _accept(token: str, user_id: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from gifts.services.claim import AddressInput, claim_gift_get, slot_accept

    try:
        user = get_user_model().objects.get(pk=user_id)
        slot_accept(gift=claim_gift_get(token=token), user=user, address=AddressInput.from_dict(ADDRESS))
    finally:
        connection.close()


def run(server) -> dict:
    from django.contrib.auth import get_user_model

    from fulfilment.models import Shipment
    from gifts.models import Slot

    accepts = GIFTS * SLOTS_PER_GIFT
    log(f"claim to dispatch: {GIFTS} group gifts of {SLOTS_PER_GIFT} slots, {accepts:,} recipients")
    cat = catalogue(slug="dispatch", stock=10 * accepts)
    sender = get_user_model().objects.create_user("dispatch-sender", password="bench-pass")
    gifts = [paid_gift(sender=sender, sku=cat.sku, mode="group", recipients=SLOTS_PER_GIFT) for _ in range(GIFTS)]
    recipients = [uid for uid, _ in bulk_users("recipient", accepts)]
    jobs = [(gifts[i % GIFTS].claim_token, uid) for i, uid in enumerate(recipients)]

    log(f"claim to dispatch: starting a Celery worker with {WORKER_PROCESSES} processes on Redis")
    worker = _start_worker()
    try:
        log(f"claim to dispatch: {accepts:,} accepts from {ACCEPT_THREADS} threads")
        t0 = time.monotonic()
        with ThreadPoolExecutor(ACCEPT_THREADS) as pool:
            list(pool.map(lambda job: _accept(*job), jobs))
        accept_s = time.monotonic() - t0
        log(f"claim to dispatch: accepts recorded in {accept_s:.1f} s; waiting for the waybills")
        shipments = Shipment.objects.filter(slot__gift__in=gifts, status=Shipment.Status.ISSUED)
        deadline = time.monotonic() + WAIT_LIMIT_S
        requeued, idle_since = 0, None
        while shipments.count() < accepts and time.monotonic() < deadline:
            time.sleep(0.5)
            # The queue is empty but work is left: messages were lost (another process on this machine
            # restarted or flushed Redis). Do what beat's outbox sweep does in production.
            if _queue_length() == 0:
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > 3:
                    requeued += _requeue()
                    idle_since = None
            else:
                idle_since = None
    finally:
        _stop_worker(worker)

    rows = list(
        Slot.objects.filter(gift__in=gifts, shipment__status=Shipment.Status.ISSUED).values_list(
            "accepted_at", "shipment__issued_at"
        )
    )
    latencies = [(issued - accepted).total_seconds() for accepted, issued in rows]
    first_accept = min(a for a, _ in rows) if rows else None
    last_issue = max(i for _, i in rows) if rows else None
    span = (last_issue - first_accept).total_seconds() if rows else None
    result = {
        "accepts": accepts,
        "issued": len(rows),
        "accept_threads": ACCEPT_THREADS,
        "worker_processes": WORKER_PROCESSES,
        "accepts_per_s": round(accepts / accept_s, 1),
        "latency_p50_s": round(pct(latencies, 50), 2) if latencies else None,
        "latency_p99_s": round(pct(latencies, 99), 2) if latencies else None,
        "latency_max_s": round(max(latencies), 2) if latencies else None,
        "dispatches_per_s": round(len(rows) / span, 1) if span else None,
        "requeued_after_lost_messages": requeued,
        "note": "all accepts are submitted at once, so the latency includes waiting in the queue behind them",
    }
    log(
        f"claim to dispatch: {result['issued']:,}/{accepts:,} waybills, {result['dispatches_per_s']} dispatches/s, "
        f"accept -> waybill p50 {result['latency_p50_s']} s, p99 {result['latency_p99_s']} s "
        f"(accepts ran at {result['accepts_per_s']}/s)"
    )
    return result

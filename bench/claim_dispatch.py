"""Claim to dispatch: 2,000 accepts made through the service layer (many threads), processed by a real
Celery worker (2 processes) on Redis: accept -> claims batch -> waybills batch -> waybill issued.

Two phases on two sets of gifts. Burst: the worker's consumer is paused while the 2,000 accepts are
recorded, then resumed, so the pipeline sees all 2,000 at once (what a burst faster than this
in-process accept loop would give it): dispatches/s and the time from release to waybill measure the
pipeline alone. Live: the worker runs while the accepts are recorded, as in production; accept ->
waybill includes whatever queueing there is."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from bench.common import ADDRESS, RESULTS, ROOT, SCALE, VENV_BIN, bulk_users, catalogue, log, paid_gift, pct

GIFTS = max(2, int(20 * SCALE))
SLOTS_PER_GIFT = 100
ACCEPT_THREADS = 8
WORKER_PROCESSES = 2
WORKER_NAME = f"bench-{os.getpid()}@localhost"
WAIT_LIMIT_S = 300


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
        WORKER_NAME,
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


def _forget_earlier_work() -> int:
    """Work the benchmarks before this one left (the accept burst records 2,000 claims with no worker
    running): without this, the worker's first batch would take the earlier claims and then this
    run's, during the pause, and no figure would be this run's own."""
    import redis
    from django.conf import settings

    from outbox.models import Job

    left, _ = Job.objects.all().delete()
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete("celery")
    return left


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


def _consuming(on: bool) -> None:
    from giftshop.celery import app

    control = app.control.add_consumer if on else app.control.cancel_consumer
    replies = control("celery", destination=[WORKER_NAME], reply=True, timeout=10)
    if not replies or any("error" in answer for reply in replies for answer in reply.values()):
        raise RuntimeError(f"the Celery worker did not take the consumer control command: {replies}")
    log(f"claim to dispatch: consumer {'on' if on else 'off'}: {replies}")


def _accept_all(jobs: list[tuple[str, int]]) -> float:
    t0 = time.monotonic()
    with ThreadPoolExecutor(ACCEPT_THREADS) as pool:
        list(pool.map(lambda job: _accept(*job), jobs))
    return time.monotonic() - t0


def _wait_for_waybills(gifts, expected: int) -> int:
    from fulfilment.models import Shipment

    shipments = Shipment.objects.filter(slot__gift__in=gifts, status=Shipment.Status.ISSUED)
    deadline = time.monotonic() + WAIT_LIMIT_S
    requeued, stalled_since, last = 0, None, -1
    while (done := shipments.count()) < expected and time.monotonic() < deadline:
        time.sleep(0.2)
        # The queue is empty and nothing moves, yet work is left: messages were lost (another process
        # on this machine restarted or flushed Redis). Do what beat's outbox sweep does in production.
        if done == last and _queue_length() == 0:
            stalled_since = stalled_since or time.monotonic()
            if time.monotonic() - stalled_since > 5:
                requeued += _requeue()
                stalled_since = None
        else:
            stalled_since = None
        last = done
    return requeued


def _issued(gifts) -> list[tuple]:
    from fulfilment.models import Shipment
    from gifts.models import Slot

    return list(
        Slot.objects.filter(gift__in=gifts, shipment__status=Shipment.Status.ISSUED).values_list(
            "accepted_at", "shipment__issued_at"
        )
    )


def _phase_gifts(sender, sku, recipients: list[int]) -> tuple[list, list[tuple[str, int]]]:
    gifts = [paid_gift(sender=sender, sku=sku, mode="group", recipients=SLOTS_PER_GIFT) for _ in range(GIFTS)]
    return gifts, [(gifts[i % GIFTS].claim_token, uid) for i, uid in enumerate(recipients)]


def run(server) -> dict:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    accepts = GIFTS * SLOTS_PER_GIFT
    log(f"claim to dispatch: 2 x {GIFTS} group gifts of {SLOTS_PER_GIFT} slots, 2 x {accepts:,} recipients")
    cat = catalogue(slug="dispatch", stock=20 * accepts)
    sender = get_user_model().objects.create_user("dispatch-sender", password="bench-pass")
    burst_gifts, burst_jobs = _phase_gifts(sender, cat.sku, [uid for uid, _ in bulk_users("burst", accepts)])
    live_gifts, live_jobs = _phase_gifts(sender, cat.sku, [uid for uid, _ in bulk_users("live", accepts)])

    log(f"claim to dispatch: {_forget_earlier_work()} outbox jobs of earlier benchmarks dropped, queue emptied")
    log(f"claim to dispatch: starting a Celery worker with {WORKER_PROCESSES} processes on Redis")
    worker = _start_worker()
    try:
        _consuming(False)
        log(f"claim to dispatch (burst): {accepts:,} accepts from {ACCEPT_THREADS} threads, worker paused")
        burst_accept_s = _accept_all(burst_jobs)
        log(f"claim to dispatch (burst): accepts recorded in {burst_accept_s:.1f} s; releasing the worker")
        released = timezone.now()
        _consuming(True)
        requeued = _wait_for_waybills(burst_gifts, accepts)
        burst = _issued(burst_gifts)

        log(f"claim to dispatch (live): {accepts:,} accepts from {ACCEPT_THREADS} threads, worker running")
        live_accept_s = _accept_all(live_jobs)
        log(f"claim to dispatch (live): accepts recorded in {live_accept_s:.1f} s; waiting for the waybills")
        requeued += _wait_for_waybills(live_gifts, accepts)
        live = _issued(live_gifts)
    finally:
        _stop_worker(worker)

    since_release = [(issued - released).total_seconds() for _, issued in burst]
    # A waybill issued before the release means the pause did not hold (the worker consumed during the
    # accepts): the burst figures would be meaningless, so none are given.
    burst_valid = bool(burst) and min(since_release) >= 0
    if not burst_valid:
        log("claim to dispatch (burst): INVALID, waybills were issued while the worker was meant to be paused")
    burst_span = max(since_release) if burst_valid else None
    live_latencies = [(issued - accepted).total_seconds() for accepted, issued in live]
    live_span = (max(i for _, i in live) - min(a for a, _ in live)).total_seconds() if live else None
    result = {
        "accepts": accepts,
        "issued": len(burst),
        "accept_threads": ACCEPT_THREADS,
        "worker_processes": WORKER_PROCESSES,
        "batch_sizes": {
            "claims": settings_value("CLAIM_BATCH_SIZE"),
            "waybills": settings_value("DISPATCH_BATCH_SIZE"),
        },
        "courier_concurrency": settings_value("COURIER_CONCURRENCY"),
        "dispatches_per_s": round(len(burst) / burst_span, 1) if burst_span else None,
        "burst_valid": burst_valid,
        "burst_latency_p50_s": round(pct(since_release, 50), 2) if burst_valid else None,
        "burst_latency_p99_s": round(pct(since_release, 99), 2) if burst_valid else None,
        "live_issued": len(live),
        "accepts_per_s": round(accepts / live_accept_s, 1),
        "latency_p50_s": round(pct(live_latencies, 50), 2) if live else None,
        "latency_p99_s": round(pct(live_latencies, 99), 2) if live else None,
        "latency_max_s": round(max(live_latencies), 2) if live else None,
        "live_dispatches_per_s": round(len(live) / live_span, 1) if live_span else None,
        "requeued_after_lost_messages": requeued,
        "note": (
            "burst: all accepts recorded with the worker paused, then released; dispatches/s and latency are "
            "counted from the release. live: the worker runs while the accepts are recorded, so its "
            "dispatches/s cannot exceed the accept rate"
        ),
    }
    log(
        f"claim to dispatch (burst): {result['issued']:,}/{accepts:,} waybills, {result['dispatches_per_s']} "
        f"dispatches/s, release -> waybill p50 {result['burst_latency_p50_s']} s, p99 {result['burst_latency_p99_s']} s"
    )
    log(
        f"claim to dispatch (live): {result['live_issued']:,}/{accepts:,} waybills, accept -> waybill p50 "
        f"{result['latency_p50_s']} s, p99 {result['latency_p99_s']} s (accepts ran at {result['accepts_per_s']}/s)"
    )
    return result


def settings_value(name: str):
    from django.conf import settings

    return getattr(settings, name)

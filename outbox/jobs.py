"""The one way to cause a side effect after commit: `enqueue("app.tasks.name", *ids)`.

The job row is written in the caller's transaction; after commit it is published to the broker,
and a broker that is down only delays it (the request that committed never fails for it). The row
is deleted when the task has run to the end; until then beat publishes it again once it is due
(`OUTBOX_RETRY_SECONDS` after the last try, doubling each time), so a broker restarted empty or a
worker killed mid-task loses nothing. Every task is safe to run twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from giftshop.errors import ProviderUnavailable
from outbox.models import Job

log = logging.getLogger(__name__)

# Celery options for tasks that call an outside service: retry only a temporary failure, with backoff.
RETRY_TEMPORARY = {
    "autoretry_for": (ProviderUnavailable,),
    "retry_backoff": 2,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 8,
}

TASK_ID_PREFIX = "outbox-"


def enqueue(task: str, *args, countdown: float = 0) -> Job:
    """Record `task(*args)` in this transaction; publish it once the transaction commits."""
    job = Job.objects.create(task=task, args=list(args), due_at=_next_due(countdown=countdown))
    transaction.on_commit(lambda: publish(job, countdown=countdown))
    return job


def enqueue_along(task: str, *args) -> Job:
    """`enqueue` whose row the caller writes itself, in a statement of its own transaction (the accept
    writes it with the slot's move: `giftshop.rows.write_rows`). Returns the unsaved row; it is
    published once the transaction commits, by which time it must have been written."""
    job = Job(task=task, args=list(args), due_at=_next_due())

    def publish_written():
        if job.pk is None:  # a bug: the caller did not write it (nothing committed, nothing to publish)
            log.error("a job of %s was enqueued along a statement that did not write it", task)
            return
        publish(job)

    transaction.on_commit(publish_written)
    return job


def enqueue_many(task: str, args_list: list[tuple], *, countdown: float = 0) -> list[Job]:
    """`enqueue` for a batch (one insert): the expiry sweep's refunds, a batch of e-mails."""
    due = _next_due(countdown=countdown)
    jobs = Job.objects.bulk_create(Job(task=task, args=list(args), due_at=due) for args in args_list)

    def publish_all():
        for job in jobs:
            if not publish(job, countdown=countdown):
                break  # the broker is down: beat publishes the rest when it is back
            if _batch_task(import_string(task)):
                break  # one message starts the batch that takes them all

    if jobs:
        transaction.on_commit(publish_all)
    return jobs


def publish(job: Job, *, countdown: float = 0) -> bool:
    """Hand a job to the broker. False when the broker cannot take it now; the row stays due.

    A job of a batched task (declared with `outbox_batch="app.tasks.batch_task"`) is not a message
    of its own on a real broker: it publishes the batch task, which takes every ready job of that
    kind (`jobs_run_batch`), at most once per `OUTBOX_KICK_SECONDS` per process. Eager Celery (the
    demo, the test suite) runs the job's own task, one by one, as before."""
    task = import_string(job.task)  # task names are their dotted paths; an unknown one is a bug: raise
    batch = _batch_task(task)
    if batch:
        return kick(batch, countdown=countdown)
    try:
        task.apply_async(args=job.args, countdown=countdown or None, task_id=f"{TASK_ID_PREFIX}{job.pk}")
    except Exception as exc:  # noqa: BLE001 (any broker or eager-task failure: beat publishes it again)
        log.warning("job %s (%s) not published now: %s", job.pk, job.task, type(exc).__name__)
        return False
    return True


def _batch_task(task) -> str:
    """The batch task that does this task's jobs on a real broker, or ''."""
    name = getattr(task, "outbox_batch", "")
    return "" if not name or task.app.conf.task_always_eager else name


# Per process, per broker and batch task: when the last batch message published will start.
_kicks: dict[tuple[str, str], float] = {}
_kicks_lock = threading.Lock()
# Inside a batch: the batch tasks its jobs called for, run by the same task right after it.
_batch = threading.local()


def kick(batch_task: str, *, countdown: float = 0) -> bool:
    """Publish `batch_task` so that it starts at or after now (its jobs are committed by then).

    Debounced per process: while a batch message that starts at or after now is already on its way,
    nothing is published; otherwise one starts now, or at the end of the `OUTBOX_KICK_SECONDS` window
    after the previous one (a countdown). So a burst of 1,000 accepts in one process sends a few
    messages, not 1,000, and every job still has a batch that starts after it was committed."""
    follow_ups = getattr(_batch, "follow_ups", None)
    if follow_ups is not None and not countdown:
        follow_ups.append(batch_task)  # and published all the same, in case this process dies first
    task = import_string(batch_task)
    window = settings.OUTBOX_KICK_SECONDS
    key = (batch_task, str(task.app.conf.broker_url))
    now = time.monotonic() + max(countdown, 0)
    with _kicks_lock:
        last = _kicks.get(key, float("-inf"))
        if last >= now:
            return True
        start = max(now, last + window)
        _kicks[key] = start
    delay = start - time.monotonic()
    try:
        task.apply_async(countdown=delay if delay > 0 else None)
    except Exception as exc:  # noqa: BLE001 (any broker failure: beat publishes the jobs again)
        with _kicks_lock:
            if _kicks.get(key) == start:
                _kicks[key] = last
        log.warning("batch %s not published now: %s", batch_task, type(exc).__name__)
        return False
    return True


def jobs_run_batch(
    task: str,
    *,
    limit: int,
    run: Callable[[list[list]], dict[int, tuple[float, str]]],
    run_one: Callable[[list], None] | None = None,
) -> int:
    """Do the ready jobs of `task` in batches of `limit` until none is left; returns how many were done.

    Each batch is one transaction: its job rows are taken with `FOR UPDATE SKIP LOCKED` (another
    worker's batch takes others), `run(args_list)` does the work, and the rows are deleted in the
    same transaction. So a worker killed mid-batch commits nothing: the rows are free again, its
    message is delivered again (or beat publishes the jobs again) and the batch is done once.
    `run` answers {position: (seconds, error)} for jobs to try again later (a courier outage); those
    rows stay, not ready for a batch until then (`not_before`), when beat publishes them again. If `run` raises, the jobs are done one by one (`run_one`, each
    in its own savepoint), so one bad job cannot hold back the others; a job that fails alone waits
    for beat like any failed job.

    Jobs of another batched task that a batch enqueues (a claim's waybill) are done by this task
    right after the batch commits, instead of waiting behind other messages on the broker; their
    batch is published as well, so if this process dies first another one takes them."""
    outer = getattr(_batch, "follow_ups", None)
    _batch.follow_ups = []
    try:
        return _jobs_run_batches(task, limit=limit, run=run, run_one=run_one)
    finally:
        _batch.follow_ups = outer


def _jobs_run_batches(task: str, *, limit: int, run, run_one) -> int:
    done, tried = 0, set()
    while True:
        _follow_up()
        with transaction.atomic():
            now = timezone.now()
            jobs = list(
                Job.objects.select_for_update(skip_locked=True)
                .filter(Q(not_before__isnull=True) | Q(not_before__lte=now), task=task, failed_at__isnull=True)
                .exclude(pk__in=tried)
                .order_by("pk")[:limit]
            )
            if not jobs:
                break
            tried.update(j.pk for j in jobs)
            try:
                with transaction.atomic():
                    later = run([j.args for j in jobs])
            except Exception:
                if run_one is None:
                    raise
                log.exception("a batch of %s %s jobs failed; doing them one by one", len(jobs), task)
                done += _jobs_run_one_by_one(jobs, run_one, now=now)
                continue
            _jobs_finish(jobs, later=later, now=now)
            done += len(jobs) - len(later)
    _follow_up()
    return done


def _follow_up() -> None:
    """Run the batch tasks the last batch called for (after its commit: its jobs are visible)."""
    names = list(dict.fromkeys(_batch.follow_ups))
    _batch.follow_ups.clear()
    for name in names:
        try:
            import_string(name).run()
        except Exception:  # noqa: BLE001 (the jobs stay in the outbox: beat publishes them)
            log.exception("follow-up batch %s failed", name)


def _jobs_finish(jobs: list[Job], *, later: dict[int, tuple[float, str]], now) -> None:
    Job.objects.filter(pk__in=[j.pk for i, j in enumerate(jobs) if i not in later]).delete()
    for i, (seconds, error) in later.items():
        _job_defer(jobs[i], until=now + timedelta(seconds=seconds), error=error)


def _job_defer(job: Job, *, until, error: str) -> None:
    """Not ready for a batch before `until`; beat publishes it again then."""
    Job.objects.filter(pk=job.pk).update(not_before=until, due_at=until, last_error=error[:300])


def _jobs_run_one_by_one(jobs: list[Job], run_one: Callable[[list], None], *, now) -> int:
    """Each job in its own savepoint, still under the batch's row locks."""
    done = 0
    for job in jobs:
        try:
            with transaction.atomic():
                run_one(job.args)
                Job.objects.filter(pk=job.pk).delete()
        except Exception as exc:  # noqa: BLE001 (logged; the row waits for beat, which gives up in the end)
            log.exception("job %s (%s) failed", job.pk, job.task)
            _job_defer(job, until=now + settings.OUTBOX_RETRY_AFTER, error=type(exc).__name__)
        else:
            done += 1
    return done


def jobs_republish_due(*, limit: int = 500) -> int:
    """Beat: publish every job that is due and not done (first publication lost, broker restarted
    empty, worker killed). Stops at the first refusal: the broker is still down."""
    now = timezone.now()
    due = list(Job.objects.filter(failed_at__isnull=True, due_at__lte=now).order_by("due_at")[:limit])
    published = 0
    for job in due:
        job.publications += 1
        if job.publications > settings.OUTBOX_MAX_PUBLICATIONS:
            Job.objects.filter(pk=job.pk).update(failed_at=now, last_error="gave up after repeated publications")
            log.error("job %s (%s) gave up after %s publications", job.pk, job.task, job.publications - 1)
            _job_gave_up(job)
            continue
        backoff = settings.OUTBOX_RETRY_AFTER * min(2 ** (job.publications - 1), 32)
        Job.objects.filter(pk=job.pk).update(publications=job.publications, due_at=now + backoff)
        if not publish(job):
            Job.objects.filter(pk=job.pk).update(publications=job.publications - 1, due_at=job.due_at)
            break
        published += 1
    return published


def _job_gave_up(job: Job) -> None:
    """What a task's job was for is not left undone with nobody told: a task may name a function
    (`outbox_gave_up="app.tasks.name"`) that is called with the job's args when the outbox gives the
    job up. Its own failure is logged; the job has given up all the same."""
    name = getattr(import_string(job.task), "outbox_gave_up", "")
    if not name:
        return
    try:
        with transaction.atomic():
            import_string(name)(*job.args, error=f"the outbox gave up after {job.publications - 1} publications")
    except Exception:  # noqa: BLE001 (logged: the operator sees the job among those that gave up)
        log.exception("job %s (%s): %s failed", job.pk, job.task, name)


def jobs_retry_failed(*, older_than: timedelta | None = None) -> int:
    """The operator's replay: jobs that gave up are due again."""
    qs = Job.objects.filter(failed_at__isnull=False)
    if older_than is not None:
        qs = qs.filter(created_at__lte=timezone.now() - older_than)
    return qs.update(failed_at=None, last_error="", publications=0, due_at=timezone.now(), not_before=None)


def _next_due(*, countdown: float = 0):
    return timezone.now() + timedelta(seconds=countdown) + settings.OUTBOX_RETRY_AFTER


def _job_id(task_id: str | None) -> int | None:
    if task_id and task_id.startswith(TASK_ID_PREFIX):
        try:
            return int(task_id[len(TASK_ID_PREFIX) :])
        except ValueError:
            return None
    return None


# ----- Celery signals: the worker tells the outbox how its jobs went -----


def on_task_prerun(task_id=None, **_) -> None:
    """A running job is not published again while it may still be running."""
    if (pk := _job_id(task_id)) is not None:
        Job.objects.filter(pk=pk).update(due_at=_next_due())


def on_task_retry(request=None, reason=None, **_) -> None:
    """Celery retries it itself: publish it again only if that retry is lost too."""
    if (pk := _job_id(getattr(request, "id", None))) is not None:
        when = getattr(reason, "when", None)
        countdown = when if isinstance(when, int | float) else 600
        Job.objects.filter(pk=pk).update(due_at=_next_due(countdown=countdown))


def on_task_postrun(task_id=None, state=None, **_) -> None:
    """Done: the row goes. A failure leaves it due, so beat tries again with backoff."""
    if (pk := _job_id(task_id)) is not None and state == "SUCCESS":
        Job.objects.filter(pk=pk).delete()

"""The one way to cause a side effect after commit: `enqueue("app.tasks.name", *ids)`.

The job row is written in the caller's transaction; after commit it is published to the broker,
and a broker that is down only delays it (the request that committed never fails for it). The row
is deleted when the task has run to the end; until then beat publishes it again once it is due
(`OUTBOX_RETRY_SECONDS` after the last try, doubling each time), so a broker restarted empty or a
worker killed mid-task loses nothing. Every task is safe to run twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
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


def enqueue_many(task: str, args_list: list[tuple], *, countdown: float = 0) -> list[Job]:
    """`enqueue` for a batch (one insert): the expiry sweep's refunds, a batch of e-mails."""
    due = _next_due(countdown=countdown)
    jobs = Job.objects.bulk_create(Job(task=task, args=list(args), due_at=due) for args in args_list)

    def publish_all():
        for job in jobs:
            if not publish(job, countdown=countdown):
                break  # the broker is down: beat publishes the rest when it is back

    if jobs:
        transaction.on_commit(publish_all)
    return jobs


def publish(job: Job, *, countdown: float = 0) -> bool:
    """Hand a job to the broker. False when the broker cannot take it now; the row stays due."""
    task = import_string(job.task)  # task names are their dotted paths; an unknown one is a bug: raise
    try:
        task.apply_async(args=job.args, countdown=countdown or None, task_id=f"{TASK_ID_PREFIX}{job.pk}")
    except Exception as exc:  # noqa: BLE001 (any broker or eager-task failure: beat publishes it again)
        log.warning("job %s (%s) not published now: %s", job.pk, job.task, type(exc).__name__)
        return False
    return True


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
            continue
        backoff = settings.OUTBOX_RETRY_AFTER * min(2 ** (job.publications - 1), 32)
        Job.objects.filter(pk=job.pk).update(publications=job.publications, due_at=now + backoff)
        if not publish(job):
            Job.objects.filter(pk=job.pk).update(publications=job.publications - 1, due_at=job.due_at)
            break
        published += 1
    return published


def jobs_retry_failed(*, older_than: timedelta | None = None) -> int:
    """The operator's replay: jobs that gave up are due again."""
    qs = Job.objects.filter(failed_at__isnull=False)
    if older_than is not None:
        qs = qs.filter(created_at__lte=timezone.now() - older_than)
    return qs.update(failed_at=None, last_error="", publications=0, due_at=timezone.now())


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

"""Beat's side of the outbox: publish again whatever is due and not done."""

from celery import shared_task

from outbox.jobs import jobs_republish_due


@shared_task
def publish_due_jobs() -> int:
    return jobs_republish_due()

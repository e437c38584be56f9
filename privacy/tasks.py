"""Celery entry points for personal data: key rotation batches and the retention purge."""

from __future__ import annotations

from celery import shared_task

from privacy.services import pii_purge_due, pii_reencrypt_batch


@shared_task(acks_late=True)
def rotate_pii_batch(job_id: int) -> bool:
    """One batch of a key rotation; the service queues the next batch until the job is done."""
    return pii_reencrypt_batch(job_id=job_id)


@shared_task
def purge_personal_data() -> int:
    total = 0
    while n := pii_purge_due():
        total += n
    return total

"""Celery entry point for phone codes: ids in, one service call, safe to run twice."""

from celery import shared_task

from accounts.services.codes import code_deliver
from outbox.jobs import RETRY_TEMPORARY


@shared_task(acks_late=True, **RETRY_TEMPORARY)
def send_phone_code(code_id: int) -> bool:
    return code_deliver(code_id=code_id)

"""Celery entry points for money: ask the gateway for a refund, and settle orders whose notice never came."""

from __future__ import annotations

from celery import shared_task

from outbox.jobs import RETRY_TEMPORARY
from payments.services import payments_settle_from_gateway, refund_submit, refunds_settle_from_gateway


@shared_task(acks_late=True, **RETRY_TEMPORARY)
def send_refund(refund_id: int) -> None:
    refund_submit(refund_id=refund_id)


@shared_task
def query_unsettled_payments() -> int:
    return payments_settle_from_gateway()


@shared_task
def query_pending_refunds() -> int:
    return refunds_settle_from_gateway()

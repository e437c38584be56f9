"""The sandboxes' own workers: they stand in for an outside gateway's and courier's callbacks."""

from __future__ import annotations

from celery import shared_task

from outbox.jobs import RETRY_TEMPORARY
from sandbox.carrier import scheduled_scan
from sandbox.payment import gateway_send_callback


@shared_task(acks_late=True, **RETRY_TEMPORARY)
def sandbox_payment_callback(kind: str, key: str) -> dict:
    return gateway_send_callback(kind, key)


@shared_task(acks_late=True, **RETRY_TEMPORARY)
def sandbox_carrier_scan(waybill_no: str, status: str) -> dict:
    return scheduled_scan(waybill_no, status)

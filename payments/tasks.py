"""Celery entry points for money: ask the gateway for a refund, and settle orders whose notice never came."""

from __future__ import annotations

from datetime import date

from celery import shared_task

from outbox.jobs import RETRY_TEMPORARY, enqueue
from payments.providers import payment_providers_enabled
from payments.reconciliation import reconciliation_days_due, reconciliation_run
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


@shared_task
def reconcile_yesterday() -> int:
    """Beat, every morning: one reconciliation job per enabled gateway for yesterday's bill."""
    day = reconciliation_days_due()
    providers = payment_providers_enabled()
    for provider in providers:
        enqueue("payments.tasks.reconcile_bill", provider, day.isoformat())
    return len(providers)


@shared_task(acks_late=True, **RETRY_TEMPORARY)
def reconcile_bill(provider: str, bill_date: str) -> int:
    return reconciliation_run(provider=provider, bill_date=date.fromisoformat(bill_date)).mismatches

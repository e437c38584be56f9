"""Celery entry points for the waybill (ask the courier, retry its outages with backoff, record a final
failure) and for subscribing it to the courier's push tracking."""

from __future__ import annotations

from celery import shared_task

from fulfilment.services.shipments import shipment_record_failure, tracking_subscribe, waybill_obtain
from giftshop.errors import AppError, ProviderUnavailable
from outbox.jobs import RETRY_TEMPORARY


@shared_task(bind=True, acks_late=True, max_retries=8)
def dispatch_shipment(self, slot_id: int) -> str:
    try:
        shipment = waybill_obtain(slot_id=slot_id)
    except ProviderUnavailable as exc:
        final = self.request.retries >= self.max_retries
        shipment_record_failure(slot_id=slot_id, error=str(exc), final=final)
        if final:
            return "failed"
        raise self.retry(exc=exc, countdown=min(600, 2 ** (self.request.retries + 1))) from exc
    except AppError as exc:  # the courier refused (account, quota, address): asking again will not help
        shipment_record_failure(slot_id=slot_id, error=f"{exc.code}: {exc.detail}", final=True)
        return "failed"
    return shipment.waybill_no if shipment else "skipped"


@shared_task(acks_late=True, **RETRY_TEMPORARY)
def subscribe_tracking(shipment_id: int) -> str:
    """Push tracking for an issued waybill; a courier outage is retried with backoff."""
    return tracking_subscribe(shipment_id=shipment_id)

"""Celery entry point for the waybill: ask the courier, retry its outages with backoff, record a final failure."""

from __future__ import annotations

from celery import shared_task

from fulfilment.services.shipments import shipment_record_failure, waybill_obtain
from giftshop.errors import ProviderUnavailable


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
    return shipment.waybill_no if shipment else "skipped"

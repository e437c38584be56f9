"""Celery entry points for the waybill (ask the courier, retry its outages with backoff, record a final
failure), for subscribing it to the courier's push tracking, and for cancelling it (a parcel refunded
before it shipped)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from fulfilment.services.dispatch import waybills_obtain
from fulfilment.services.shipments import (
    shipment_record_failure,
    tracking_subscribe,
    waybill_cancel,
    waybill_cancel_give_up,
    waybill_obtain,
)
from giftshop.errors import AppError, ProviderUnavailable
from outbox.jobs import RETRY_TEMPORARY, jobs_run_batch


@shared_task(bind=True, acks_late=True, max_retries=8, outbox_batch="fulfilment.tasks.dispatch_shipments")
def dispatch_shipment(self, slot_id: int) -> str:
    """One parcel (eager Celery: the demo; a replay). On a real broker the outbox publishes
    `dispatch_shipments` instead, which takes this job with the others."""
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


@shared_task(bind=True, acks_late=True, outbox_gave_up="fulfilment.tasks.cancel_waybill_gave_up", **RETRY_TEMPORARY)
def cancel_waybill(self, shipment_id: int) -> str:
    """Take back a refunded parcel's e-waybill; a courier outage is retried with backoff, and when
    the retries run out (or the outbox gives the job up) the shop's staff are told to cancel it in
    the courier's console."""
    try:
        return waybill_cancel(shipment_id=shipment_id)
    except ProviderUnavailable as exc:
        if self.request.retries < self.max_retries:
            raise  # retried (RETRY_TEMPORARY)
        return waybill_cancel_give_up(shipment_id=shipment_id, error=str(exc))


def cancel_waybill_gave_up(shipment_id: int, *, error: str) -> None:
    """The outbox gave up on a `cancel_waybill` job (never finished: a worker killed each time)."""
    waybill_cancel_give_up(shipment_id=shipment_id, error=error)


@shared_task(acks_late=True)
def dispatch_shipments() -> int:
    """Every ready `dispatch_shipment` job, `DISPATCH_BATCH_SIZE` parcels per batch, their courier
    calls side by side. A parcel the courier could not serve now waits for its backoff."""
    return jobs_run_batch(
        "fulfilment.tasks.dispatch_shipment",
        limit=settings.DISPATCH_BATCH_SIZE,
        run=_dispatch_batch,
        run_one=lambda args: _dispatch_one(args[0]),
    )


def _dispatch_batch(args_list: list[list]) -> dict[int, tuple[float, str]]:
    retry = waybills_obtain(slot_ids=[args[0] for args in args_list])
    return {i: (retry[args[0]].seconds, retry[args[0]].error) for i, args in enumerate(args_list) if args[0] in retry}


def _dispatch_one(slot_id: int) -> None:
    retry = waybills_obtain(slot_ids=[slot_id])
    if retry:  # alone, an outage is still temporary: the job stays for beat
        raise ProviderUnavailable(retry[slot_id].error)

"""Celery entry points. Each takes ids, calls one service and is safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from .providers.base import ProviderUnavailable

RETRY = {
    "autoretry_for": (ProviderUnavailable,),
    "retry_backoff": 2,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(acks_late=True)
def process_claim(slot_id: int) -> bool:
    from .services.claim import claim_process

    return claim_process(slot_id=slot_id)


@shared_task(bind=True, acks_late=True, max_retries=8)
def dispatch_shipment(self, slot_id: int) -> str:
    from .services.fulfilment import shipment_dispatch, shipment_record_failure

    try:
        shipment = shipment_dispatch(slot_id=slot_id)
    except ProviderUnavailable as exc:
        final = self.request.retries >= self.max_retries
        shipment_record_failure(slot_id=slot_id, error=str(exc), final=final)
        if final:
            return "failed"
        raise self.retry(exc=exc, countdown=min(600, 2 ** (self.request.retries + 1))) from exc
    return shipment.waybill_no if shipment else "skipped"


@shared_task(acks_late=True, **RETRY)
def send_refund(refund_id: int) -> None:
    from .services.payment import refund_submit

    refund_submit(refund_id=refund_id)


@shared_task(acks_late=True)
def send_notification_email(notification_id: int) -> bool:
    from .services.notifications import notification_email

    return notification_email(notification_id=notification_id)


@shared_task
def cancel_unpaid_gifts() -> int:
    from .services.payment import gifts_cancel_unpaid_due

    return gifts_cancel_unpaid_due()


@shared_task
def query_unsettled_payments() -> int:
    from .services.payment import payments_query_unsettled

    return payments_query_unsettled()


@shared_task
def expire_unclaimed_slots() -> int:
    from .services.expiry import expire_due

    return expire_due(batch_size=settings.SWEEP_BATCH_SIZE)


@shared_task
def remind_expiring_slots() -> int:
    from .services.expiry import remind_expiring

    return remind_expiring()


@shared_task
def requeue_stale_work() -> int:
    """The outbox sweep: claims left `accepted` and to-ship slots without a waybill get their task again."""
    from .services.claim import claims_requeue_stale
    from .services.fulfilment import shipments_requeue_stale

    stale = settings.GIFT_STALE_WORK_AFTER
    return claims_requeue_stale(older_than=stale) + shipments_requeue_stale(older_than=stale)


# ----- the sandboxes' own workers (they stand in for outside systems) -----


@shared_task(acks_late=True, **RETRY)
def sandbox_payment_callback(kind: str, key: str) -> dict:
    from .providers.sandbox_payment import gateway_send_callback

    return gateway_send_callback(kind, key)


@shared_task(acks_late=True, **RETRY)
def sandbox_carrier_scan(waybill_no: str, status: str) -> dict:
    from .providers.sandbox_carrier import gateway_scan

    return gateway_scan(waybill_no, status)


@shared_task
def rollup_shop_stats() -> int:
    from .services.stats import stats_rollup_recent

    return stats_rollup_recent()


# ----- group lottery and bulk gifts -----


@shared_task(acks_late=True)
def draw_lottery(gift_id: int) -> int | None:
    from .services.lottery import lottery_draw

    draw = lottery_draw(gift_id=gift_id)
    return draw.pk if draw else None


@shared_task
def group_gifts_due() -> int:
    """Beat: draw the lotteries whose time has come; resume bulk lists whose chunk task was lost."""
    from .services.bulk import bulk_order_resume, bulk_orders_resume
    from .services.lottery import lotteries_due

    due = lotteries_due()
    for gift_id in due:
        draw_lottery.delay(gift_id)
    stale = bulk_orders_resume()
    for order_id in stale:
        bulk_order_resume(order_id=order_id)
    return len(due) + len(stale)


@shared_task(acks_late=True)
def validate_bulk_chunk(order_id: int, start: int) -> bool:
    from .services.bulk import bulk_validate_chunk

    return bulk_validate_chunk(order_id=order_id, start=start)


@shared_task(acks_late=True)
def send_bulk_links(order_id: int) -> bool:
    from .services.bulk import bulk_links_send_chunk

    return bulk_links_send_chunk(order_id=order_id)


@shared_task(acks_late=True)
def rotate_pii_batch(job_id: int) -> bool:
    """One batch of a key rotation; queues the next batch until the job is done."""
    from .services.privacy import pii_rotate_batch

    more = pii_rotate_batch(job_id=job_id)
    if more:
        rotate_pii_batch.delay(job_id)
    return more


@shared_task
def purge_personal_data() -> int:
    from .services.privacy import pii_purge_due

    total = 0
    while n := pii_purge_due():
        total += n
    return total

"""Celery entry points of the gift core. Each takes ids, calls one service and is safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from gifts.services.claim import slot_hand_over, slot_hand_over_gave_up
from gifts.services.expiry import expire_due, slots_remind_before_expiry
from gifts.services.grab_gate import gate_drop
from gifts.services.handover import slots_hand_over
from gifts.services.notifications import notification_email_deliver
from gifts.services.unpaid import gifts_unpaid_close_due
from outbox.jobs import jobs_run_batch


@shared_task(
    acks_late=True, outbox_batch="gifts.tasks.process_claims", outbox_gave_up="gifts.tasks.process_claim_gave_up"
)
def process_claim(slot_id: int) -> bool:
    """One claim (eager Celery: the demo, a replay run by hand). On a real broker the outbox
    publishes `process_claims` instead, which takes this job with the others."""
    return slot_hand_over(slot_id=slot_id)


def process_claim_gave_up(slot_id: int, *, error: str = "") -> None:
    """The outbox gave a claim's job up (`outbox_gave_up`)."""
    slot_hand_over_gave_up(slot_id, error=error)


@shared_task(acks_late=True)
def process_claims() -> int:
    """Every ready `process_claim` job, `CLAIM_BATCH_SIZE` claims per transaction."""
    return jobs_run_batch(
        "gifts.tasks.process_claim",
        limit=settings.CLAIM_BATCH_SIZE,
        run=_hand_over_batch,
        run_one=lambda args: slot_hand_over(slot_id=args[0]),
    )


def _hand_over_batch(args_list: list[list]) -> dict:
    slots_hand_over(slot_ids=[args[0] for args in args_list])
    return {}  # nothing to try again later: a claim needs only the database


@shared_task(acks_late=True, autoretry_for=(ConnectionError,), retry_backoff=1, max_retries=5)
def grab_gate_drop(gift_id: int) -> bool:
    """A slot went back to a group gift's pool: make the grab gate forget it (built again on the next grab)."""
    if not gate_drop(gift_id):
        raise ConnectionError("grab gate unreachable")  # the outbox publishes the job again later
    return True


@shared_task(acks_late=True)
def send_notification_email(notification_id: int) -> bool:
    return notification_email_deliver(notification_id=notification_id)


@shared_task
def cancel_unpaid_gifts() -> int:
    return gifts_unpaid_close_due()


@shared_task
def expire_unclaimed_slots() -> int:
    return expire_due(batch_size=settings.SWEEP_BATCH_SIZE)


@shared_task
def remind_expiring_slots() -> int:
    return slots_remind_before_expiry()

"""Celery entry points for group lotteries and bulk gifts. Each takes ids and is safe to run twice."""

from __future__ import annotations

from celery import shared_task

from campaigns.services.bulk import bulk_contact_reach, bulk_links_deliver_chunk, bulk_rows_check_chunk
from campaigns.services.lottery import lotteries_due, lottery_pick_winners
from outbox.jobs import RETRY_TEMPORARY, enqueue


@shared_task(acks_late=True)
def draw_lottery(gift_id: int) -> int | None:
    draw = lottery_pick_winners(gift_id=gift_id)
    return draw.pk if draw else None


@shared_task
def group_gifts_due() -> int:
    """Beat: draw the lotteries whose time has come."""
    due = lotteries_due()
    for gift_id in due:
        enqueue("campaigns.tasks.draw_lottery", gift_id)
    return len(due)


@shared_task(acks_late=True)
def validate_bulk_chunk(order_id: int, start: int) -> bool:
    return bulk_rows_check_chunk(order_id=order_id, start=start)


@shared_task(acks_late=True)
def send_bulk_links(order_id: int) -> bool:
    return bulk_links_deliver_chunk(order_id=order_id)


@shared_task(acks_late=True, **RETRY_TEMPORARY)
def send_bulk_message(row_id: int, kind: str) -> bool:
    return bulk_contact_reach(row_id=row_id, kind=kind)

"""Work that should have moved on and did not: what an operator sees with `manage.py stuck_work`
and the backlog gauges on /metrics, and the replay that hands it to the workers again.

Replaying never does the work here: it records the usual tasks in the outbox, and every one of
them is safe to run twice (see docs/workers.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from fulfilment.models import Shipment
from fulfilment.services.shipments import CANCELLABLE
from gifts.models import Gift, GiftStatus, Slot, SlotStatus
from gifts.services.unpaid import gifts_unpaid_close_due
from outbox.jobs import enqueue_many, jobs_retry_failed
from outbox.models import Job
from payments.models import Refund

_NO_WAYBILL = Q(shipment__isnull=True) | Q(shipment__status=Shipment.Status.REQUESTED)


def work_backlog() -> dict[str, int]:
    """Everything waiting right now, whatever its age: the gauges read at each /metrics scrape."""
    return {
        "claims_accepted": Slot.objects.filter(status=SlotStatus.ACCEPTED).count(),
        "to_ship_without_waybill": Slot.objects.filter(_NO_WAYBILL, status=SlotStatus.TO_SHIP).count(),
        "shipments_failed": Shipment.objects.filter(
            status=Shipment.Status.FAILED, slot__status=SlotStatus.TO_SHIP
        ).count(),
        "refunds_pending": Refund.objects.filter(status=Refund.Status.PENDING).count(),
        "jobs_pending": Job.objects.filter(failed_at__isnull=True).count(),
        "jobs_failed": Job.objects.filter(failed_at__isnull=False).count(),
    }


@dataclass
class StuckWork:
    """Ids of rows stuck for longer than the cut-off, oldest first."""

    claims: list[int] = field(default_factory=list)  # slots still `accepted`
    waybills_missing: list[int] = field(default_factory=list)  # to-ship slots with no waybill yet
    waybills_failed: list[int] = field(default_factory=list)  # to-ship slots whose dispatch gave up
    refunds: list[int] = field(default_factory=list)  # refunds still pending
    unpaid: list[int] = field(default_factory=list)  # gifts still pending payment past their payment window
    jobs_failed: list[int] = field(default_factory=list)  # outbox jobs that gave up after their publications
    cancels_failed: list[int] = field(default_factory=list)  # refunded parcels whose e-waybill is not taken back

    def total(self) -> int:
        return sum(len(v) for v in self.__dict__.values())


def stuck_work_list(*, older_than: timedelta, limit: int = 1000) -> StuckWork:
    now = timezone.now()
    cutoff = now - older_than
    to_ship = Slot.objects.filter(status=SlotStatus.TO_SHIP, status_changed_at__lte=cutoff).order_by(
        "status_changed_at"
    )
    return StuckWork(
        claims=list(
            Slot.objects.filter(status=SlotStatus.ACCEPTED, status_changed_at__lte=cutoff)
            .order_by("status_changed_at")
            .values_list("pk", flat=True)[:limit]
        ),
        waybills_missing=list(to_ship.filter(_NO_WAYBILL).values_list("pk", flat=True)[:limit]),
        waybills_failed=list(
            to_ship.filter(shipment__status=Shipment.Status.FAILED).values_list("pk", flat=True)[:limit]
        ),
        refunds=list(
            Refund.objects.filter(status=Refund.Status.PENDING, created_at__lte=cutoff)
            .order_by("created_at")
            .values_list("pk", flat=True)[:limit]
        ),
        unpaid=list(
            Gift.objects.filter(status=GiftStatus.PENDING_PAYMENT, pay_deadline__lte=now)
            .order_by("pay_deadline")
            .values_list("pk", flat=True)[:limit]
        ),
        jobs_failed=list(
            Job.objects.filter(failed_at__isnull=False).order_by("pk").values_list("pk", flat=True)[:limit]
        ),
        cancels_failed=list(
            Shipment.objects.filter(cancel_failed_at__isnull=False, status__in=CANCELLABLE)
            .order_by("cancel_failed_at")
            .values_list("pk", flat=True)[:limit]
        ),
    )


def stuck_work_replay(*, older_than: timedelta, limit: int = 1000) -> dict[str, int]:
    """Hand every stuck row to the workers again, through the outbox and the usual tasks.

    Beat already publishes every unfinished job again on its own (outbox.jobs); this is for what
    gave up: jobs past their last publication, dispatches that failed for good once the courier is
    back, e-waybills of refunded parcels the courier did not take back (asked again: once the courier
    answers, the shipment is cancelled or its refusal kept), and rows that have no job at all (work
    recorded before the outbox existed). Every task is safe to run twice, so a row that also has a job
    waiting is harmless.
    """
    stuck = stuck_work_list(older_than=older_than, limit=limit)
    with transaction.atomic():
        jobs_retry_failed()
        enqueue_many("gifts.tasks.process_claim", [(pk,) for pk in stuck.claims])
        enqueue_many("fulfilment.tasks.dispatch_shipment", [(pk,) for pk in stuck.waybills_missing])
        enqueue_many("fulfilment.tasks.dispatch_shipment", [(pk,) for pk in stuck.waybills_failed])
        enqueue_many("payments.tasks.send_refund", [(pk,) for pk in stuck.refunds])
        enqueue_many("fulfilment.tasks.cancel_waybill", [(pk,) for pk in stuck.cancels_failed])
    return {
        "claims": len(stuck.claims),
        "waybills_missing": len(stuck.waybills_missing),
        "waybills_failed": len(stuck.waybills_failed),
        "refunds": len(stuck.refunds),
        "unpaid": gifts_unpaid_close_due(limit=limit),
        "cancels_failed": len(stuck.cancels_failed),
    }

"""Work that should have moved on and did not: what an operator sees with `manage.py stuck_work`
and the backlog gauges on /metrics, and the replay that hands it to the workers again.

Replaying never does the work here: it re-enqueues the same tasks the beat sweeps send, and every
one of them is safe to run twice (see docs/workers.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from ..models import Gift, GiftStatus, Refund, Shipment, Slot, SlotStatus

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
    }


@dataclass
class StuckWork:
    """Ids of rows stuck for longer than the cut-off, oldest first."""

    claims: list[int] = field(default_factory=list)  # slots still `accepted`
    waybills_missing: list[int] = field(default_factory=list)  # to-ship slots with no waybill yet
    waybills_failed: list[int] = field(default_factory=list)  # to-ship slots whose dispatch gave up
    refunds: list[int] = field(default_factory=list)  # refunds still pending
    unpaid: list[int] = field(default_factory=list)  # gifts still pending payment past their payment window

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
    )


def stuck_work_replay(*, older_than: timedelta, limit: int = 1000) -> dict[str, int]:
    """Hand every stuck row to the workers again, through the same services the beat sweeps use.

    Failed dispatches are included: the operator replays once the courier is back, and a dispatch
    that fails again is recorded as failed again.
    """
    from ..tasks import dispatch_shipment
    from .claim import claims_requeue_stale
    from .fulfilment import shipments_requeue_stale
    from .payment import gifts_cancel_unpaid_due, refunds_requeue_stale

    failed = stuck_work_list(older_than=older_than, limit=limit).waybills_failed
    for slot_id in failed:
        dispatch_shipment.delay(slot_id)
    return {
        "claims": claims_requeue_stale(older_than=older_than, limit=limit),
        "waybills_missing": shipments_requeue_stale(older_than=older_than, limit=limit),
        "waybills_failed": len(failed),
        "refunds": refunds_requeue_stale(older_than=older_than, limit=limit),
        "unpaid": gifts_cancel_unpaid_due(limit=limit),
    }

"""Reads of the merchant's recipient orders, scoped to the shops the user works for (a missing
order and another shop's fail the same way)."""

from __future__ import annotations

from datetime import datetime, time

from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext

from fulfilment.models import Shipment, TrackingEvent
from gifts.models import GIFT_UNPAID, Slot, SlotStatus
from giftshop.errors import NotFound
from payments.models import Refund
from shops.selectors import shop_ids_for_staff


def merchant_slots(*, user, status: str | None = None) -> QuerySet[Slot]:
    """Recipient orders of the shops this user works for: paid gifts only."""
    qs = Slot.objects.filter(gift__shop_id__in=shop_ids_for_staff(user=user)).exclude(gift__status__in=GIFT_UNPAID)
    if status:
        qs = qs.filter(status=status)
    return qs.select_related("gift__shop", "sku__product", "address", "shipment")


def merchant_slot_get(*, user, slot_id: int) -> Slot:
    slot = merchant_slots(user=user).filter(pk=slot_id).first()
    if slot is None:
        raise NotFound(gettext("订单不存在"))
    return slot


def _after_sales_refund():
    return Exists(Refund.objects.filter(slot=OuterRef("pk"), reason=Refund.Reason.AFTER_SALES))


def to_ship_queue(*, user) -> QuerySet[Slot]:
    """The shop's to-ship parcels, oldest acceptance first, each knowing whether an after-sales
    refund is under way (then it must not be packed)."""
    return (
        merchant_slots(user=user, status=SlotStatus.TO_SHIP)
        .select_related("gift__sender")
        .annotate(refund_pending=_after_sales_refund())
        .order_by("accepted_at", "id")
    )


def _latest_scan(field: str):
    return Subquery(
        TrackingEvent.objects.filter(shipment=OuterRef("shipment")).order_by("-occurred_at", "-id").values(field)[:1]
    )


def shipping_exceptions(*, user) -> QuerySet[Slot]:
    """Parcels on their way whose latest courier scan is an exception (refused, returned, a problem
    parcel), newest first, with what the courier said. A later scan (in transit, delivered) clears it."""
    return (
        merchant_slots(user=user)
        .filter(status__in=[SlotStatus.TO_SHIP, SlotStatus.SHIPPED], shipment__isnull=False)
        .annotate(
            scan_status=_latest_scan("status"),
            scan_description=_latest_scan("description"),
            scan_at=_latest_scan("occurred_at"),
        )
        .filter(scan_status="exception")
        .order_by("-scan_at", "-id")
    )


def workbench_counts(*, user) -> dict[str, int]:
    """Today's figures on the workbench home (local day)."""
    today = timezone.make_aware(datetime.combine(timezone.localdate(), time.min))
    to_ship = merchant_slots(user=user, status=SlotStatus.TO_SHIP)
    return {
        "to_ship": to_ship.count(),
        "ready_to_hand_over": to_ship.filter(shipment__status=Shipment.Status.ISSUED)
        .exclude(shipment__waybill_no="")
        .count(),
        "waybill_failed": to_ship.filter(shipment__status=Shipment.Status.FAILED).count(),
        "exceptions": shipping_exceptions(user=user).count(),
        "accepted_today": merchant_slots(user=user).filter(accepted_at__gte=today).count(),
    }


def parcel_get_for_staff(*, user, slot_id: int) -> Slot:
    """One parcel of the user's shops with its courier scans (another shop's is not found)."""
    slot = merchant_slot_get(user=user, slot_id=slot_id)
    slot.scans = list(TrackingEvent.objects.filter(shipment__slot=slot).order_by("-occurred_at", "-id"))
    return slot

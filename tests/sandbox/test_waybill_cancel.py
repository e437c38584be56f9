"""The sandbox courier takes back a waybill it has not collected: it scans it no more (by hand or
on its own schedule), and one it has collected is refused for good, as a real courier refuses."""

import json

import pytest
from django.test import Client

from fulfilment.models import Shipment, TrackingEvent
from fulfilment.services.shipments import parcel_drive, slot_refund_after_sales, waybill_cancel
from gifts.models import Notification, Slot, SlotStatus
from gifts.services.claim import slot_accept
from giftshop.errors import AppError
from outbox.models import Job
from sandbox import signing
from sandbox.carrier import NOTIFY_PATH, SandboxCarrier, gateway_scan, scheduled_scan, tracking_body
from sandbox.models import SandboxWaybill
from tests.factories import ShopStaffFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def parcel(make_gift, recipient, address, django_capture_on_commit_callbacks):
    """A to-ship parcel with its sandbox waybill (the eager worker ran the dispatch)."""
    with django_capture_on_commit_callbacks(execute=True):
        slot = slot_accept(gift=make_gift(), user=recipient, address=address)
    shipment = Shipment.objects.get(slot=slot)
    assert shipment.status == Shipment.Status.ISSUED and shipment.waybill_no.startswith("SBX")
    return shipment


def refund(shipment, django_capture_on_commit_callbacks) -> int:
    with django_capture_on_commit_callbacks(execute=False):
        slot_refund_after_sales(slot=Slot.objects.get(pk=shipment.slot_id), actor=None, authorised=True)
    [job] = Job.objects.filter(task="fulfilment.tasks.cancel_waybill")
    return job.args[0]


def test_a_refund_cancels_the_sandbox_waybill_and_the_courier_scans_it_no_more(
    parcel, django_capture_on_commit_callbacks
):
    assert waybill_cancel(shipment_id=refund(parcel, django_capture_on_commit_callbacks)) == "cancelled"

    assert SandboxWaybill.objects.get(waybill_no=parcel.waybill_no).cancelled_at is not None
    with pytest.raises(AppError) as refused:
        gateway_scan(parcel.waybill_no, "collected")
    assert refused.value.code == "waybill_cancelled"
    assert scheduled_scan(parcel.waybill_no, "collected") == {"message": "cancelled"}  # its own plan: done
    r = Client().post(
        f"/sandbox/courier/{parcel.waybill_no}/scan/", json.dumps({"status": "collected"}), "application/json"
    )
    assert (r.status_code, r.json()["code"]) == (409, "waybill_cancelled")
    assert Slot.objects.get(pk=parcel.slot_id).status == SlotStatus.TO_SHIP
    assert not parcel.tracking.exists()


def test_a_cancelled_parcel_cannot_be_driven_by_its_shop(parcel, django_capture_on_commit_callbacks):
    owner = ShopStaffFactory(shop=parcel.shop, user=UserFactory(), role="owner").user
    waybill_cancel(shipment_id=refund(parcel, django_capture_on_commit_callbacks))
    with pytest.raises(AppError) as refused:
        parcel_drive(user=owner, slot_id=parcel.slot_id, status="collected")
    assert refused.value.code == "waybill_cancelled"


def test_cancelling_twice_is_already_and_a_number_it_never_issued_is_already(parcel):
    courier, reference = SandboxCarrier(), f"slot-{parcel.slot_id}"
    assert courier.cancel_waybill(waybill_no=parcel.waybill_no, company="", reference=reference) == "cancelled"
    assert courier.cancel_waybill(waybill_no=parcel.waybill_no, company="", reference=reference) == "already"
    assert courier.cancel_waybill(waybill_no="SBX000000000000", company="", reference=reference) == "already"


def test_a_collected_parcel_is_not_cancelled_and_the_staff_are_told_once(parcel, django_capture_on_commit_callbacks):
    staff = ShopStaffFactory(shop=parcel.shop, user=UserFactory(), role="owner").user
    # The courier picked it up, but its scan has not reached us: the shipment still says issued.
    SandboxWaybill.objects.filter(waybill_no=parcel.waybill_no).update(collected_at=parcel.issued_at)
    job = refund(parcel, django_capture_on_commit_callbacks)

    assert waybill_cancel(shipment_id=job) == "refused"
    assert waybill_cancel(shipment_id=job) == "refused"

    parcel.refresh_from_db()
    assert parcel.status == Shipment.Status.ISSUED and "already_collected" in parcel.last_error
    [note] = Notification.objects.filter(user=staff, kind=Notification.Kind.SHIPPING_EXCEPTION)
    assert parcel.waybill_no in note.title
    assert SandboxWaybill.objects.get(waybill_no=parcel.waybill_no).cancelled_at is None


@pytest.mark.parametrize("status", ["collected", "in_transit"])
def test_a_scan_sent_before_the_cancel_and_delivered_after_it_is_taken_and_moves_nothing(
    parcel, settings, django_capture_on_commit_callbacks, status
):
    """The courier signed the scan before it cancelled the waybill; its delivery came late."""
    body = tracking_body(parcel.waybill_no, status, reference=f"slot-{parcel.slot_id}")
    assert waybill_cancel(shipment_id=refund(parcel, django_capture_on_commit_callbacks)) == "cancelled"

    signature = signing.sign(body, settings.SANDBOX_CARRIER_SECRET)
    meta = {"HTTP_" + signing.HEADER.upper().replace("-", "_"): signature}
    answer = Client().post(NOTIFY_PATH, body, content_type="application/json", **meta)

    # The sandbox courier's success answer (it delivers no more): taken, and nothing moved.
    assert answer.status_code == 200 and answer.json() == {"code": "SUCCESS", "message": "waybill_cancelled"}
    assert Slot.objects.get(pk=parcel.slot_id).status == SlotStatus.TO_SHIP
    parcel.refresh_from_db()
    assert parcel.status == Shipment.Status.CANCELLED and parcel.handed_over_at is None
    assert not TrackingEvent.objects.exists()
    assert not Notification.objects.filter(kind=Notification.Kind.SHIPPED).exists()

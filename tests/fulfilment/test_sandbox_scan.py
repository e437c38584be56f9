"""`POST /sandbox/courier/{waybill_no}/scan/`: a script moves a sandbox parcel exactly as the sandbox
courier's own signed scans would (and only while the sandbox is enabled)."""

import json

import pytest
from django.test import Client

from fulfilment.models import Shipment, TrackingEvent
from gifts.models import Slot, SlotStatus
from gifts.services.claim import slot_accept

pytestmark = pytest.mark.django_db


def scan(waybill_no: str, status, client=None):
    body = json.dumps({"status": status}) if status is not None else "not json"
    return (client or Client()).post(f"/sandbox/courier/{waybill_no}/scan/", body, content_type="application/json")


@pytest.fixture
def parcel(make_gift, recipient, address, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        slot = slot_accept(gift=make_gift(), user=recipient, address=address)
    return Shipment.objects.get(slot=slot)


def test_a_script_moves_a_parcel_to_shipped_and_delivered_once(parcel):
    assert scan(parcel.waybill_no, "collected").json()["code"] == "SUCCESS"
    assert Slot.objects.get(pk=parcel.slot_id).status == SlotStatus.SHIPPED
    first = scan(parcel.waybill_no, "delivered")
    again = scan(parcel.waybill_no, "delivered")

    assert first.status_code == again.status_code == 200 and again.json()["message"] == "duplicate"
    assert Slot.objects.get(pk=parcel.slot_id).status == SlotStatus.DELIVERED
    assert TrackingEvent.objects.filter(shipment=parcel).count() == 2


@pytest.mark.parametrize("status", ["lost", None, 3])
def test_a_status_the_courier_does_not_know_is_a_400(parcel, status):
    answer = scan(parcel.waybill_no, status)
    assert answer.status_code == 400 and answer.json()["code"] == "invalid"
    assert Slot.objects.get(pk=parcel.slot_id).status == SlotStatus.TO_SHIP


def test_an_unknown_waybill_is_a_404_and_the_sandbox_off_hides_it(parcel, settings):
    assert scan("SBX000000000000", "collected").status_code == 404
    settings.SANDBOX_ENABLED = False
    assert scan(parcel.waybill_no, "collected").status_code == 404
    assert Slot.objects.get(pk=parcel.slot_id).status == SlotStatus.TO_SHIP

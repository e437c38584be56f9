"""`POST /sandbox/courier/{waybill_no}/scan/`: a script moves a sandbox parcel exactly as the sandbox
courier's own signed scans would (and only while the sandbox is enabled)."""

import json

import pytest
from django.test import Client

from fulfilment.models import Shipment, TrackingEvent
from gifts.models import Slot, SlotStatus
from gifts.services.claim import slot_accept
from sandbox import signing
from sandbox.carrier import NOTIFY_PATH, tracking_body

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


def _notify(waybill_no: str, status: str, settings, reference: str):
    body = tracking_body(waybill_no, status, reference=reference)
    signature = signing.sign(body, settings.SANDBOX_CARRIER_SECRET)
    meta = {"HTTP_" + signing.HEADER.upper().replace("-", "_"): signature}
    return Client().post(NOTIFY_PATH, body, content_type="application/json", **meta)


@pytest.mark.parametrize("reference", ["slot-0", "nonsense"])
def test_a_signed_update_that_names_another_parcel_changes_nothing(parcel, settings, reference):
    """The courier's update reaches the parcel its waybill was issued for (its request key), never
    whichever shipment happens to carry the number: two shops may use the same one."""
    answer = _notify(parcel.waybill_no, "delivered", settings, reference)

    assert answer.status_code == 404 and answer.json()["code"] == "not_found"
    assert Slot.objects.get(pk=parcel.slot_id).status == SlotStatus.TO_SHIP
    assert not TrackingEvent.objects.exists()


def test_an_update_that_names_no_parcel_reaches_the_only_one_with_its_number_and_none_of_two(
    parcel, settings, make_gift, address
):
    """An update as API 1.0 sent it (no `reference`) still works while one parcel carries the
    number; once another shop typed the same number too, it names neither and changes nothing."""
    from fulfilment.services.shipments import slot_ship_manually
    from shops.models import Shop
    from tests.factories import SkuFactory, UserFactory

    Slot.objects.filter(pk=parcel.slot_id).update(status=SlotStatus.SHIPPED)
    assert _notify(parcel.waybill_no, "in_transit", settings, "").json()["code"] == "SUCCESS"
    assert TrackingEvent.objects.filter(shipment=parcel).count() == 1

    other = make_gift(sku_id=SkuFactory(stock=5).pk)
    assert other.shop_id != parcel.shop_id and Shop.objects.count() >= 2
    theirs = slot_accept(gift=other, user=UserFactory(), address=address)
    theirs.refresh_from_db()
    if theirs.status != SlotStatus.TO_SHIP:  # eager: the worker's half has run already
        Slot.objects.filter(pk=theirs.pk).update(status=SlotStatus.TO_SHIP)
        Shipment.objects.filter(slot=theirs).delete()
    slot_ship_manually(slot=theirs, carrier_name="sandbox", tracking_no=parcel.waybill_no, actor=None)

    answer = _notify(parcel.waybill_no, "delivered", settings, "")
    assert answer.status_code == 404
    assert Slot.objects.get(pk=parcel.slot_id).status == SlotStatus.SHIPPED
    assert Slot.objects.get(pk=theirs.pk).status == SlotStatus.SHIPPED
    assert TrackingEvent.objects.count() == 1

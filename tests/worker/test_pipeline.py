"""Accept -> claim processing -> e-waybill -> courier scans, run by a real worker on Redis (and RabbitMQ: both_brokers)."""

from collections import Counter

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from fulfilment.models import Shipment, TrackingEvent
from gifts.models import GiftEvent, Notification, Slot
from gifts.services.claim import slot_accept
from sandbox import signing
from sandbox.carrier import NOTIFY_PATH, gateway_scan, tracking_body
from sandbox.models import SandboxWaybill
from sandbox.tasks import sandbox_carrier_scan
from tests.worker.conftest import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def accept_and_wait_for_waybill(gift, recipient, address, worker) -> tuple[Slot, Shipment]:
    slot = slot_accept(gift=gift, user=recipient, address=address)
    assert Slot.objects.get(pk=slot.pk).status == "accepted"  # the recipient's answer does not wait for the worker
    shipment = wait_for(
        lambda: Shipment.objects.filter(slot=slot).exclude(waybill_no="").first(),
        what="the worker to issue a waybill",
        workers=[worker],
    )
    return slot, shipment


def trail(slot: Slot) -> dict:
    """Everything a courier update may write for one slot."""
    return {
        "tracking": Counter(TrackingEvent.objects.filter(shipment__slot=slot).values_list("event_id", flat=True)),
        "transitions": Counter(
            GiftEvent.objects.filter(slot=slot, kind="slot_status").values_list("to_status", flat=True)
        ),
        "waybill_events": GiftEvent.objects.filter(slot=slot, kind="waybill_issued").count(),
        "notifications": Counter(Notification.objects.values_list("dedupe_key", flat=True)),
        "status": Slot.objects.get(pk=slot.pk).status,
    }


@pytest.mark.both_brokers
def test_accepted_claim_gets_one_waybill_and_the_couriers_own_scans_deliver_it(
    start_worker, live_broker, paid_gift, recipient, address
):
    worker = start_worker(broker_url=live_broker, env={"SANDBOX_CARRIER_SCAN_DELAYS": "1,2,3"})
    gift = paid_gift()

    slot, shipment = accept_and_wait_for_waybill(gift, recipient, address, worker)
    wait_for(
        lambda: Slot.objects.get(pk=slot.pk).status == "delivered",
        what="the sandbox courier's scans to deliver the parcel",
        workers=[worker],
    )
    worker.wait_idle()

    assert Shipment.objects.filter(slot=slot).count() == 1
    assert list(SandboxWaybill.objects.filter(request_key=f"slot-{slot.pk}").values_list("waybill_no", flat=True)) == [
        shipment.waybill_no
    ]
    after = trail(slot)
    assert after["waybill_events"] == 1
    assert after["tracking"] == {f"{shipment.waybill_no}-{s}": 1 for s in ("collected", "in_transit", "delivered")}
    assert after["transitions"] == {s: 1 for s in ("accepted", "processing", "to_ship", "shipped", "delivered")}
    assert after["notifications"][f"delivered:{slot.pk}"] == 1
    gift.refresh_from_db()
    assert gift.status == "finished"


def test_a_courier_update_delivered_twice_changes_nothing_the_second_time(
    start_worker, live_broker, paid_gift, recipient, address
):
    worker = start_worker(broker_url=live_broker)
    slot, shipment = accept_and_wait_for_waybill(paid_gift(), recipient, address, worker)
    waybill = shipment.waybill_no

    sandbox_carrier_scan.delay(waybill, "collected")
    sandbox_carrier_scan.delay(waybill, "delivered")
    wait_for(lambda: Slot.objects.get(pk=slot.pk).status == "delivered", what="delivery", workers=[worker])
    worker.wait_idle()
    once = trail(slot)

    # The courier sends the same signed updates again: through two pool processes at once, and directly.
    for status in ("delivered", "delivered", "collected"):
        sandbox_carrier_scan.delay(waybill, status)
    worker.wait_idle()
    assert gateway_scan(waybill, "delivered")["message"] == "duplicate"

    twice = trail(slot)
    assert twice == once
    assert twice["tracking"] == {f"{waybill}-collected": 1, f"{waybill}-delivered": 1}
    assert twice["transitions"]["shipped"] == twice["transitions"]["delivered"] == 1
    assert twice["notifications"][f"delivered:{slot.pk}"] == 1


def test_a_forged_courier_update_is_refused_and_changes_nothing(
    start_worker, live_broker, paid_gift, recipient, address
):
    worker = start_worker(broker_url=live_broker)
    slot, shipment = accept_and_wait_for_waybill(paid_gift(), recipient, address, worker)
    worker.wait_idle()
    before = trail(slot)
    assert before["status"] == "to_ship"

    courier_secret = settings.SANDBOX_CARRIER_SECRET
    body = tracking_body(shipment.waybill_no, "delivered")
    wrong_secret = {signing.HEADER: signing.sign(body, "not-the-courier-secret")}
    # A genuine signature lifted from another update does not cover this body.
    lifted = {signing.HEADER: signing.sign(tracking_body(shipment.waybill_no, "collected"), courier_secret)}
    for headers in (wrong_secret, lifted, {}):
        meta = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}
        r = APIClient().post(NOTIFY_PATH, data=body, content_type="application/json", **meta)
        assert r.status_code == 401, r.content
        assert r.json()["code"] == "bad_signature"
    assert trail(slot) == before

    # The real courier, signing properly through the worker, is still heard.
    sandbox_carrier_scan.delay(shipment.waybill_no, "delivered")
    wait_for(lambda: Slot.objects.get(pk=slot.pk).status == "delivered", what="genuine delivery", workers=[worker])

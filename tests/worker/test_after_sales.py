"""After-sales journeys with a real worker on Redis: the sender's refund is asked for by the
worker (the outbox job), settled by the sandbox gateway's signed notification, and lands exactly
once; beat approves a request the shop left unanswered."""

from datetime import timedelta

import pytest
from django.utils import timezone

from aftersales import services
from aftersales.models import AfterSalesRequest
from gifts.models import Notification, Slot
from gifts.services.claim import slot_accept
from payments.models import Refund
from tests.worker.conftest import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

FAST = {"OUTBOX_SWEEP_SECONDS": 1, "OUTBOX_RETRY_SECONDS": 3, "SCHEDULE_SWEEP_SECONDS": 1}


def accepted(gift, recipient, address, worker, *, until="to_ship") -> Slot:
    slot = slot_accept(gift=gift, user=recipient, address=address)
    wait_for(lambda: Slot.objects.get(pk=slot.pk).status == until, what=f"the slot to reach {until}", workers=[worker])
    return Slot.objects.get(pk=slot.pk)


def refunded_once(request: AfterSalesRequest, worker) -> None:
    wait_for(
        lambda: AfterSalesRequest.objects.get(pk=request.pk).status == "refunded",
        what="the sender's refund to settle",
        workers=[worker],
    )
    worker.wait_idle()
    refunds = list(Refund.objects.filter(slot_id=request.slot_id).values_list("reason", "amount_fen", "status"))
    assert refunds == [("after_sales", request.amount_fen, "succeeded")]
    assert Slot.objects.get(pk=request.slot_id).status == "refunded"
    sender_notes = Notification.objects.filter(user=request.slot.gift.sender, kind="refund")
    assert sender_notes.count() == 1


@pytest.mark.both_brokers
def test_refund_only_journey(start_worker, live_broker, paid_gift, recipient, merchant, address):
    worker = start_worker(broker_url=live_broker)
    slot = accepted(paid_gift(), recipient, address, worker)
    request = services.after_sales_open(slot_id=slot.pk, user=recipient, kind="refund_only", reason="changed_mind")
    services.after_sales_approve(request_id=request.pk, actor=merchant)
    services.after_sales_approve(request_id=request.pk, actor=merchant)  # a double tap
    refunded_once(request, worker)


def test_return_and_refund_journey(start_worker, live_broker, paid_gift, recipient, merchant, address):
    worker = start_worker(broker_url=live_broker, env={"SANDBOX_CARRIER_SCAN_DELAYS": "1,1,1"})
    slot = accepted(paid_gift(), recipient, address, worker, until="delivered")
    request = services.after_sales_open(slot_id=slot.pk, user=recipient, kind="return_refund", reason="quality")
    services.after_sales_approve(request_id=request.pk, actor=merchant)
    services.after_sales_return_shipment(slot_id=slot.pk, user=recipient, carrier="顺丰", tracking_no="SF12345678")
    worker.wait_idle()
    assert not Refund.objects.filter(slot=slot).exists()  # nothing goes back before the shop has the parcel
    services.after_sales_receive(request_id=request.pk, actor=merchant)
    refunded_once(request, worker)


def test_beat_approves_what_the_shop_left_unanswered(
    start_worker, start_beat, live_broker, paid_gift, recipient, address
):
    worker = start_worker(broker_url=live_broker, env=FAST)
    slot = accepted(paid_gift(), recipient, address, worker)
    request = services.after_sales_open(slot_id=slot.pk, user=recipient, kind="refund_only", reason="changed_mind")
    AfterSalesRequest.objects.filter(pk=request.pk).update(answer_by=timezone.now() - timedelta(seconds=1))
    start_beat(broker_url=live_broker, env=FAST)
    refunded_once(request, worker)
    request.refresh_from_db()
    assert request.answered_by is None and request.answered_at is not None

"""kill -9 in the middle of dispatch, at the worst moment: the courier has issued the waybill and
we have not recorded it. However the work is picked up again, the slot ends with one waybill."""

import os
import signal

import pytest
from django.utils import timezone

from fulfilment.models import Shipment
from gifts.models import GiftEvent, Slot
from gifts.services.claim import slot_accept
from outbox.jobs import jobs_republish_due
from outbox.models import Job
from sandbox.models import SandboxWaybill
from tests.worker.conftest import flush_redis, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# The slow courier sleeps this long after issuing a waybill; the tests kill it long before it wakes.
SLOW_COURIER = {"SANDBOX_CARRIER_DELAY_SECONDS": 120}


def dispatch_stuck_after_the_courier_issued(slot: Slot, worker) -> SandboxWaybill:
    issued = wait_for(
        lambda: SandboxWaybill.objects.filter(request_key=f"slot-{slot.pk}").first(),
        what="the sandbox courier to issue a waybill",
        workers=[worker],
    )
    assert not waybill_recorded(slot)
    return issued


def waybill_recorded(slot: Slot) -> bool:
    """Our side has the number (the batch that asked for it records it in its own transaction)."""
    return Shipment.objects.filter(slot=slot).exclude(waybill_no="").exists()


def assert_exactly_one_waybill(slot: Slot, issued: SandboxWaybill) -> None:
    assert SandboxWaybill.objects.filter(request_key=f"slot-{slot.pk}").count() == 1
    assert list(Shipment.objects.filter(slot=slot).values_list("waybill_no", "status")) == [
        (issued.waybill_no, "issued")
    ]
    assert GiftEvent.objects.filter(slot=slot, kind="waybill_issued").count() == 1
    assert Slot.objects.get(pk=slot.pk).status == "to_ship"


@pytest.mark.both_brokers
def test_whole_worker_killed_mid_dispatch_then_restart_and_sweep_leave_one_waybill(
    start_worker, live_broker, broker_kind, paid_gift, recipient, address, settings
):
    doomed = start_worker(broker_url=live_broker, concurrency=1, env=SLOW_COURIER)
    slot = slot_accept(gift=paid_gift(), user=recipient, address=address)
    issued = dispatch_stuck_after_the_courier_issued(slot, doomed)

    doomed.kill()  # main process and pool: the message stays unacknowledged on the broker
    assert not waybill_recorded(slot)
    # The dispatch's job is still in the outbox (only a finished task removes it).
    dispatch = Job.objects.filter(task="fulfilment.tasks.dispatch_shipment")
    assert list(dispatch.values_list("args", flat=True)) == [[slot.pk]]
    if broker_kind == "redis":
        # Redis forgets what it held (here flushed; an unacknowledged message also waits out its
        # visibility timeout, an hour): once the job is due, beat publishes it again (made due at once).
        flush_redis(live_broker)
        fresh = start_worker(broker_url=live_broker)
        Job.objects.update(due_at=timezone.now())
        assert jobs_republish_due() >= 1  # the dispatch, and the notices' e-mails still waiting behind it
    else:
        # RabbitMQ put the message back in the queue the moment the dead worker's connection closed:
        # the fresh worker gets it from there, with no help from the outbox.
        fresh = start_worker(broker_url=live_broker)
    wait_for(
        lambda: Shipment.objects.filter(slot=slot).exclude(waybill_no="").exists(),
        what="the restarted worker to record the waybill",
        workers=[fresh],
    )
    fresh.wait_idle()
    assert_exactly_one_waybill(slot, issued)


@pytest.mark.both_brokers
def test_pool_process_killed_mid_dispatch_is_redelivered_and_leaves_one_waybill(
    start_worker, live_broker, paid_gift, recipient, address
):
    worker = start_worker(broker_url=live_broker, concurrency=1, env=SLOW_COURIER)
    slot = slot_accept(gift=paid_gift(), user=recipient, address=address)
    issued = dispatch_stuck_after_the_courier_issued(slot, worker)

    [pool_process] = worker.pool_children()
    os.kill(pool_process, signal.SIGKILL)  # acks_late + reject_on_worker_lost: the task goes back to the queue

    wait_for(
        lambda: Shipment.objects.filter(slot=slot).exclude(waybill_no="").exists(),
        what="the redelivered dispatch to record the waybill",
        workers=[worker],
    )
    worker.wait_idle()
    assert_exactly_one_waybill(slot, issued)

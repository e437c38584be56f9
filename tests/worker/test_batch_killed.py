"""A worker killed in the middle of a batch: the claims were taken together, the courier has issued
every waybill of the batch (its calls were in flight side by side) and we have recorded none. However
the work is picked up again, every claim of the batch ends with exactly one waybill, and nothing of
the batch is done twice."""

import os
import signal
from collections import Counter

import pytest
from django.utils import timezone

from fulfilment.models import Shipment
from gifts.models import GiftEvent, Notification, Slot
from gifts.services.claim import slot_accept
from outbox.jobs import jobs_republish_due
from outbox.models import Job
from sandbox.models import SandboxWaybill
from tests.factories import UserFactory
from tests.worker.conftest import flush_redis, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

CLAIMS = 5
# The slow courier sleeps this long after issuing a waybill; the tests kill the worker long before.
SLOW_COURIER = {"SANDBOX_CARRIER_DELAY_SECONDS": 120}


def accept_a_burst(paid_gift, address) -> list[Slot]:
    """Five recipients accept before any worker runs: the first batch takes them all."""
    gift = paid_gift(mode="group", recipients=CLAIMS)
    return [slot_accept(gift=gift, user=UserFactory(username=f"r{i}"), address=address) for i in range(CLAIMS)]


def keys(slots) -> list[str]:
    return [f"slot-{s.pk}" for s in slots]


def batch_stuck_at_the_courier(slots, worker) -> dict[str, str]:
    """Every parcel's waybill is issued at the courier, at once, and none is recorded on our side."""
    issued = wait_for(
        lambda: (
            rows
            if len(
                rows := dict(
                    SandboxWaybill.objects.filter(request_key__in=keys(slots)).values_list("request_key", "waybill_no")
                )
            )
            == CLAIMS
            else None
        ),
        what="the sandbox courier to issue the batch's waybills",
        workers=[worker],
    )
    assert not Shipment.objects.filter(slot__in=slots).exclude(waybill_no="").exists()
    assert {s.status for s in Slot.objects.filter(pk__in=[s.pk for s in slots])} == {"to_ship"}
    return issued


def assert_each_claim_completed_once(slots, issued: dict[str, str]) -> None:
    ids = [s.pk for s in slots]
    assert Counter(
        SandboxWaybill.objects.filter(request_key__in=keys(slots)).values_list("request_key", flat=True)
    ) == {k: 1 for k in keys(slots)}
    recorded = dict(Shipment.objects.filter(slot_id__in=ids).values_list("slot_id", "waybill_no"))
    assert recorded == {s.pk: issued[f"slot-{s.pk}"] for s in slots}
    assert set(Shipment.objects.filter(slot_id__in=ids).values_list("status", flat=True)) == {"issued"}
    waybill_events = Counter(GiftEvent.objects.filter(kind="waybill_issued").values_list("slot_id", flat=True))
    assert waybill_events == {pk: 1 for pk in ids}
    moves = Counter(GiftEvent.objects.filter(slot_id__in=ids, kind="slot_status").values_list("to_status", flat=True))
    assert moves == {"accepted": CLAIMS, "processing": CLAIMS, "to_ship": CLAIMS}
    assert Notification.objects.filter(dedupe_key__in=[f"accepted:{pk}" for pk in ids]).count() == CLAIMS
    assert set(Slot.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"to_ship"}
    assert not Job.objects.filter(task__in=["gifts.tasks.process_claim", "fulfilment.tasks.dispatch_shipment"]).exists()


def test_pool_process_killed_mid_batch_is_redelivered_and_every_claim_completes_once(
    start_worker, live_broker, paid_gift, address
):
    slots = accept_a_burst(paid_gift, address)
    worker = start_worker(broker_url=live_broker, concurrency=1, env=SLOW_COURIER)
    issued = batch_stuck_at_the_courier(slots, worker)

    [pool_process] = worker.pool_children()
    os.kill(pool_process, signal.SIGKILL)  # the batch's transaction dies with its connection

    wait_for(
        lambda: Shipment.objects.filter(slot__in=slots, status="issued").count() == CLAIMS,
        what="the batch, delivered again, to record every waybill",
        workers=[worker],
    )
    worker.wait_idle()
    assert_each_claim_completed_once(slots, issued)


def test_whole_worker_killed_mid_batch_then_a_fresh_worker_and_the_outbox_complete_every_claim_once(
    start_worker, live_broker, paid_gift, address
):
    slots = accept_a_burst(paid_gift, address)
    doomed = start_worker(broker_url=live_broker, concurrency=1, env=SLOW_COURIER)
    issued = batch_stuck_at_the_courier(slots, doomed)

    doomed.kill()  # main process and pool: the batch's transaction dies with its connection
    assert sorted(Job.objects.filter(task="fulfilment.tasks.dispatch_shipment").values_list("args", flat=True)) == [
        [pk] for pk in sorted(s.pk for s in slots)
    ]
    # The broker forgets what it held (here flushed; an unacknowledged message also waits out its
    # visibility timeout): only the outbox remembers.
    flush_redis(live_broker)

    fresh = start_worker(broker_url=live_broker)
    # Beat publishes the unfinished jobs again once they are due (here: made due at once); on a real
    # broker that is one batch message for all of them.
    Job.objects.update(due_at=timezone.now())
    assert jobs_republish_due() >= CLAIMS  # the waybills, and the notices' e-mails still waiting behind them
    wait_for(
        lambda: Shipment.objects.filter(slot__in=slots, status="issued").count() == CLAIMS,
        what="the fresh worker to record every waybill",
        workers=[fresh],
    )
    fresh.wait_idle()
    assert_each_claim_completed_once(slots, issued)

"""The broker goes away: recipients can still accept, and the outbox publishes every claim again later."""

import pytest
from django.utils import timezone

from fulfilment.models import Shipment
from gifts.models import Gift, Slot
from gifts.services.claim import slot_accept
from outbox.jobs import jobs_republish_due
from outbox.models import Job
from sandbox.models import SandboxWaybill
from tests.factories import UserFactory
from tests.worker.conftest import publishing_to, reconnect, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

CLAIMS = 20


def test_accepts_succeed_while_the_broker_is_down_and_the_sweep_ships_each_claim_once(
    start_worker, own_redis, paid_gift, address, settings
):
    gift = paid_gift(mode=Gift.Mode.GROUP, recipients=CLAIMS)
    friends = [UserFactory(username=f"friend{n}") for n in range(CLAIMS)]

    with publishing_to(own_redis.url):
        worker = start_worker(broker_url=own_redis.url)
        own_redis.stop()

        for friend in friends:
            slot = slot_accept(gift=gift, user=friend, address=address)
            assert slot.status == "accepted"
        slots = Slot.objects.filter(gift=gift)
        assert slots.filter(status="accepted").count() == CLAIMS
        assert not Shipment.objects.filter(slot__gift=gift).exists()

        # The broker comes back empty (no persistence): every task published before is gone anyway.
        own_redis.start()
        assert own_redis.queued() == 0
        reconnect()
        worker.wait_ready()
        # Each claim's job was recorded with it; beat publishes what is due again (here: at once).
        assert Job.objects.filter(task="gifts.tasks.process_claim").count() == CLAIMS
        Job.objects.update(due_at=timezone.now())
        assert jobs_republish_due() == CLAIMS

        wait_for(
            lambda: Shipment.objects.filter(slot__gift=gift).exclude(waybill_no="").count() == CLAIMS,
            what=f"{CLAIMS} waybills after the sweep",
            workers=[worker],
        )
        worker.wait_idle()

    assert slots.filter(status="to_ship").count() == CLAIMS
    waybills = list(Shipment.objects.filter(slot__gift=gift).values_list("slot_id", "waybill_no"))
    assert len(waybills) == CLAIMS and len({w for _, w in waybills}) == CLAIMS
    issued = dict(SandboxWaybill.objects.values_list("request_key", "waybill_no"))
    assert issued == {f"slot-{slot_id}": waybill for slot_id, waybill in waybills}

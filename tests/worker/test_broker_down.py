"""The broker goes away: recipients can still accept, and the outbox sweep finishes every claim later."""

from datetime import timedelta

import pytest

from gifts.models import Gift, SandboxWaybill, Shipment, Slot
from gifts.services.claim import slot_accept
from gifts.tasks import requeue_stale_work
from tests.factories import UserFactory

from .conftest import RedisServer, publishing_to, reconnect, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

CLAIMS = 20


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(log_path=tmp_path / "redis.log").start()
    try:
        yield server
    finally:
        server.stop()


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
        settings.GIFT_STALE_WORK_AFTER = timedelta(0)
        assert requeue_stale_work() >= CLAIMS  # more if a claim is already to-ship without its waybill

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

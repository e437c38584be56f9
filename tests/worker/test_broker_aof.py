"""Redis as the broker, the way the README says to run it: with appendonly (AOF). Killed with
SIGKILL while it holds queued claims and started again, it still has them, and a worker started
afterwards ships each claim once. (Without persistence the outbox has to publish them again:
test_broker_down.py and test_broker_outage.py.)"""

import pytest

from fulfilment.models import Shipment
from gifts.services.claim import slot_accept
from outbox.models import Job
from tests.servers import RedisServer
from tests.worker.conftest import publishing_to, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_redis_with_aof_keeps_queued_claims_through_a_kill(start_worker, tmp_path, paid_gift, recipient, address):
    server = RedisServer(log_path=tmp_path / "redis.log", aof_dir=tmp_path / "aof").start()
    try:
        with publishing_to(server.url):
            slots = [slot_accept(gift=paid_gift(), user=recipient, address=address) for _ in range(3)]
            assert Job.objects.filter(task="gifts.tasks.process_claim").count() == 3
            queued = server.queued()
            assert queued > 0  # the claims (in one batch or more) and their notices, nobody consuming yet

            server.kill()
            server.start()
            assert server.queued() == queued  # what was acknowledged by Redis was on disk

            worker = start_worker(broker_url=server.url)
            for slot in slots:
                wait_for(
                    lambda slot=slot: Shipment.objects.filter(slot=slot).exclude(waybill_no="").exists(),
                    what=f"a waybill for slot {slot.pk}",
                    workers=[worker],
                )
            worker.wait_idle()
        assert Shipment.objects.filter(slot__in=slots).count() == 3
        assert not Job.objects.filter(task="gifts.tasks.process_claim").exists()
    finally:
        server.stop()

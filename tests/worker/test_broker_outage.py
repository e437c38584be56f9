"""The operator's drill: a real, unsupervised worker and beat on Redis; Redis is killed in the middle
of declines, payments, courier notices and accepts, and started again empty.

Every request answers as it would with the broker up (no 5xx), the same worker process goes on
working, and every refund, payment, waybill and courier scan completes without anyone running
`stuck_work`, none twice: the outbox recorded each piece of work with its data, and beat
publishes again whatever did not finish.
"""

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from fulfilment.models import Shipment, TrackingEvent
from gifts.models import Gift, GiftEvent, GiftStatus, Notification, Slot, SlotStatus
from gifts.services.checkout import gift_create
from outbox.models import Job
from payments.models import Refund
from sandbox import signing
from sandbox.carrier import tracking_body
from sandbox.models import SandboxRefund, SandboxWaybill
from tests.conftest import ADDRESS
from tests.factories import UserFactory
from tests.worker.conftest import eager_tasks, publishing_to, reconnect, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PER_PHASE = 2  # of each kind of request, before the kill, while Redis is dead, after it is back
PHASES = ("before", "down", "after")
# Short outbox timings so the drill runs in seconds; production defaults are 10 s and 30 s.
FAST_OUTBOX = {"OUTBOX_SWEEP_SECONDS": 1, "OUTBOX_RETRY_SECONDS": 3}
SCANS = ("collected", "in_transit", "delivered")


def as_user(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def courier_notice(waybill_no: str, status: str) -> tuple[bytes, dict]:
    body = tracking_body(waybill_no, status)
    return body, {signing.HEADER: signing.sign(body, settings.SANDBOX_CARRIER_SECRET)}


def test_redis_killed_mid_stream_then_started_empty_loses_nothing_and_does_nothing_twice(
    start_worker, start_beat, own_redis, paid_gift, sender, sku, address, django_capture_on_commit_callbacks
):
    n = PER_PHASE * len(PHASES)
    friends = [UserFactory(username=f"friend{i}") for i in range(3 * n)]
    decliners, acceptors, shipped_to = friends[:n], friends[n : 2 * n], friends[2 * n :]
    to_decline = [paid_gift() for _ in range(n)]
    group = paid_gift(mode=Gift.Mode.GROUP, recipients=n)
    with eager_tasks():  # parcels already on their way to the courier, whose scans we will post
        parcels = []
        for friend in shipped_to:
            gift = paid_gift()
            as_user(friend).post(f"/api/v1/claims/{gift.claim_token}/accept/", {"address": ADDRESS}, format="json")
            parcels.append(Slot.objects.get(gift=gift))
        unpaid = [gift_create(sender=sender, sku_id=sku.pk) for _ in range(n)]
    assert all(Shipment.objects.get(slot=p).waybill_no for p in parcels)
    Job.objects.all().delete()  # the set-up ran eagerly; only the drill's own work is watched

    worker_env = {**FAST_OUTBOX, "SANDBOX_CARRIER_SCAN_DELAYS": "1,2,3"}
    statuses: list[tuple[str, int]] = []
    with publishing_to(own_redis.url):
        worker = start_worker(broker_url=own_redis.url, env=worker_env)
        beat = start_beat(broker_url=own_redis.url, env=FAST_OUTBOX)
        pid = worker.proc.pid

        for phase_no, phase in enumerate(PHASES):
            if phase == "down":
                # The worst moment: the worker holds a message it has not acknowledged yet (a courier
                # scan waiting for its countdown). kombu's Redis transport used to crash the worker here.
                wait_for(worker.holds_scheduled, what="the worker to hold a countdown task", workers=[worker])
                own_redis.kill()
            if phase == "after":
                own_redis.start()
                assert own_redis.queued() == 0  # started empty: whatever was queued is gone
                reconnect()
            part = slice(phase_no * PER_PHASE, (phase_no + 1) * PER_PHASE)
            for gift, friend in zip(to_decline[part], decliners[part], strict=True):
                r = as_user(friend).post(f"/api/v1/claims/{gift.claim_token}/decline/")
                statuses.append((f"decline {phase}", r.status_code))
            for gift in unpaid[part]:
                r = Client().post(f"/sandbox/pay/{gift.payment.out_trade_no}/", HTTP_ACCEPT="application/json")
                statuses.append((f"pay {phase}", r.status_code))
            for slot in parcels[part]:
                body, headers = courier_notice(Shipment.objects.get(slot=slot).waybill_no, "collected")
                r = Client().post(
                    "/api/v1/carriers/notify/sandbox/", body, content_type="application/json", headers=headers
                )
                statuses.append((f"courier notice {phase}", r.status_code))
            for friend in acceptors[part]:
                r = as_user(friend).post(
                    f"/api/v1/claims/{group.claim_token}/accept/", {"address": ADDRESS}, format="json"
                )
                statuses.append((f"accept {phase}", r.status_code))

        assert [s for s in statuses if s[1] >= 500] == []
        assert {code for _, code in statuses} <= {200, 202}, statuses

        accepted = Slot.objects.filter(gift=group)
        wait_for(
            lambda: (
                Refund.objects.filter(status=Refund.Status.SUCCEEDED).count() == n
                and Gift.objects.filter(pk__in=[g.pk for g in unpaid], status=GiftStatus.SENT).count() == n
                and accepted.filter(status=SlotStatus.DELIVERED).count() == n
                and not Job.objects.exists()
            ),
            what="every refund, payment and parcel to finish with no manual command",
            timeout=180,
            workers=[worker, beat],
        )
        assert not worker.exited() and worker.proc.pid == pid  # the same, unsupervised worker did it
        worker.wait_idle()

    # Nothing done twice.
    declined_slots = Slot.objects.filter(gift__in=to_decline)
    assert set(declined_slots.values_list("status", flat=True)) == {SlotStatus.REFUNDED}
    assert SandboxRefund.objects.count() == Refund.objects.count() == n
    for slot in declined_slots:
        assert GiftEvent.objects.filter(slot=slot, kind="refund_requested").count() == 1
        assert GiftEvent.objects.filter(slot=slot, kind="slot_status", to_status=SlotStatus.REFUNDED).count() == 1
    for slot in accepted:
        shipment = Shipment.objects.get(slot=slot)
        assert SandboxWaybill.objects.filter(request_key=f"slot-{slot.pk}").count() == 1
        assert sorted(TrackingEvent.objects.filter(shipment=shipment).values_list("status", flat=True)) == sorted(SCANS)
        assert GiftEvent.objects.filter(slot=slot, kind="slot_status", to_status=SlotStatus.DELIVERED).count() == 1
    assert set(Slot.objects.filter(pk__in=[p.pk for p in parcels]).values_list("status", flat=True)) == {
        SlotStatus.SHIPPED
    }
    # Every notice of these events reached its inbox once and its e-mail went out (its job is done).
    assert not Notification.objects.filter(emailed_at__isnull=True).exclude(user__email="").exists()

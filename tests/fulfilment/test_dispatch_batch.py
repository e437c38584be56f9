"""Waybills in batches (the worker's path on a real broker): the courier calls of a batch are in flight
together, each parcel gets exactly one waybill however often the batch runs, an outage waits for its
backoff and a refusal fails the shipment, as the per-parcel task does.

The courier calls run on threads with their own database connections, so these tests commit
(transactional_db)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from fulfilment import carriers
from fulfilment.carriers import Parcel, Waybill
from fulfilment.models import Shipment
from fulfilment.services.dispatch import DISPATCH_MAX_ATTEMPTS
from fulfilment.tasks import dispatch_shipments
from gifts.models import GiftEvent, Slot
from gifts.services.checkout import gift_create
from gifts.services.claim import slot_accept
from gifts.tasks import process_claims
from giftshop.errors import AppError, ProviderUnavailable
from outbox.models import Job
from tests.conftest import pay
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


class LocalCourier:
    """A courier that answers the same number for the same request key, remembers how many calls
    were in flight at once, and can be told to time out or refuse some parcels."""

    name = "local"
    lock = threading.Lock()
    issued: dict[str, str] = {}
    calls: Counter = Counter()
    in_flight = peak = 0
    all_in = threading.Barrier(1)
    outage: set[str] = set()
    refuse: set[str] = set()

    @classmethod
    def available(cls) -> bool:
        return True

    @classmethod
    def reset(cls, *, expect_together: int = 1) -> None:
        cls.issued, cls.calls, cls.in_flight, cls.peak = {}, Counter(), 0, 0
        cls.all_in = threading.Barrier(expect_together, timeout=30)
        cls.outage, cls.refuse = set(), set()

    def create_waybill(self, parcel: Parcel) -> Waybill:
        cls = type(self)
        with cls.lock:
            cls.calls[parcel.request_key] += 1
            cls.in_flight += 1
            cls.peak = max(cls.peak, cls.in_flight)
        try:
            cls.all_in.wait()  # every call of the batch is waiting on "the network" at the same time
        finally:
            with cls.lock:
                cls.in_flight -= 1
        if parcel.request_key in cls.outage:
            raise ProviderUnavailable("courier timed out")
        if parcel.request_key in cls.refuse:
            raise AppError("carrier_refused", "no quota")
        with cls.lock:
            number = cls.issued.setdefault(parcel.request_key, f"LC{len(cls.issued) + 1:06d}")
        return Waybill(number=number, company="zhongtong", label_url=f"https://labels.example/{number}")

    def parse_notification(self, *, body, headers, query):  # pragma: no cover (not used here)
        raise NotImplementedError


@pytest.fixture
def courier(settings, monkeypatch):
    monkeypatch.setitem(carriers.CARRIERS, "local", f"{__name__}.LocalCourier")
    settings.CARRIER_PROVIDER = "local"
    LocalCourier.reset()
    return LocalCourier


@pytest.fixture
def to_ship(sender, sku, address, monkeypatch):
    """n claims of a group gift processed to `to_ship`; their waybill jobs wait in the outbox (nothing
    is published: the test runs the batch itself)."""

    def _make(n: int) -> list[Slot]:
        gift = pay(gift_create(sender=sender, sku_id=sku.pk, mode="group", recipients=max(n, 2)))
        monkeypatch.setattr("outbox.jobs.publish", lambda job, countdown=0: True)
        for i in range(n):
            slot_accept(gift=gift, user=UserFactory(username=f"r{i}"), address=address)
        process_claims.run()
        slots = list(Slot.objects.filter(gift=gift, status="to_ship").order_by("pk"))
        assert len(slots) == n
        return slots

    return _make


def waybills(slots) -> dict[int, str]:
    return dict(Shipment.objects.filter(slot__in=slots).exclude(waybill_no="").values_list("slot_id", "waybill_no"))


def test_a_batch_asks_for_every_waybill_at_once_and_records_each_once(courier, to_ship):
    slots = to_ship(6)
    courier.reset(expect_together=6)  # the barrier lets no call answer until all six are in flight

    assert dispatch_shipments.run() == 6

    assert courier.peak == 6
    issued = waybills(slots)
    assert sorted(issued.values()) == sorted(courier.issued.values()) and len(set(issued.values())) == 6
    assert set(Shipment.objects.filter(slot__in=slots).values_list("status", "attempts")) == {("issued", 1)}
    events = Counter(GiftEvent.objects.filter(kind="waybill_issued").values_list("slot_id", flat=True))
    assert events == {s.pk: 1 for s in slots}
    assert not Job.objects.filter(task="fulfilment.tasks.dispatch_shipment").exists()


def test_a_batch_run_again_asks_nothing_and_records_nothing(courier, to_ship):
    slots = to_ship(3)
    courier.reset(expect_together=3)
    dispatch_shipments.run()
    first = waybills(slots)
    Job.objects.bulk_create(
        Job(task="fulfilment.tasks.dispatch_shipment", args=[s.pk], due_at=s.accepted_at) for s in slots
    )

    assert dispatch_shipments.run() == 3

    assert waybills(slots) == first
    assert set(courier.calls.values()) == {1}
    assert GiftEvent.objects.filter(kind="waybill_issued").count() == 3


def test_a_batch_cut_short_after_the_courier_answered_records_the_same_waybills_on_the_next_run(
    courier, to_ship, monkeypatch
):
    """The worker dies between the courier's answers and our commit: nothing of the batch is kept, and
    the next run gets the same numbers (same request keys) and records each once."""
    slots = to_ship(4)
    courier.reset(expect_together=4)

    def killed(*args, **kwargs):
        raise SystemExit("worker killed")

    with monkeypatch.context() as patched, pytest.raises(SystemExit):
        patched.setattr("fulfilment.services.dispatch.shipments_issue_bulk", killed)
        dispatch_shipments.run()
    assert waybills(slots) == {}
    assert Job.objects.filter(task="fulfilment.tasks.dispatch_shipment").count() == 4
    answered = dict(courier.issued)
    courier.all_in = type(courier.all_in)(4, timeout=30)

    dispatch_shipments.run()

    assert waybills(slots) == {s.pk: answered[f"slot-{s.pk}"] for s in slots}
    assert GiftEvent.objects.filter(kind="waybill_issued").count() == 4


def test_an_outage_waits_for_its_backoff_and_a_refusal_fails_the_shipment(courier, to_ship):
    fine, down, refused = to_ship(3)
    courier.reset(expect_together=3)
    courier.outage, courier.refuse = {f"slot-{down.pk}"}, {f"slot-{refused.pk}"}

    assert dispatch_shipments.run() == 2

    rows = {sh.slot_id: sh for sh in Shipment.objects.filter(slot__in=[fine, down, refused])}
    assert rows[fine.pk].status == "issued"
    assert (rows[down.pk].status, rows[down.pk].last_error) == ("requested", "courier timed out")
    assert (rows[refused.pk].status, rows[refused.pk].last_error) == ("failed", "carrier_refused: no quota")
    [waiting] = Job.objects.filter(task="fulfilment.tasks.dispatch_shipment")
    assert waiting.args == [down.pk]
    courier.reset()
    assert dispatch_shipments.run() == 0  # not ready until its backoff has passed
    assert courier.calls == Counter()


def test_an_outage_at_the_last_attempt_fails_the_shipment_for_good(courier, to_ship):
    [slot] = to_ship(1)
    Shipment.objects.create(slot=slot, shop_id=slot.gift.shop_id, carrier="local", attempts=DISPATCH_MAX_ATTEMPTS - 1)
    courier.outage = {f"slot-{slot.pk}"}

    assert dispatch_shipments.run() == 1

    shipment = Shipment.objects.get(slot=slot)
    assert (shipment.status, shipment.attempts) == ("failed", DISPATCH_MAX_ATTEMPTS)
    assert not Job.objects.filter(task="fulfilment.tasks.dispatch_shipment").exists()

"""A parcel refunded before it ships: its Kuaidi100 e-waybill is cancelled by the outbox job the
refund records (tests/fulfilment/kuaidi100_double.py checks the signed cancel call), once; an
outage is retried, a refusal is kept and told to the shop's staff; no waybill is asked for after
the refund, not even by a dispatch that was already asking."""

import json
import logging
import threading

import pytest
from django.db import connections, transaction
from django.test import Client
from django.utils import timezone

from fulfilment.kuaidi100 import push_salt
from fulfilment.models import Shipment, TrackingEvent
from fulfilment.services.dispatch import waybills_obtain
from fulfilment.services.shipments import (
    parcels_hand_over,
    slot_refund_after_sales,
    tracking_subscribe,
    waybill_cancel,
    waybill_cancel_give_up,
    waybill_obtain,
)
from fulfilment.states import shipment_cancel, shipment_issue
from fulfilment.tasks import cancel_waybill
from gifts.models import GiftEvent, Notification, Slot, SlotStatus
from gifts.services.claim import AddressInput, slot_accept, slot_hand_over
from giftshop.errors import AppError, ProviderUnavailable
from outbox.jobs import jobs_republish_due
from outbox.models import Job
from tests.conftest import ADDRESS
from tests.factories import ShopStaffFactory, UserFactory
from tests.fulfilment.kuaidi100_double import md5_upper

pytestmark = pytest.mark.django_db

CANCEL = "fulfilment.tasks.cancel_waybill"


def refund(slot, django_capture_on_commit_callbacks):
    """The merchant refunds the parcel before it ships; the jobs are recorded, not run."""
    with django_capture_on_commit_callbacks(execute=False):
        assert slot_refund_after_sales(slot=slot, actor=None, authorised=True) is not None


def cancel_requests(k100) -> list[dict]:
    return [r["form"] for r in k100.requests if r["path"] == "/label/order" and r["form"].get("method") == "cancel"]


def test_a_refund_before_hand_over_cancels_the_waybill_once(k100, to_ship, django_capture_on_commit_callbacks):
    shipment = waybill_obtain(slot_id=to_ship.pk)
    order = next(iter(k100.orders.values()))
    assert shipment.courier_order_no == order["kdComOrderNum"]  # kept for the cancel call

    refund(to_ship, django_capture_on_commit_callbacks)
    [job] = Job.objects.filter(task=CANCEL)
    assert job.args == [shipment.pk] and cancel_requests(k100) == []  # recorded with the refund, not yet run

    assert cancel_waybill.apply(args=[shipment.pk]).get() == "cancelled"
    assert cancel_waybill.apply(args=[shipment.pk]).get() == "already"  # a job run twice

    [form] = cancel_requests(k100)
    assert form["sign"] == md5_upper(form["param"] + form["t"] + k100.key + k100.secret) and k100.refused == []
    param = json.loads(form["param"])
    assert param["kuaidicom"] == "shunfeng" and param["kuaidinum"] == shipment.waybill_no
    assert param["orderId"] == order["kdComOrderNum"] and param["partnerId"] == k100.partner_id
    assert k100.cancelled == {shipment.waybill_no}
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.CANCELLED and shipment.cancelled_at is not None
    assert shipment.waybill_no == order["kuaidinum"]  # kept for the record
    [event] = GiftEvent.objects.filter(kind=GiftEvent.Kind.WAYBILL_CANCELLED)
    assert event.slot_id == to_ship.pk and event.data["waybill_no"] == shipment.waybill_no


def test_a_cancel_outage_is_retried_until_kuaidi100_cancels(
    k100, to_ship, monkeypatch, django_capture_on_commit_callbacks
):
    shipment = waybill_obtain(slot_id=to_ship.pk)
    refund(to_ship, django_capture_on_commit_callbacks)
    k100.cancel_codes = [500, 500]  # 服务器错误 twice, then it takes it
    # Eager Celery runs the task's own retries in place (a worker would wait its backoff first).
    monkeypatch.setitem(cancel_waybill.app.conf, "task_eager_propagates", False)

    assert cancel_waybill.apply(args=[shipment.pk]).get() == "cancelled"

    assert len(cancel_requests(k100)) == 3 and k100.cancelled == {shipment.waybill_no}
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.CANCELLED


def test_an_unreachable_kuaidi100_is_temporary_and_changes_nothing(k100, to_ship, django_capture_on_commit_callbacks):
    shipment = waybill_obtain(slot_id=to_ship.pk)
    refund(to_ship, django_capture_on_commit_callbacks)
    k100.down = True
    with pytest.raises(ProviderUnavailable):
        waybill_cancel(shipment_id=shipment.pk)
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.ISSUED and shipment.last_error == ""


@pytest.mark.parametrize(("code", "secret"), [(201, None), (None, "not-the-secret")])
def test_a_refused_cancel_is_kept_and_told_to_the_shops_staff_once(
    k100, to_ship, shop, settings, django_capture_on_commit_callbacks, code, secret
):
    staff = [ShopStaffFactory(shop=shop, user=UserFactory()).user for _ in range(2)]
    shipment = waybill_obtain(slot_id=to_ship.pk)
    refund(to_ship, django_capture_on_commit_callbacks)
    if code:
        k100.collected.add(shipment.waybill_no)  # 取消失败: the courier has it
    if secret:
        settings.KUAIDI100_SECRET = secret  # 503 签名验证失败: final, not retried

    assert cancel_waybill.apply(args=[shipment.pk]).get() == "refused"
    assert cancel_waybill.apply(args=[shipment.pk]).get() == "refused"

    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.ISSUED and shipment.last_error.startswith("cancel_refused")
    notes = Notification.objects.filter(kind=Notification.Kind.SHIPPING_EXCEPTION)
    assert sorted(n.user_id for n in notes) == sorted(u.pk for u in staff)
    assert all(shipment.waybill_no in n.title and n.link == f"/merchant/parcels/{to_ship.pk}/" for n in notes)
    assert len(cancel_requests(k100)) == 2 and k100.cancelled == set()  # one call per run, no retry loop


@pytest.mark.parametrize("code", [201, 500])
def test_a_cancel_kuaidi100_took_before_counts_as_cancelled_not_refused(
    k100, to_ship, shop, django_capture_on_commit_callbacks, code
):
    staff = ShopStaffFactory(shop=shop, user=UserFactory()).user
    shipment = waybill_obtain(slot_id=to_ship.pk)
    refund(to_ship, django_capture_on_commit_callbacks)
    k100.repeat_cancel_code = code
    k100.stall_seconds = 0.8  # Kuaidi100 cancels it; its answer comes after our 0.5 s timeout
    with pytest.raises(ProviderUnavailable):
        waybill_cancel(shipment_id=shipment.pk)
    assert k100.cancelled == {shipment.waybill_no}
    k100.stall_seconds = 0

    assert cancel_waybill.apply(args=[shipment.pk]).get() == "cancelled"  # the task's next try: 订单已取消

    assert len(cancel_requests(k100)) == 2
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.CANCELLED and shipment.last_error == ""
    [event] = GiftEvent.objects.filter(kind=GiftEvent.Kind.WAYBILL_CANCELLED)
    assert event.data["outcome"] == "already"
    assert not Notification.objects.filter(user=staff).exists()


def test_a_cancel_whose_retries_run_out_is_kept_and_told_to_the_shops_staff_once(
    k100, to_ship, shop, client, monkeypatch, django_capture_on_commit_callbacks
):
    staff = [ShopStaffFactory(shop=shop, user=UserFactory()).user for _ in range(2)]
    shipment = waybill_obtain(slot_id=to_ship.pk)
    refund(to_ship, django_capture_on_commit_callbacks)
    k100.cancel_codes = [500] * (cancel_waybill.max_retries + 1)  # 服务器错误 at every try
    monkeypatch.setitem(cancel_waybill.app.conf, "task_eager_propagates", False)  # the retries run in place

    assert cancel_waybill.apply(args=[shipment.pk]).get() == "failed"

    assert len(cancel_requests(k100)) == cancel_waybill.max_retries + 1 and k100.cancelled == set()
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.ISSUED and shipment.cancel_failed_at is not None
    assert shipment.last_error == "cancel_failed: kuaidi100 cancel: server error (500)"
    failed_at = shipment.cancel_failed_at
    assert waybill_cancel_give_up(shipment_id=shipment.pk, error="reported again") == "failed"
    shipment.refresh_from_db()
    assert shipment.cancel_failed_at == failed_at
    notes = Notification.objects.filter(kind=Notification.Kind.SHIPPING_EXCEPTION)
    assert sorted(n.user_id for n in notes) == sorted(u.pk for u in staff)  # once each
    for note in notes:
        assert shipment.waybill_no in note.title and note.link == f"/merchant/parcels/{to_ship.pk}/"
        assert "顺丰速运" in note.body and "手动取消运单" in note.body and shipment.waybill_no in note.body
    client.force_login(staff[0])
    page = client.get(note.link).content.decode()
    assert 'data-test="waybill-cancel-failed"' in page and "请到快递后台取消" in page


def test_a_cancel_job_the_outbox_gives_up_on_is_told_to_the_shops_staff(
    k100, to_ship, shop, settings, django_capture_on_commit_callbacks
):
    """The job never finished (a worker killed at each try): beat gives it up after its last publication."""
    staff = ShopStaffFactory(shop=shop, user=UserFactory()).user
    shipment = waybill_obtain(slot_id=to_ship.pk)
    refund(to_ship, django_capture_on_commit_callbacks)
    [job] = Job.objects.filter(task=CANCEL)
    Job.objects.filter(pk=job.pk).update(publications=settings.OUTBOX_MAX_PUBLICATIONS, due_at=timezone.now())

    assert jobs_republish_due() == 0

    job.refresh_from_db()
    assert job.failed_at is not None and cancel_requests(k100) == []
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.ISSUED and shipment.cancel_failed_at is not None
    assert shipment.last_error.startswith("cancel_failed: the outbox gave up")
    [note] = Notification.objects.filter(user=staff, kind=Notification.Kind.SHIPPING_EXCEPTION)
    assert shipment.waybill_no in note.body


def test_a_cancel_given_up_after_the_courier_took_it_tells_nobody(k100, to_ship, django_capture_on_commit_callbacks):
    shipment = waybill_obtain(slot_id=to_ship.pk)
    refund(to_ship, django_capture_on_commit_callbacks)
    assert waybill_cancel(shipment_id=shipment.pk) == "cancelled"
    assert waybill_cancel_give_up(shipment_id=shipment.pk, error="late") == "already"
    shipment.refresh_from_db()
    assert shipment.cancel_failed_at is None
    assert not Notification.objects.filter(kind=Notification.Kind.SHIPPING_EXCEPTION).exists()


def test_a_cancelled_waybill_cannot_be_handed_over(k100, to_ship, shop, django_capture_on_commit_callbacks):
    owner = ShopStaffFactory(shop=shop, user=UserFactory()).user
    shipment = waybill_obtain(slot_id=to_ship.pk)
    refund(to_ship, django_capture_on_commit_callbacks)
    waybill_cancel(shipment_id=shipment.pk)

    report = parcels_hand_over(user=owner, slot_ids=[to_ship.pk])

    assert report.handed_over == [] and [slot_id for slot_id, _ in report.refused] == [to_ship.pk]
    assert "已取消" in report.refused[0][1]
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.CANCELLED


def test_a_dispatch_after_the_refund_asks_for_no_waybill(k100, to_ship, django_capture_on_commit_callbacks):
    refund(to_ship, django_capture_on_commit_callbacks)  # before any waybill: the job cancels the bare row
    [job] = Job.objects.filter(task=CANCEL)

    assert waybill_obtain(slot_id=to_ship.pk) is None
    with django_capture_on_commit_callbacks(execute=False):
        assert waybills_obtain(slot_ids=[to_ship.pk]) == {}
    assert waybill_cancel(shipment_id=job.args[0]) == "cancelled"
    assert waybill_obtain(slot_id=to_ship.pk) is None

    assert k100.orders == {} and cancel_requests(k100) == []
    shipment = Shipment.objects.get(slot=to_ship)
    assert shipment.status == Shipment.Status.CANCELLED and shipment.waybill_no == ""


def test_a_cancelled_shipment_takes_no_waybill_afterwards(to_ship, django_capture_on_commit_callbacks):
    refund(to_ship, django_capture_on_commit_callbacks)
    shipment = Shipment.objects.get(slot=to_ship)
    assert waybill_cancel(shipment_id=shipment.pk) == "cancelled"
    with pytest.raises(AppError) as refused, transaction.atomic():
        shipment_issue(Shipment.objects.select_for_update().get(pk=shipment.pk), waybill_no="SBX1")
    assert refused.value.code == "illegal_transition"


def test_a_parcel_handed_over_is_not_cancelled(k100, to_ship, shop, django_capture_on_commit_callbacks):
    owner = ShopStaffFactory(shop=shop, user=UserFactory()).user
    shipment = waybill_obtain(slot_id=to_ship.pk)
    with django_capture_on_commit_callbacks(execute=False):
        assert parcels_hand_over(user=owner, slot_ids=[to_ship.pk]).handed_over == [to_ship.pk]
    with pytest.raises(AppError) as refused, transaction.atomic():
        shipment_cancel(Shipment.objects.select_for_update().get(pk=shipment.pk))
    assert refused.value.code == "illegal_transition"

    refund(Slot.objects.get(pk=to_ship.pk), django_capture_on_commit_callbacks)  # shipped: a refund, not a cancel
    assert not Job.objects.filter(task=CANCEL).exists() and cancel_requests(k100) == []


@pytest.mark.parametrize(("state", "context"), [("1", "快件已揽收"), ("0", "快件已到达转运中心")])
def test_a_scan_of_a_cancelled_waybill_is_taken_and_moves_nothing(
    k100, to_ship, django_capture_on_commit_callbacks, caplog, state, context
):
    shipment = waybill_obtain(slot_id=to_ship.pk)
    assert tracking_subscribe(shipment_id=shipment.pk) == "subscribed"
    refund(to_ship, django_capture_on_commit_callbacks)
    assert waybill_cancel(shipment_id=shipment.pk) == "cancelled"

    body = k100.push(shipment.waybill_no, state, context=f"{context}，收件人 {ADDRESS['detail']}")
    with caplog.at_level(logging.INFO, logger="fulfilment"):
        answer = Client().post(k100.callback(shipment.waybill_no), body, "application/x-www-form-urlencoded")

    # Kuaidi100's success answer: it stops pushing this scan.
    assert answer.status_code == 200 and answer.json() == {"result": True, "returnCode": "200", "message": "成功"}
    assert Slot.objects.get(pk=to_ship.pk).status == SlotStatus.TO_SHIP
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.CANCELLED and shipment.handed_over_at is None
    assert not TrackingEvent.objects.exists() and not Notification.objects.filter(kind="shipped").exists()
    [ignored] = [r for r in caplog.records if "cancelled waybill" in r.getMessage()]
    assert f"slot={to_ship.pk}" in ignored.getMessage()
    secrets = [ADDRESS["detail"], ADDRESS["phone"], k100.key, k100.secret, push_salt(f"slot-{to_ship.pk}")]
    assert not [s for s in secrets if s in caplog.text]


# ----- a dispatch in flight when the refund comes (real threads, PostgreSQL row locks) -----


def _fresh_to_ship(make_gift, monkeypatch) -> Slot:
    """A to-ship parcel whose dispatch has not run; from here on jobs are recorded and not run by
    themselves (the test runs the one it means)."""
    gift = make_gift()
    monkeypatch.setattr("outbox.jobs.publish", lambda job, countdown=0: True)
    slot_accept(gift=gift, user=UserFactory(), address=AddressInput.from_dict(ADDRESS))
    slot_hand_over(slot_id=Slot.objects.get(gift=gift).pk)
    slot = Slot.objects.get(gift=gift)
    assert slot.status == SlotStatus.TO_SHIP and not Shipment.objects.filter(slot=slot).exists()
    return slot


def _in_thread(target) -> tuple[threading.Thread, list]:
    outcome: list = []

    def run():
        try:
            outcome.append(target())
        except BaseException as exc:  # noqa: BLE001 (shown by the test)
            outcome.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("batch", [False, True])
def test_a_refund_during_a_dispatch_cancels_the_waybill_that_dispatch_gets(k100, make_gift, shop, monkeypatch, batch):
    slot = _fresh_to_ship(make_gift, monkeypatch)
    k100.stall_seconds = 0.3  # Kuaidi100 issues the number, then answers (within our timeout)

    def dispatch():
        if not batch:
            return waybill_obtain(slot_id=slot.pk)
        with transaction.atomic():  # a batch runs inside its jobs' transaction: its rows are not committed
            return waybills_obtain(slot_ids=[slot.pk])

    thread, outcome = _in_thread(dispatch)
    assert k100.ordered.wait(5)  # the courier has the order; its answer is on the way
    assert slot_refund_after_sales(slot=slot, actor=None, authorised=True) is not None
    [job] = Job.objects.filter(task=CANCEL)
    assert waybill_cancel(shipment_id=job.args[0]) == "cancelled"  # waits for the dispatch's answer
    thread.join(5)

    assert not isinstance(outcome[0], BaseException), outcome
    [number] = k100.waybills()
    shipment = Shipment.objects.get(slot=slot)
    assert shipment.waybill_no == number and shipment.status == Shipment.Status.CANCELLED
    assert k100.cancelled == {number}
    assert waybill_obtain(slot_id=slot.pk) is None and len(k100.orders) == 1  # and no new one


def test_the_shipped_notices_name_the_gift_and_only_the_recipient_s_carries_the_waybill(
    k100, to_ship, shop, django_capture_on_commit_callbacks
):
    owner = ShopStaffFactory(shop=shop, user=UserFactory()).user
    shipment = waybill_obtain(slot_id=to_ship.pk)
    with django_capture_on_commit_callbacks(execute=False):
        parcels_hand_over(user=owner, slot_ids=[to_ship.pk])
    product = to_ship.sku.product.title
    mine = Notification.objects.get(user=to_ship.recipient, kind=Notification.Kind.SHIPPED)
    theirs = Notification.objects.get(user=to_ship.gift.sender, kind=Notification.Kind.SHIPPED)
    assert product in mine.title and shipment.waybill_no in mine.body
    assert product in theirs.title and theirs.body and shipment.waybill_no not in theirs.body + theirs.title


def test_the_recipient_sees_the_waybill_once_the_parcel_is_on_its_way(
    k100, to_ship, shop, client, django_capture_on_commit_callbacks
):
    """The waybill is made when the gift is accepted; showing it while the parcel waits at the shop
    (待发货) had the friend track a parcel that was not moving."""
    shipment = waybill_obtain(slot_id=to_ship.pk)
    client.force_login(to_ship.recipient)
    assert shipment.waybill_no not in client.get("/received/").content.decode()
    owner = ShopStaffFactory(shop=shop, user=UserFactory()).user
    with django_capture_on_commit_callbacks(execute=False):
        parcels_hand_over(user=owner, slot_ids=[to_ship.pk])
    assert shipment.waybill_no in client.get("/received/").content.decode()

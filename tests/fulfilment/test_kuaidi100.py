"""Kuaidi100 e-waybills and push tracking against a local double that speaks its wire protocol
(tests/fulfilment/kuaidi100_double.py): our orders are signed and checked, its pushes are signed
with our salt and go through our real notify endpoint."""

import json

import pytest
from django.test import Client

from fulfilment.kuaidi100 import push_salt
from fulfilment.models import Shipment, TrackingEvent
from fulfilment.services.dispatch import waybills_obtain
from fulfilment.services.shipments import slot_ship_manually, tracking_subscribe, waybill_obtain
from fulfilment.tasks import dispatch_shipment
from gifts.models import Notification, Slot, SlotStatus
from gifts.services.claim import AddressInput, slot_accept, slot_hand_over
from giftshop.errors import AppError, ProviderUnavailable
from outbox.models import Job
from tests.conftest import ADDRESS
from tests.factories import ShopStaffFactory, SkuFactory, UserFactory

pytestmark = pytest.mark.django_db

NOTIFY = "/api/v1/carriers/notify/kuaidi100/"
SUCCESS = {"result": True, "returnCode": "200", "message": "成功"}


def post(path: str, body: bytes):
    r = Client().post(path, body, content_type="application/x-www-form-urlencoded")
    assert r.status_code == 200, r.content
    return r.json()


def push(k100, number: str, state: str, **kwargs):
    """Kuaidi100 pushes a scan of `number` to the URL its subscription gave, signed with its salt."""
    return post(k100.callback(number), k100.push(number, state, **kwargs))


def issued(k100, slot) -> Shipment:
    shipment = waybill_obtain(slot_id=slot.pk)
    assert shipment.waybill_no in k100.waybills()
    return shipment


def tracked(k100, slot) -> Shipment:
    """Issued and subscribed to push tracking."""
    shipment = issued(k100, slot)
    assert tracking_subscribe(shipment_id=shipment.pk) == "subscribed"
    return shipment


# ----- ordering -----


def test_an_order_is_signed_and_carries_the_shops_courier_sender_and_our_order_id(k100, to_ship):
    shipment = issued(k100, to_ship)

    [request] = [r for r in k100.requests if r["path"] == "/label/order"]
    param = json.loads(request["form"]["param"])
    assert k100.refused == [] and request["form"]["method"] == "order"
    assert param["kuaidicom"] == "shunfeng" and param["orderId"] == f"slot-{to_ship.pk}"
    assert param["sendMan"] == {
        "name": "礼物仓",
        "mobile": "075512345678",
        "printAddr": "广东省深圳市宝安区仓库路 1 号",
    }
    assert param["recMan"]["name"] == ADDRESS["name"] and param["recMan"]["mobile"] == ADDRESS["phone"]
    assert shipment.carrier == "kuaidi100" and shipment.company == "shunfeng"
    assert shipment.status == Shipment.Status.ISSUED


def test_the_printable_label_is_kept_on_the_shipment(k100, to_ship):
    shipment = issued(k100, to_ship)
    shipment.refresh_from_db()
    assert shipment.label_url == f"https://label.kuaidi100.test/{shipment.waybill_no}.png"


def test_a_shop_without_a_courier_uses_the_site_default(k100, to_ship, settings):
    to_ship.gift.shop.__class__.objects.filter(pk=to_ship.gift.shop_id).update(courier_company="")
    settings.KUAIDI100_DEFAULT_COMPANY = "yuantong"
    assert issued(k100, to_ship).company == "yuantong"


def test_a_wrong_signature_is_refused_by_kuaidi100_and_no_waybill_is_recorded(k100, to_ship, settings):
    settings.KUAIDI100_SECRET = "not-the-secret"
    with pytest.raises(AppError) as refused:
        waybill_obtain(slot_id=to_ship.pk)
    assert refused.value.code == "carrier_refused" and k100.refused == ["/label/order"]
    assert k100.orders == {} and Shipment.objects.get(slot=to_ship).waybill_no == ""


def test_a_refused_order_is_a_final_failure_not_retried(k100, to_ship, settings):
    settings.KUAIDI100_SECRET = "not-the-secret"
    assert dispatch_shipment.apply(args=[to_ship.pk]).get() == "failed"
    shipment = Shipment.objects.get(slot=to_ship)
    assert shipment.status == Shipment.Status.FAILED and "carrier_refused" in shipment.last_error
    assert len([r for r in k100.requests if r["path"] == "/label/order"]) == 1


def test_a_repeated_dispatch_after_a_timeout_gives_one_waybill(k100, to_ship):
    k100.stall_seconds = 1.0  # Kuaidi100 issues the waybill but answers after our 0.5 s timeout
    with pytest.raises(ProviderUnavailable):
        waybill_obtain(slot_id=to_ship.pk)
    assert len(k100.orders) == 1 and Shipment.objects.get(slot=to_ship).waybill_no == ""

    k100.stall_seconds = 0
    first = waybill_obtain(slot_id=to_ship.pk)
    again = waybill_obtain(slot_id=to_ship.pk)

    assert len(k100.orders) == 1 and first.waybill_no == again.waybill_no == k100.waybills()[0]
    assert Shipment.objects.filter(slot=to_ship).count() == 1
    assert len([r for r in k100.requests if r["path"] == "/label/order"]) == 2  # the third never asked


def test_gateway_down_is_temporary_and_issues_no_waybill(k100, to_ship):
    k100.down = True
    with pytest.raises(ProviderUnavailable):
        waybill_obtain(slot_id=to_ship.pk)
    shipment = Shipment.objects.get(slot=to_ship)
    assert shipment.waybill_no == "" and shipment.status == Shipment.Status.REQUESTED and k100.orders == {}
    assert not Job.objects.filter(task="fulfilment.tasks.subscribe_tracking").exists()


def test_a_gateway_that_does_not_listen_is_temporary(k100, to_ship, settings):
    settings.KUAIDI100_API_BASE = "http://127.0.0.1:9"  # discard port: connection refused
    with pytest.raises(ProviderUnavailable):
        waybill_obtain(slot_id=to_ship.pk)


# ----- subscription -----


def test_the_waybill_is_subscribed_by_a_job_recorded_with_it(k100, to_ship):
    shipment = issued(k100, to_ship)
    [job] = Job.objects.filter(task="fulfilment.tasks.subscribe_tracking")
    assert job.args == [shipment.pk] and k100.subscriptions == []  # not yet: a separate, retryable task

    assert tracking_subscribe(shipment_id=shipment.pk) == "subscribed"

    [sub] = k100.subscriptions
    assert sub["company"] == "shunfeng" and sub["number"] == shipment.waybill_no and sub["key"] == k100.key
    # The parcel's own URL and salt: its pushes name it, whoever else uses the number.
    assert sub["parameters"]["callbackurl"] == f"https://gifts.example.com{NOTIFY}?ref=slot-{to_ship.pk}"
    salt = sub["parameters"]["salt"]
    assert len(salt) == 32 and salt == push_salt(f"slot-{to_ship.pk}") and salt != k100.salt
    assert sub["parameters"]["phone"] == ADDRESS["phone"]  # 顺丰 answers tracking only with a phone
    shipment.refresh_from_db()
    assert shipment.tracking_subscribed_at is not None
    assert tracking_subscribe(shipment_id=shipment.pk) == "skipped" and len(k100.subscriptions) == 1


def test_a_subscription_outage_is_retried_later(k100, to_ship):
    shipment = issued(k100, to_ship)
    k100.down = True
    with pytest.raises(ProviderUnavailable):
        tracking_subscribe(shipment_id=shipment.pk)
    shipment.refresh_from_db()
    assert shipment.tracking_subscribed_at is None


def test_accepting_a_gift_dispatches_and_subscribes_through_the_workers(
    k100, make_gift, shop, django_capture_on_commit_callbacks
):
    gift = make_gift()
    with django_capture_on_commit_callbacks(execute=True):
        slot_accept(gift=gift, user=UserFactory(), address=AddressInput.from_dict(ADDRESS))
    shipment = Shipment.objects.get(slot__gift=gift)
    assert shipment.waybill_no == k100.waybills()[0] and shipment.label_url
    assert [s["number"] for s in k100.subscriptions] == [shipment.waybill_no]


# ----- pushes -----


def test_signed_pushes_move_the_slot_collected_then_delivered(k100, to_ship):
    number = tracked(k100, to_ship).waybill_no

    assert push(k100, number, "1", time_="2026-12-03 10:00:00") == SUCCESS
    to_ship.refresh_from_db()
    assert to_ship.status == SlotStatus.SHIPPED

    assert push(k100, number, "0", time_="2026-12-03 18:00:00", context="到达转运中心") == SUCCESS
    assert push(k100, number, "5", time_="2026-12-04 09:00:00", context="派件中") == SUCCESS
    to_ship.refresh_from_db()
    assert to_ship.status == SlotStatus.SHIPPED

    assert push(k100, number, "3", time_="2026-12-04 15:00:00", context="已签收") == SUCCESS
    to_ship.refresh_from_db()
    assert to_ship.status == SlotStatus.DELIVERED
    statuses = list(TrackingEvent.objects.filter(shipment__slot=to_ship).values_list("status", flat=True))
    assert statuses == ["collected", "in_transit", "in_transit", "delivered"]
    assert TrackingEvent.objects.filter(status="delivered").get().occurred_at.isoformat() == "2026-12-04T07:00:00+00:00"


def test_the_same_push_twice_and_an_older_push_change_nothing(k100, to_ship):
    number = tracked(k100, to_ship).waybill_no
    url = k100.callback(number)
    delivered = k100.push(number, "3", time_="2026-12-04 15:00:00")
    push(k100, number, "1", time_="2026-12-03 10:00:00")
    post(url, delivered)
    events = TrackingEvent.objects.count()

    assert post(url, delivered) == SUCCESS  # Kuaidi100 pushes again
    assert push(k100, number, "0", time_="2026-12-03 18:00:00") == SUCCESS  # late, out of order

    to_ship.refresh_from_db()
    assert to_ship.status == SlotStatus.DELIVERED
    assert TrackingEvent.objects.count() == events + 1  # the late scan joins the timeline only


@pytest.mark.parametrize(
    "forge",
    [
        lambda d, n: d.push(n, "3", salt="another-salt"),
        lambda d, n: d.push(n, "3", salt=d.salt),  # the site's salt, not the parcel's
        lambda d, n: d.push(n, "3", sign=""),
        lambda d, n: d.push(n, "3").replace(b"%22state%22%3A+%223%22", b"%22state%22%3A+%221%22"),
        lambda d, n: d.push(n, "3", param="{not json", sign=None),
        lambda d, n: d.push(n, "3", param=json.dumps({"status": "polling"}), sign=None),
        lambda d, n: b"param=",
        lambda d, n: b"\xff\xfe",
        lambda d, n: b"",
    ],
    ids=[
        "other_salt",
        "site_salt",
        "no_sign",
        "tampered",
        "not_json",
        "no_last_result",
        "empty_param",
        "not_utf8",
        "empty",
    ],
)
def test_a_forged_or_malformed_push_is_refused_and_changes_nothing(k100, to_ship, forge):
    number = tracked(k100, to_ship).waybill_no

    answer = post(k100.callback(number), forge(k100, number))

    assert answer["result"] is False and answer["returnCode"] == "500"
    assert answer["message"] in ("bad_signature", "bad_notification")
    to_ship.refresh_from_db()
    assert to_ship.status == SlotStatus.TO_SHIP and not TrackingEvent.objects.exists()


def test_the_tampered_push_is_refused_for_its_signature(k100, to_ship):
    number = tracked(k100, to_ship).waybill_no
    body = k100.push(number, "3").replace(b"%22state%22%3A+%223%22", b"%22state%22%3A+%221%22")
    assert b"%22state%22%3A+%221%22" in body  # the forgery really changed the state
    assert post(k100.callback(number), body)["message"] == "bad_signature"


def test_a_push_for_another_number_at_a_parcels_url_is_taken_and_changes_nothing(k100, to_ship):
    number = tracked(k100, to_ship).waybill_no
    other = k100.push("7999999999999", "3", salt=k100.subscription(number)["parameters"]["salt"])
    assert post(k100.callback(number), other) == SUCCESS
    to_ship.refresh_from_db()
    assert to_ship.status == SlotStatus.TO_SHIP and not TrackingEvent.objects.exists()


def test_a_push_that_names_no_parcel_reaches_the_only_one_with_its_number(k100, to_ship):
    """A subscription made with the bare notify URL and the site's salt (before the per-parcel
    ones): its pushes still reach the parcel while it is the only one with that number (another
    shop's parcel with the same number: see below); a reference that names nothing changes nothing."""
    number = issued(k100, to_ship).waybill_no
    assert post(f"{NOTIFY}?ref=nonsense", k100.push(number, "3", salt=push_salt("nonsense"))) == SUCCESS
    assert post(NOTIFY, k100.push(number, "3", salt="another-salt"))["message"] == "bad_signature"
    to_ship.refresh_from_db()
    assert to_ship.status == SlotStatus.TO_SHIP and not TrackingEvent.objects.exists()

    assert post(NOTIFY, k100.push(number, "3", salt=k100.salt)) == SUCCESS
    to_ship.refresh_from_db()
    assert to_ship.status == SlotStatus.DELIVERED


def test_a_number_another_shop_also_uses_is_tracked_only_for_the_parcel_each_push_names(
    k100, to_ship, make_gift, django_capture_on_commit_callbacks
):
    number = tracked(k100, to_ship).waybill_no
    # Another shop ships a parcel by hand with the same courier and number (a typo on its side):
    # taken without a word about ours.
    gift = make_gift(sku_id=SkuFactory(stock=5).pk)
    with django_capture_on_commit_callbacks(execute=False):
        slot_accept(gift=gift, user=UserFactory(), address=AddressInput.from_dict(ADDRESS))
        slot_hand_over(slot_id=Slot.objects.get(gift=gift).pk)
    theirs = Slot.objects.get(gift=gift)
    assert theirs.gift.shop_id != to_ship.gift.shop_id
    slot_ship_manually(slot=theirs, carrier_name="kuaidi100", tracking_no=number, actor=None)
    assert Shipment.objects.filter(carrier="kuaidi100", waybill_no=number).count() == 2

    delivered = k100.push(number, "3", time_="2026-12-04 15:00:00")
    assert post(k100.callback(number), delivered) == SUCCESS
    assert post(k100.callback(number), delivered) == SUCCESS  # again: nothing more

    to_ship.refresh_from_db()
    theirs.refresh_from_db()
    assert to_ship.status == SlotStatus.DELIVERED and theirs.status == SlotStatus.SHIPPED
    assert list(TrackingEvent.objects.values_list("shipment__slot_id", flat=True)) == [to_ship.pk]
    # Our push carried to their parcel's URL does not verify there.
    theirs_url = f"{NOTIFY}?ref=slot-{theirs.pk}"
    assert post(theirs_url, delivered)["message"] == "bad_signature"
    # A push that names no parcel names neither of the two: taken, and nothing moves.
    assert post(NOTIFY, k100.push(number, "3", time_="2026-12-04 16:00:00", salt=k100.salt)) == SUCCESS
    theirs.refresh_from_db()
    assert theirs.status == SlotStatus.SHIPPED and TrackingEvent.objects.count() == 1
    # Had they subscribed, the same scan pushed for their parcel is theirs, recorded once for it.
    body = k100.push(number, "3", time_="2026-12-04 15:00:00", salt=push_salt(f"slot-{theirs.pk}"))
    assert post(theirs_url, body) == SUCCESS and post(theirs_url, body) == SUCCESS
    theirs.refresh_from_db()
    assert theirs.status == SlotStatus.DELIVERED
    assert sorted(TrackingEvent.objects.values_list("shipment__slot_id", flat=True)) == sorted([to_ship.pk, theirs.pk])


def test_a_push_with_an_unknown_state_is_taken_and_moves_nothing(k100, to_ship):
    number = tracked(k100, to_ship).waybill_no
    assert push(k100, number, "8", context="清关中") == SUCCESS
    to_ship.refresh_from_db()
    assert to_ship.status == SlotStatus.TO_SHIP
    assert list(TrackingEvent.objects.values_list("status", flat=True)) == ["kuaidi100:8"]


def test_a_tracking_exception_is_told_to_the_shops_staff_once(k100, to_ship, shop):
    staff = [ShopStaffFactory(shop=shop, user=UserFactory()).user for _ in range(2)]
    number = tracked(k100, to_ship).waybill_no
    push(k100, number, "1", time_="2026-12-03 10:00:00")
    refused = k100.push(number, "14", time_="2026-12-04 15:00:00", context="收件人拒签")

    assert post(k100.callback(number), refused) == SUCCESS
    assert post(k100.callback(number), refused) == SUCCESS

    notes = Notification.objects.filter(title__contains=number)
    assert sorted(n.user_id for n in notes) == sorted(u.pk for u in staff)
    assert {n.body for n in notes} == {"收件人拒签"}
    assert set(notes.values_list("kind", flat=True)) == {"shipping_exception"}
    to_ship.refresh_from_db()
    assert to_ship.status == SlotStatus.SHIPPED  # never backwards; the merchant decides what next


def test_the_notify_endpoint_is_404_unless_kuaidi100_is_enabled(settings):
    settings.KUAIDI100_KEY = ""
    r = Client().post(NOTIFY, b"param=x&sign=y", content_type="application/x-www-form-urlencoded")
    assert r.status_code == 404


def test_a_waybill_batch_orders_every_parcel_once_side_by_side_and_subscribes_each(
    k100, make_gift, shop, django_capture_on_commit_callbacks
):
    slots = []
    for _ in range(5):
        gift = make_gift()
        with django_capture_on_commit_callbacks(execute=False):
            slot_accept(gift=gift, user=UserFactory(), address=AddressInput.from_dict(ADDRESS))
            slot_hand_over(slot_id=Slot.objects.get(gift=gift).pk)
        slots.append(Slot.objects.get(gift=gift))

    with django_capture_on_commit_callbacks(execute=False):
        assert waybills_obtain(slot_ids=[s.pk for s in slots]) == {}
        assert waybills_obtain(slot_ids=[s.pk for s in slots]) == {}  # run again: nothing asked

    orders = [r for r in k100.requests if r["path"] == "/label/order"]
    assert sorted(json.loads(r["form"]["param"])["orderId"] for r in orders) == sorted(f"slot-{s.pk}" for s in slots)
    recorded = dict(Shipment.objects.filter(slot__in=slots).values_list("slot_id", "waybill_no"))
    assert sorted(recorded.values()) == sorted(k100.waybills()) and len(set(recorded.values())) == 5
    assert Job.objects.filter(task="fulfilment.tasks.subscribe_tracking").count() == 5

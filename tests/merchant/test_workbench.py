"""The merchant workbench: today's counts, the to-ship queue with batch print and 交给快递, shipping
exceptions, the sandbox courier driven by hand, shop scoping and staff roles. PostgreSQL, pages
through the test client as shop staff."""

import pytest
from django.urls import reverse

from fulfilment.models import Shipment, TrackingEvent
from fulfilment.services.shipments import parcels_hand_over, shipment_drive, slot_ship_manually
from gifts.models import GiftEvent, Notification, Slot
from gifts.services.claim import AddressInput, slot_accept
from giftshop.errors import AppError, NotFound
from privacy.models import PiiAccessLog
from shops.models import Sku
from shops.permissions import Action, staff_may
from tests.conftest import ADDRESS
from tests.factories import ShopStaffFactory, SkuFactory, UserFactory

pytestmark = pytest.mark.django_db

OTHER_ADDRESS = {**ADDRESS, "name": "李四", "phone": "13998765432", "detail": "另一家店的收件地址 9 号"}


@pytest.fixture
def shop_sku(db):
    sku = SkuFactory(stock=1000, price_fen=5000, original_price_fen=6000, attributes={"口味": "原味"})
    shop = sku.product.shop
    shop.print_blessing_card = True
    shop.save()
    return sku


@pytest.fixture
def owner(shop_sku):
    return ShopStaffFactory(shop=shop_sku.product.shop, user=UserFactory(username="owner"), role="owner").user


@pytest.fixture
def shipper(shop_sku):
    return ShopStaffFactory(shop=shop_sku.product.shop, user=UserFactory(username="packer"), role="shipper").user


@pytest.fixture
def other_sku(db):
    return SkuFactory(stock=50)


@pytest.fixture
def other_owner(other_sku):
    return ShopStaffFactory(shop=other_sku.product.shop, user=UserFactory(username="merchant2"), role="owner").user


@pytest.fixture
def to_ship(make_gift, django_capture_on_commit_callbacks):
    """n paid-and-accepted orders of one gift; the eager worker issued their sandbox e-waybills."""

    def _make(sku, n: int, *, message: str = "新春快乐，万事如意", address: dict = ADDRESS) -> list[Slot]:
        gift = make_gift(sku_id=sku.pk, mode="group" if n > 1 else "single", recipients=n, message=message)
        with django_capture_on_commit_callbacks(execute=True):
            for user in UserFactory.create_batch(n):
                slot_accept(gift=gift, user=user, address=AddressInput.from_dict(address))
        slots = list(Slot.objects.filter(gift=gift).order_by("number"))
        assert {s.status for s in slots} == {"to_ship"}
        assert all(Shipment.objects.get(slot=s).status == "issued" for s in slots)
        return slots

    return _make


def wb(name: str, *args) -> str:
    return reverse(f"merchant:{name}", args=args)


# ----- home and queue -----


def test_the_merchant_home_is_the_workbench_with_todays_counts(client, to_ship, shop_sku, owner, other_sku):
    a, b, c = to_ship(shop_sku, 3)
    to_ship(other_sku, 2, address=OTHER_ADDRESS)  # another shop's: never counted
    slot_ship_manually(slot=c, carrier_name="顺丰速运", tracking_no="SF1", actor=owner)
    shipment_drive(shipment=a.shipment, status="exception")
    client.force_login(owner)

    r = client.get("/merchant/")

    assert r.status_code == 200
    assert r.context["counts"] == {
        "to_ship": 2,
        "ready_to_hand_over": 2,
        "waybill_failed": 0,
        "exceptions": 1,
        "accepted_today": 3,
        "after_sales": 0,
        "after_sales_next_due": None,
    }
    tiles = {t.key: t.count for t in r.context["tiles"]}
    assert tiles == {"to_ship": 2, "exceptions": 1, "after_sales": 0, "accepted_today": 3}
    body = r.content.decode()
    assert wb("wb-to-ship") in body and wb("wb-exceptions") in body and wb("wb-catalogue") in body
    # The Django admin stays for the catalogue and the settings.
    catalogue = client.get(wb("wb-catalogue"))
    assert catalogue.status_code == 200 and "/merchant/shops/product/" in catalogue.content.decode()


def test_accepted_today_opens_the_order_list_of_today(client, to_ship, shop_sku, owner):
    a, b = to_ship(shop_sku, 2)
    Slot.objects.filter(pk=b.pk).update(accepted_at=b.accepted_at.replace(year=2020))
    client.force_login(owner)
    r = client.get(wb("wb-orders-today"), follow=True)
    assert r.status_code == 200
    assert [s.pk for s in r.context["cl"].result_list] == [a.pk]


def test_the_queue_lists_only_this_shops_parcels_masked_and_oldest_first(client, to_ship, shop_sku, shipper, other_sku):
    mine = to_ship(shop_sku, 3)
    (theirs,) = to_ship(other_sku, 1, address=OTHER_ADDRESS)
    client.force_login(shipper)

    r = client.get(wb("wb-to-ship"))

    assert [row.slot.pk for row in r.context["rows"]] == [s.pk for s in mine]
    body = r.content.decode()
    assert "138****5678" in body and ADDRESS["phone"] not in body and ADDRESS["detail"] not in body
    assert f'value="{theirs.pk}"' not in body
    assert all(row.can_hand_over for row in r.context["rows"])
    assert mine[0].shipment.waybill_no in body


def test_the_queue_page_costs_a_fixed_number_of_queries(
    client, to_ship, shop_sku, shipper, django_assert_max_num_queries
):
    to_ship(shop_sku, 30)
    client.force_login(shipper)
    with django_assert_max_num_queries(60):
        assert client.get(wb("wb-to-ship")).status_code == 200


def test_a_long_queue_is_paged_oldest_first(client, to_ship, shop_sku, shipper, monkeypatch):
    from merchant import workbench

    monkeypatch.setattr(workbench, "QUEUE_PAGE", 2)
    a, b, c = to_ship(shop_sku, 3)
    client.force_login(shipper)
    first = client.get(wb("wb-to-ship"))
    second = client.get(wb("wb-to-ship"), {"page": 2})
    assert [r.slot.pk for r in first.context["rows"]] == [a.pk, b.pk]
    assert [r.slot.pk for r in second.context["rows"]] == [c.pk]
    assert "第 1 / 2 页，共 3 单" in first.content.decode()


# ----- batch print -----


def test_batch_print_has_each_parcels_label_and_slip_with_its_blessing_card(client, to_ship, shop_sku, shipper):
    a, b = to_ship(shop_sku, 2, message="生日快乐，天天开心")
    (c,) = to_ship(shop_sku, 1, message="不要打印这一张")
    client.force_login(shipper)

    r = client.post(wb("wb-print"), {"ids": [b.pk, a.pk]})

    assert r.status_code == 200
    body = r.content.decode()
    assert [s["slot"].pk for s in r.context["sheets"]] == [a.pk, b.pk]
    for slot in (a, b):
        assert f'id="sheet-{slot.pk}"' in body and slot.shipment.waybill_no in body
    assert body.count("生日快乐，天天开心") == 2 and "不要打印这一张" not in body
    assert body.count('class="wb-barcode"') == 2  # the waybill number as a Code 128 barcode
    assert ADDRESS["detail"] in body and ADDRESS["phone"] in body  # the full address, for the label
    logged = PiiAccessLog.objects.filter(user=shipper, channel=PiiAccessLog.Channel.WAYBILL_PRINT)
    assert set(logged.values_list("slot_id", flat=True)) == {a.pk, b.pk}


def test_the_blessing_card_is_left_out_when_the_shop_prints_none(client, to_ship, shop_sku, shipper):
    shop = shop_sku.product.shop
    shop.print_blessing_card = False
    shop.save()
    (a,) = to_ship(shop_sku, 1, message="悄悄话")
    client.force_login(shipper)
    body = client.post(wb("wb-print"), {"ids": [a.pk]}).content.decode()
    assert "悄悄话" not in body and "wb-blessing-card" not in body and a.shipment.waybill_no in body


def test_printing_another_shops_parcel_is_a_404_and_prints_nothing(client, to_ship, shop_sku, shipper, other_sku):
    (mine,) = to_ship(shop_sku, 1)
    (theirs,) = to_ship(other_sku, 1, address=OTHER_ADDRESS)
    client.force_login(shipper)

    r = client.post(wb("wb-print"), {"ids": [mine.pk, theirs.pk]})

    assert r.status_code == 404
    assert OTHER_ADDRESS["detail"] not in r.content.decode()
    assert not PiiAccessLog.objects.filter(user=shipper).exists()
    assert client.get(wb("wb-print"), {"ids": "abc"}).status_code == 404


# ----- 交给快递 -----


def test_hand_over_ships_the_ticked_parcels_once_however_often_it_is_tapped(client, to_ship, shop_sku, shipper):
    a, b, c = to_ship(shop_sku, 3)
    client.force_login(shipper)

    first = client.post(wb("wb-hand-over"), {"ids": [a.pk, b.pk]})
    again = client.post(wb("wb-hand-over"), {"ids": [a.pk, b.pk]}, follow=True)

    assert first.status_code == 302
    shipped = {s.pk: s for s in Slot.objects.filter(pk__in=[a.pk, b.pk, c.pk])}
    assert shipped[a.pk].status == shipped[b.pk].status == "shipped" and shipped[c.pk].status == "to_ship"
    shipment = Shipment.objects.get(slot=a)
    assert shipment.status == "handed_over" and shipment.handed_over_by == shipper and shipment.handed_over_at
    moves = GiftEvent.objects.filter(slot=a, kind=GiftEvent.Kind.SLOT_STATUS, to_status="shipped")
    assert moves.count() == 1 and moves.get().actor == shipper and moves.get().data["handed_over"] is True
    assert Notification.objects.filter(kind="shipped", dedupe_key=f"shipped:{a.pk}:recipient").count() == 1
    assert "2 单此前已交给快递" in again.content.decode()
    assert [row.slot.pk for row in again.context["rows"]] == [c.pk]


def test_hand_over_is_refused_without_an_issued_waybill_and_the_others_still_go(to_ship, shop_sku, shipper):
    a, b = to_ship(shop_sku, 2)
    Shipment.objects.filter(slot=b).update(waybill_no="", status=Shipment.Status.REQUESTED)

    report = parcels_hand_over(user=shipper, slot_ids=[a.pk, b.pk])

    assert report.handed_over == [a.pk] and [i for i, _ in report.refused] == [b.pk]
    assert Slot.objects.get(pk=b.pk).status == "to_ship"


def test_handing_over_another_shops_parcel_is_a_404_and_changes_nothing(client, to_ship, shop_sku, shipper, other_sku):
    (mine,) = to_ship(shop_sku, 1)
    (theirs,) = to_ship(other_sku, 1, address=OTHER_ADDRESS)
    client.force_login(shipper)

    assert client.post(wb("wb-hand-over"), {"ids": [mine.pk, theirs.pk]}).status_code == 404
    assert client.get(wb("wb-parcel", theirs.pk)).status_code == 404
    assert client.post(wb("wb-parcel-drive", theirs.pk), {"status": "delivered"}).status_code == 404
    assert set(Slot.objects.filter(pk__in=[mine.pk, theirs.pk]).values_list("status", flat=True)) == {"to_ship"}
    with pytest.raises(NotFound):
        parcels_hand_over(user=shipper, slot_ids=[theirs.pk])


def test_a_collected_scan_counts_as_handed_over(to_ship, shop_sku, shipper):
    (a,) = to_ship(shop_sku, 1)
    shipment_drive(shipment=a.shipment, status="collected")
    shipment = Shipment.objects.get(slot=a)
    assert shipment.status == "handed_over" and shipment.handed_over_by is None
    assert parcels_hand_over(user=shipper, slot_ids=[a.pk]).already == [a.pk]


# ----- shipping exceptions -----


def test_exceptions_show_what_the_courier_said_until_a_later_scan_clears_them(client, to_ship, shop_sku, shipper):
    a, b = to_ship(shop_sku, 2)
    client.force_login(shipper)
    assert client.post(wb("wb-parcel-drive", a.pk), {"status": "collected"}).status_code == 302
    assert client.post(wb("wb-parcel-drive", a.pk), {"status": "exception"}).status_code == 302

    r = client.get(wb("wb-exceptions"))

    assert [row.slot.pk for row in r.context["rows"]] == [a.pk]
    body = r.content.decode()
    assert "联系不上收件人" in body and a.shipment.waybill_no in body
    assert "请店主或店长发起售后退款" in body  # a shipper is told who can refund, not given the button
    assert wb("wb-parcel-drive", a.pk) in body
    note = Notification.objects.get(user=shipper, kind="shipping_exception")
    assert note.link == wb("wb-parcel", a.pk) and client.get(note.link).status_code == 200

    TrackingEvent.objects.filter(shipment__slot=a, status="exception").update(
        occurred_at=TrackingEvent.objects.get(shipment__slot=a, status="collected").occurred_at
    )
    client.post(wb("wb-parcel-drive", a.pk), {"status": "in_transit"})
    assert list(client.get(wb("wb-exceptions")).context["rows"]) == []


# ----- the sandbox courier driven by hand -----


def test_driving_a_sandbox_parcel_goes_through_the_signed_webhook_to_delivered(client, to_ship, shop_sku, shipper):
    (a,) = to_ship(shop_sku, 1)
    client.force_login(shipper)
    page = client.get(wb("wb-parcel", a.pk)).content.decode()
    assert 'data-test="sandbox-drive"' in page

    assert 'value="collected"' in page and 'value="delivered"' not in page  # not on its way yet
    for status in ("collected", "in_transit", "delivered"):
        client.post(wb("wb-parcel-drive", a.pk), {"status": status})
        if status == "collected":  # picked up: no second pickup offered, the way on is
            page = client.get(wb("wb-parcel", a.pk)).content.decode()
            assert 'value="collected"' not in page and 'value="delivered"' in page
    again = client.post(wb("wb-parcel-drive", a.pk), {"status": "delivered"}, follow=True)
    assert "已交快递" not in client.get(wb("wb-parcel", a.pk)).content.decode()  # 已签收 says it

    assert Slot.objects.get(pk=a.pk).status == "delivered"
    events = TrackingEvent.objects.filter(shipment__slot=a)
    assert sorted(events.values_list("event_id", flat=True)) == sorted(
        f"{a.shipment.waybill_no}-{s}" for s in ("collected", "in_transit", "delivered")
    )
    assert "已经有过" in again.content.decode()


def test_without_the_sandbox_there_are_no_drive_buttons_and_no_drive(client, to_ship, shop_sku, shipper, settings):
    (a,) = to_ship(shop_sku, 1)
    settings.SANDBOX_ENABLED = False
    client.force_login(shipper)

    assert "sandbox-drive" not in client.get(wb("wb-to-ship")).content.decode()
    assert "sandbox-drive" not in client.get(wb("wb-parcel", a.pk)).content.decode()
    assert client.post(wb("wb-parcel-drive", a.pk), {"status": "collected"}).status_code == 404
    assert Slot.objects.get(pk=a.pk).status == "to_ship" and not TrackingEvent.objects.exists()


def test_a_parcel_shipped_by_hand_with_another_courier_cannot_be_driven(client, to_ship, shop_sku, owner):
    (a,) = to_ship(shop_sku, 1)
    Shipment.objects.filter(slot=a).delete()
    slot_ship_manually(slot=a, carrier_name="顺丰速运", tracking_no="SF123", actor=owner)
    client.force_login(owner)
    assert "sandbox-drive" not in client.get(wb("wb-parcel", a.pk)).content.decode()
    assert client.post(wb("wb-parcel-drive", a.pk), {"status": "delivered"}).status_code == 404
    with pytest.raises(AppError):
        shipment_drive(shipment=Shipment.objects.get(slot=a), status="delivered")


def test_another_shops_sandbox_number_typed_by_hand_drives_nothing_of_theirs(
    client, to_ship, shop_sku, owner, other_sku, other_owner
):
    """Waybill numbers are unique per shop: a shop may type another shop's sandbox number on its own
    parcel (taken, nothing said), but driving its parcel does not scan theirs, and the courier's
    scans of theirs stay theirs."""
    (mine,) = to_ship(shop_sku, 1)
    (theirs,) = to_ship(other_sku, 1, address=OTHER_ADDRESS)
    number = Shipment.objects.get(slot=mine).waybill_no
    slot_ship_manually(slot=theirs, carrier_name="sandbox", tracking_no=number, actor=other_owner)

    client.force_login(other_owner)
    assert client.post(wb("wb-parcel-drive", theirs.pk), {"status": "collected"}).status_code == 404
    with pytest.raises(AppError) as refused:
        shipment_drive(shipment=Shipment.objects.get(slot=theirs), status="collected")
    assert refused.value.code == "unknown_waybill"
    assert Slot.objects.get(pk=mine.pk).status == "to_ship" and not TrackingEvent.objects.exists()

    shipment_drive(shipment=Shipment.objects.get(slot=mine), status="collected")
    shipment_drive(shipment=Shipment.objects.get(slot=mine), status="collected")  # twice: once
    assert Slot.objects.get(pk=mine.pk).status == "shipped"
    assert list(TrackingEvent.objects.values_list("shipment__slot_id", flat=True)) == [mine.pk]


def test_an_unknown_scan_is_refused_with_a_message(client, to_ship, shop_sku, shipper):
    (a,) = to_ship(shop_sku, 1)
    client.force_login(shipper)
    r = client.post(wb("wb-parcel-drive", a.pk), {"status": "lost"}, follow=True)
    assert r.status_code == 200 and "invalid" in r.content.decode()
    assert not TrackingEvent.objects.exists()


def test_the_operator_admin_drives_a_sandbox_parcel_and_only_with_the_sandbox(
    admin_client, to_ship, shop_sku, settings
):
    (a,) = to_ship(shop_sku, 1)
    shipment = a.shipment
    change = reverse("admin:fulfilment_shipment_change", args=[shipment.pk])
    drive = reverse("admin:fulfilment_shipment_drive", args=[shipment.pk])
    assert 'data-test="sandbox-drive"' in admin_client.get(change).content.decode()

    assert admin_client.post(drive, {"status": "collected"}).status_code == 302
    assert Slot.objects.get(pk=a.pk).status == "shipped"

    settings.SANDBOX_ENABLED = False
    assert "sandbox-drive" not in admin_client.get(change).content.decode()
    assert admin_client.post(drive, {"status": "delivered"}).status_code == 404
    assert Slot.objects.get(pk=a.pk).status == "shipped"


# ----- staff roles -----


def test_roles_a_shipper_ships_owners_and_managers_also_refund_and_price(shop_sku, shipper, owner):
    shop_id = shop_sku.product.shop_id
    manager = ShopStaffFactory(shop=shop_sku.product.shop, user=UserFactory(username="mgr"), role="manager").user
    assert staff_may(user=shipper, shop_id=shop_id, action=Action.SHIP)
    for action in (Action.REFUND, Action.AFTER_SALES, Action.EDIT_PRICES):
        assert not staff_may(user=shipper, shop_id=shop_id, action=action)
        assert staff_may(user=owner, shop_id=shop_id, action=action)
        assert staff_may(user=manager, shop_id=shop_id, action=action)
    assert not staff_may(user=UserFactory(username="stranger"), shop_id=shop_id, action=Action.SHIP)


def test_a_shipper_is_refused_a_refund_on_the_page(client, to_ship, shop_sku, shipper):
    (a,) = to_ship(shop_sku, 1)
    client.force_login(shipper)
    r = client.post(reverse("merchant:gifts_slot_refund", args=[a.pk]), {"reason": "想退"}, follow=True)
    assert "role_not_allowed" in r.content.decode()
    assert not a.refunds.exists()
    assert "售后退款" not in client.get(wb("wb-parcel", a.pk)).content.decode()


def test_a_shipper_is_refused_a_refund_by_the_api(to_ship, shop_sku, shipper):
    from tests.conftest import api_for

    (a,) = to_ship(shop_sku, 1)
    r = api_for(shipper).post(f"/api/v1/merchant/orders/{a.pk}/refund/", {"reason": "x"}, format="json")
    assert r.status_code == 403 and r.json()["code"] == "role_not_allowed"


def test_a_shipper_cannot_change_a_price_or_the_stock(client, shop_sku, shipper):
    client.force_login(shipper)
    url = reverse("merchant:shops_sku_change", args=[shop_sku.pk])
    form = client.get(url)
    body = form.content.decode()
    assert form.status_code == 200 and 'name="price_fen"' not in body and 'name="stock"' not in body

    client.post(
        url,
        {
            "product": shop_sku.product_id,
            "attributes": '{"口味": "原味"}',
            "price_fen": 1,
            "original_price_fen": 2,
            "stock": 7,
        },
    )

    sku = Sku.objects.get(pk=shop_sku.pk)
    assert (sku.price_fen, sku.original_price_fen, sku.stock) == (5000, 6000, 1000)
    assert client.get(reverse("merchant:shops_sku_add")).status_code == 403


def test_an_owner_changes_a_price(client, shop_sku, owner):
    client.force_login(owner)
    url = reverse("merchant:shops_sku_change", args=[shop_sku.pk])
    assert 'name="price_fen"' in client.get(url).content.decode()
    r = client.post(
        url,
        {
            "product": shop_sku.product_id,
            "attributes": '{"口味": "原味"}',
            "price_fen": 4500,
            "original_price_fen": 6000,
            "stock": 7,
        },
    )
    assert r.status_code == 302
    assert Sku.objects.get(pk=shop_sku.pk).price_fen == 4500


def test_a_shipper_sees_sku_prices_read_only_inside_the_product_form(client, shop_sku, shipper):
    client.force_login(shipper)
    body = client.get(reverse("merchant:shops_product_change", args=[shop_sku.product_id])).content.decode()
    assert 'name="skus-0-stock"' not in body and 'name="skus-0-price_fen"' not in body
    assert 'name="skus-__prefix__-price_fen"' not in body  # no new SKU row either


# ----- a race: two staff tap 交给快递 while the courier's collected scan arrives -----


@pytest.mark.django_db(transaction=True)
def test_two_taps_and_a_courier_scan_at_once_ship_the_parcel_exactly_once(to_ship, shop_sku, shipper, owner):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    (a,) = to_ship(shop_sku, 1)
    shipment = Shipment.objects.get(slot=a)
    start = threading.Barrier(3)

    def run(call):
        start.wait()
        try:
            return call()
        finally:
            connection.close()

    calls = [
        lambda: parcels_hand_over(user=shipper, slot_ids=[a.pk]),
        lambda: parcels_hand_over(user=owner, slot_ids=[a.pk]),
        lambda: shipment_drive(shipment=shipment, status="collected"),
    ]
    with ThreadPoolExecutor(max_workers=3) as pool:
        outcomes = list(pool.map(run, calls))

    assert all(not report.refused for report in outcomes[:2])
    assert Slot.objects.get(pk=a.pk).status == "shipped"
    assert GiftEvent.objects.filter(slot=a, kind=GiftEvent.Kind.SLOT_STATUS, to_status="shipped").count() == 1
    assert Shipment.objects.get(pk=shipment.pk).status == "handed_over"
    assert Notification.objects.filter(kind="shipped", dedupe_key__startswith=f"shipped:{a.pk}:").count() == 2


def test_the_view_on_site_shortcut_is_gone_so_another_shops_order_cannot_be_probed(client, owner, other_sku):
    from django.contrib.contenttypes.models import ContentType

    from gifts.models import Slot

    client.force_login(owner)
    slot_type = ContentType.objects.get_for_model(Slot)
    assert client.get(f"/merchant/r/{slot_type.pk}/1/").status_code == 404


def test_a_refunded_parcel_offers_neither_printing_nor_another_refund(
    client, to_ship, shop_sku, owner, django_capture_on_commit_callbacks
):
    """Refunded before it shipped, its e-waybill cancelled: the page says so and leaves out the
    buttons that could only answer 'cancelled' or 'already refunded'."""
    from fulfilment.services.shipments import slot_refund_after_sales

    [slot] = to_ship(shop_sku, 1)
    client.force_login(owner)
    before = client.get(wb("wb-parcel", slot.pk)).content.decode()
    assert 'data-test="print"' in before and "售后退款" in before
    with django_capture_on_commit_callbacks(execute=True):
        slot_refund_after_sales(slot=slot, actor=owner)
    assert Shipment.objects.get(slot=slot).status == Shipment.Status.CANCELLED
    after = client.get(wb("wb-parcel", slot.pk)).content.decode()
    assert 'data-test="print"' not in after and "售后退款" not in after


def test_the_recipient_is_not_shown_a_cancelled_tracking_number(
    client, to_ship, shop_sku, owner, django_capture_on_commit_callbacks
):
    from fulfilment.services.shipments import slot_refund_after_sales

    [slot], [shipped] = to_ship(shop_sku, 1), to_ship(shop_sku, 1)
    Slot.objects.filter(pk=shipped.pk).update(recipient=slot.recipient)  # one friend, two gifts
    waybill = Shipment.objects.get(slot=slot).waybill_no
    client.force_login(slot.recipient)
    # Waiting at the shop, the waybill is not shown (the parcel is not moving yet); on its way it is.
    parcels_hand_over(user=owner, slot_ids=[shipped.pk])
    page = client.get(reverse("received")).content.decode()
    assert waybill not in page and Shipment.objects.get(slot=shipped).waybill_no in page
    assert "（沙箱快递）" in page  # the courier as people name it
    english = client.get(reverse("received"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "(sandbox courier)" in english.lower()  # half-width brackets in English
    with django_capture_on_commit_callbacks(execute=True):
        slot_refund_after_sales(slot=slot, actor=owner)
    assert Shipment.objects.get(slot=slot).status == "cancelled"
    assert waybill not in client.get(reverse("received")).content.decode()


def test_the_workbench_home_shows_todays_date_in_the_pages_language(client, owner):
    from django.utils import timezone

    today = timezone.localdate()
    client.force_login(owner)
    chinese = client.get("/merchant/").content.decode()
    assert f'<span class="muted">{today.month}月{today.day}日</span>' in chinese
    english = client.get("/merchant/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'<span class="muted">{today:%b} {today.day}</span>' in english

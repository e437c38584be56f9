"""Merchant shipping tools: the to-ship queue, packing slips, manual and bulk shipping, CSV export,
after-sales refunds. Services on PostgreSQL; admin pages through the test client as shop staff."""

import csv
import io

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from fulfilment.models import Shipment
from fulfilment.services.shipments import shipment_record_failure, slot_refund_after_sales, slot_ship_manually
from fulfilment.services.shipping_tools import to_ship_csv, tracking_import
from gifts.models import Slot
from gifts.services.claim import AddressInput, slot_accept
from giftshop.errors import AppError
from payments.models import Refund
from tests.conftest import ADDRESS, api_for
from tests.factories import ShopStaffFactory, SkuFactory, UserFactory

pytestmark = pytest.mark.django_db

OTHER_ADDRESS = {**ADDRESS, "name": "李四", "phone": "13998765432", "detail": "另一家店的收件地址 9 号"}


@pytest.fixture
def shop_sku(db):
    return SkuFactory(stock=1000, price_fen=5000, original_price_fen=6000, attributes={"口味": "原味"})


@pytest.fixture
def staff(shop_sku):
    return ShopStaffFactory(shop=shop_sku.product.shop, user=UserFactory(username="shipper")).user


@pytest.fixture
def other_sku(db):
    return SkuFactory(stock=50)


@pytest.fixture
def other_staff(other_sku):
    return ShopStaffFactory(shop=other_sku.product.shop, user=UserFactory(username="merchant2")).user


@pytest.fixture
def to_ship(make_gift, django_capture_on_commit_callbacks):
    """n paid-and-accepted orders of one gift, moved to to_ship by the eager worker."""

    def _make(sku, n: int, *, message: str = "新春快乐，万事如意", address: dict = ADDRESS) -> list[Slot]:
        gift = make_gift(sku_id=sku.pk, mode="group" if n > 1 else "single", recipients=n, message=message)
        with django_capture_on_commit_callbacks(execute=True):
            for user in UserFactory.create_batch(n):
                slot_accept(gift=gift, user=user, address=AddressInput.from_dict(address))
        slots = list(Slot.objects.filter(gift=gift).order_by("number"))
        assert {s.status for s in slots} == {"to_ship"}
        return slots

    return _make


def csv_bytes(rows: list[list], *, encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode(encoding)


def url(name: str, *args) -> str:
    return reverse(f"merchant:gifts_slot_{name}", args=args)


def logged_in(client, user):
    client.force_login(user)
    return client


# ----- import (service) -----


def test_import_of_200_rows_ships_197_and_reports_exactly_the_3_bad_rows(
    to_ship, shop_sku, staff, other_sku, other_staff
):
    mine = to_ship(shop_sku, 200)
    (theirs,) = to_ship(other_sku, 1, address=OTHER_ADDRESS)
    rows = [["order_id", "carrier", "tracking_no"]]
    rows += [[s.pk, "顺丰速运", f"SF{s.pk:010d}"] for s in mine[:197]]
    rows.insert(51, [987654321, "顺丰速运", "SF-UNKNOWN-1"])  # row 52: no such order
    rows.insert(101, [theirs.pk, "顺丰速运", "SF-THEIRS-1"])  # row 102: another shop's order
    rows.append([mine[197].pk, "顺丰速运", ""])  # row 201: tracking number missing
    assert len(rows) == 201

    report = tracking_import(user=staff, data=csv_bytes(rows))

    assert len(report.shipped) == 197
    assert [(r.row, r.order_id, r.code) for r in report.failed] == [
        (52, "987654321", "unknown_order"),
        (102, str(theirs.pk), "unknown_order"),
        (201, str(mine[197].pk), "bad_tracking"),
    ]
    assert all(r.reason for r in report.failed)
    assert report.failed[1].reason == "订单不存在或不属于本店"
    shipped = Slot.objects.filter(pk__in=[s.pk for s in mine], status="shipped")
    assert shipped.count() == 197
    assert Shipment.objects.get(slot=mine[10]).waybill_no == f"SF{mine[10].pk:010d}"
    assert Slot.objects.filter(pk__in=[s.pk for s in mine[197:]], status="to_ship").count() == 3
    theirs.refresh_from_db()
    assert theirs.status == "to_ship" and Shipment.objects.get(slot=theirs).carrier == "sandbox"


def test_import_reports_not_to_ship_duplicate_tracking_and_malformed_rows(to_ship, shop_sku, staff):
    a, b, c, d = to_ship(shop_sku, 4)
    slot_ship_manually(slot=a, carrier_name="中通快递", tracking_no="ZT100", actor=staff)
    data = csv_bytes(
        [
            [a.pk, "中通快递", "ZT200"],  # row 1: already shipped
            [b.pk, "中通快递", "ZT100"],  # row 2: tracking number used by order a
            ["abc", "中通快递", "ZT300"],  # row 3: order id is not a number
            [c.pk, "中通快递"],  # row 4: a column missing
            [],  # blank line: ignored
            [d.pk, "中通快递", "ZT400"],  # row 6: fine
        ]
    )

    report = tracking_import(user=staff, data=data)

    assert [(r.row, r.code) for r in report.failed] == [
        (1, "not_shippable"),
        (2, "duplicate_tracking"),
        (3, "bad_row"),
        (4, "bad_row"),
    ]
    assert "已发货" in report.failed[0].reason
    assert [r.row for r in report.shipped] == [6]
    assert Slot.objects.get(pk=b.pk).status == "to_ship"
    assert Slot.objects.get(pk=d.pk).status == "shipped"


def test_a_tracking_number_another_shop_used_is_taken_by_hand_and_by_import(
    to_ship, shop_sku, staff, other_sku, other_staff
):
    """The waybill probe (issue #20): refusing a number because another shop used it told a merchant
    that it exists. Each shop's numbers are its own now; nothing about the other shop is said."""
    mine = to_ship(shop_sku, 2)
    theirs = to_ship(other_sku, 3, address=OTHER_ADDRESS)
    slot_ship_manually(slot=mine[0], carrier_name="中通快递", tracking_no="ZT777", actor=staff)
    tracking_import(user=staff, data=csv_bytes([[mine[1].pk, "中通快递", "ZT888"]]))

    slot_ship_manually(slot=theirs[0], carrier_name="中通快递", tracking_no="ZT777", actor=other_staff)
    api = api_for(other_staff).post(
        f"/api/v1/merchant/orders/{theirs[1].pk}/ship/", {"carrier": "中通快递", "tracking_no": "ZT888"}, format="json"
    )
    report = tracking_import(user=other_staff, data=csv_bytes([[theirs[2].pk, "中通快递", "ZT888-B"]]))

    assert api.status_code == 200, api.content
    assert report.failed == [] and [r.order_id for r in report.shipped] == [str(theirs[2].pk)]
    assert Slot.objects.filter(pk__in=[s.pk for s in mine + theirs], status="shipped").count() == 5
    both = Shipment.objects.filter(carrier="中通快递", waybill_no="ZT777").values_list("shop_id", flat=True)
    assert sorted(both) == sorted([shop_sku.product.shop_id, other_sku.product.shop_id])


def test_a_tracking_number_this_shop_already_used_is_refused_by_hand_by_api_and_by_import(
    to_ship, shop_sku, staff, other_sku, other_staff
):
    a, b, c = to_ship(shop_sku, 3)
    (theirs,) = to_ship(other_sku, 1, address=OTHER_ADDRESS)
    slot_ship_manually(slot=theirs, carrier_name="中通快递", tracking_no="ZT100", actor=other_staff)
    slot_ship_manually(slot=a, carrier_name="中通快递", tracking_no="ZT100", actor=staff)

    with pytest.raises(AppError) as by_hand:
        slot_ship_manually(slot=b, carrier_name="中通快递", tracking_no="ZT100", actor=staff)
    api = api_for(staff).post(
        f"/api/v1/merchant/orders/{b.pk}/ship/", {"carrier": "中通快递", "tracking_no": "ZT100"}, format="json"
    )
    report = tracking_import(user=staff, data=csv_bytes([[c.pk, "中通快递", "ZT100"]]))

    assert by_hand.value.code == "duplicate_tracking" and "本店" in str(by_hand.value.detail)
    assert api.status_code == 409 and api.json()["code"] == "duplicate_tracking"
    assert [(r.code, r.reason) for r in report.failed] == [("duplicate_tracking", "运单号重复：已用于本店的另一个订单")]
    assert Slot.objects.filter(pk__in=[b.pk, c.pk], status="to_ship").count() == 2
    # Another courier's number may be the same digits: that is not a duplicate.
    slot_ship_manually(slot=b, carrier_name="圆通速递", tracking_no="ZT100", actor=staff)
    assert Slot.objects.get(pk=b.pk).status == "shipped"


def test_import_reports_short_and_long_rows_one_by_one_whatever_the_column_order(to_ship, shop_sku, staff):
    """A row shorter than the order id's column was an IndexError (a 500 on the upload page)."""
    a, b = to_ship(shop_sku, 2)
    data = csv_bytes(
        [["运单号", "快递公司", "订单号"], ["YT1"], ["YT2", "圆通速递"], ["YT3", "圆通速递", a.pk, "extra", "cells"]]
    )
    report = tracking_import(user=staff, data=data)
    assert [(r.row, r.code) for r in report.failed] == [(2, "bad_row"), (3, "bad_row")]
    assert [r.row for r in report.shipped] == [4]
    assert Slot.objects.get(pk=a.pk).status == "shipped" and Slot.objects.get(pk=b.pk).status == "to_ship"


def test_import_reads_an_excel_gbk_file_with_chinese_header_in_any_column_order(to_ship, shop_sku, staff):
    (slot,) = to_ship(shop_sku, 1)
    data = csv_bytes([["运单号", "订单号", "快递公司"], ["YT777", slot.pk, "圆通速递"]], encoding="gb18030")

    report = tracking_import(user=staff, data=data)

    assert [r.ok for r in report.rows] == [True]
    shipment = Shipment.objects.get(slot=slot)
    assert (shipment.carrier, shipment.waybill_no) == ("圆通速递", "YT777")


def test_manual_ship_is_refused_while_an_after_sales_refund_is_pending(to_ship, shop_sku, staff):
    (slot,) = to_ship(shop_sku, 1)
    stock_before = type(shop_sku).objects.get(pk=shop_sku.pk).stock
    refund = slot_refund_after_sales(slot=slot, actor=staff, reason="缺货")  # gateway not called: stays pending
    assert refund.status == "pending"

    with pytest.raises(AppError) as exc:
        slot_ship_manually(slot=slot, carrier_name="顺丰速运", tracking_no="SF1", actor=staff)

    assert exc.value.code == "refund_pending"
    assert Slot.objects.get(pk=slot.pk).status == "to_ship"
    assert type(shop_sku).objects.get(pk=shop_sku.pk).stock == stock_before + 1


# ----- export -----


def test_export_holds_only_own_shops_to_ship_orders_with_full_address(to_ship, shop_sku, staff, other_sku, other_staff):
    shop = shop_sku.product.shop
    shop.print_blessing_card = True
    shop.save()
    a, b, c = to_ship(shop_sku, 3)
    to_ship(other_sku, 1, address=OTHER_ADDRESS)
    slot_ship_manually(slot=c, carrier_name="顺丰速运", tracking_no="SF9", actor=staff)

    data = b"".join(to_ship_csv(user=staff))

    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["订单号", "商品", "款式", "数量", "收件人", "手机", "收货地址", "贺卡祝福"]
    assert sorted(int(r[0]) for r in rows[1:]) == [a.pk, b.pk]
    first = rows[1]
    assert first[1:] == [
        shop_sku.product.title,
        "原味",
        "1",
        ADDRESS["name"],
        ADDRESS["phone"],
        "广东省深圳市南山区科技园南路 88 号 3 栋 1201",
        "新春快乐，万事如意",
    ]
    assert OTHER_ADDRESS["phone"] not in data.decode("utf-8-sig")


def test_export_quotes_text_that_a_spreadsheet_would_run_as_a_formula(to_ship, shop_sku, staff):
    shop = shop_sku.product.shop
    shop.print_blessing_card = True
    shop.save()
    to_ship(shop_sku, 1, message='=HYPERLINK("http://evil.example")')

    rows = list(csv.reader(io.StringIO(b"".join(to_ship_csv(user=staff)).decode("utf-8-sig"))))

    assert rows[1][7] == '\'=HYPERLINK("http://evil.example")'


# ----- admin pages -----


def test_the_merchant_home_leads_to_the_to_ship_queue_and_the_tools(client, staff):
    r = logged_in(client, staff).get(reverse("merchant:index"))
    assert r.status_code == 200
    body = r.content.decode()
    assert reverse("merchant:wb-to-ship") in body and url("import") in body and url("export") in body


def test_orders_list_opens_on_to_ship_queue_with_masked_phone_and_failed_dispatch(client, to_ship, shop_sku, staff):
    a, b, c = to_ship(shop_sku, 3)
    slot_ship_manually(slot=c, carrier_name="顺丰速运", tracking_no="SF-SHIPPED", actor=staff)
    Shipment.objects.filter(slot=b).update(waybill_no="", status=Shipment.Status.REQUESTED, attempts=8)
    shipment_record_failure(slot_id=b.pk, error="sandbox courier timed out", final=True)

    r = logged_in(client, staff).get(url("changelist"))

    body = r.content.decode()
    assert r.status_code == 200
    assert list(r.context["cl"].result_list) == [a, b]
    assert "138****5678" in body and ADDRESS["phone"] not in body and ADDRESS["detail"] not in body
    assert "面单失败" in body and "sandbox courier timed out" in body
    assert shop_sku.product.title in body and "原味" in body and "广东省深圳市南山区" in body

    everything = client.get(url("changelist"), {"status": "all"})
    assert {s.pk for s in everything.context["cl"].result_list} == {a.pk, b.pk, c.pk}
    failed = client.get(url("changelist"), {"waybill": "failed"})
    assert list(failed.context["cl"].result_list) == [b]


def test_waybill_page_shows_full_address_and_blessing_to_shop_staff(client, to_ship, shop_sku, staff):
    shop = shop_sku.product.shop
    shop.print_blessing_card = True
    shop.save()
    (slot,) = to_ship(shop_sku, 1)

    r = logged_in(client, staff).get(url("waybill", slot.pk))

    body = r.content.decode()
    assert r.status_code == 200
    for text in (ADDRESS["name"], ADDRESS["phone"], ADDRESS["detail"], "原味", "新春快乐，万事如意"):
        assert text in body
    assert slot.shipment.waybill_no in body
    # The print layout is a stylesheet of its own (no inline style under the Content-Security-Policy).
    assert "css/waybill-print.css" in body
    assert "@media print" in (settings.BASE_DIR / "static/css/waybill-print.css").read_text()


def test_waybill_page_leaves_out_the_blessing_when_the_shop_prints_no_card(client, to_ship, shop_sku, staff):
    (slot,) = to_ship(shop_sku, 1)
    body = logged_in(client, staff).get(url("waybill", slot.pk)).content.decode()
    assert ADDRESS["detail"] in body and "新春快乐" not in body


def test_waybill_page_is_404_for_another_shops_staff(client, to_ship, shop_sku, other_staff):
    (slot,) = to_ship(shop_sku, 1)
    r = logged_in(client, other_staff).get(url("waybill", slot.pk))
    assert r.status_code == 404
    assert ADDRESS["phone"] not in r.content.decode()


def test_shipping_pages_send_non_staff_to_the_login(client, to_ship, shop_sku):
    (slot,) = to_ship(shop_sku, 1)
    client.force_login(UserFactory(username="stranger"))
    for name, args in [("waybill", [slot.pk]), ("ship", [slot.pk]), ("export", []), ("import", [])]:
        r = client.get(url(name, *args))
        assert r.status_code == 302 and "/merchant/login/" in r["Location"]


def test_print_action_prints_the_selected_orders(client, to_ship, shop_sku, staff):
    a, b = to_ship(shop_sku, 2, address=ADDRESS)
    r = logged_in(client, staff).post(
        url("changelist"), {"action": "print_waybills", "_selected_action": [a.pk, b.pk], "index": 0}
    )
    body = r.content.decode()
    assert r.status_code == 200
    assert f'id="slip-{a.pk}"' in body and f'id="slip-{b.pk}"' in body


def test_manual_ship_form_ships_a_to_ship_order(client, to_ship, shop_sku, staff):
    (slot,) = to_ship(shop_sku, 1)
    client = logged_in(client, staff)
    assert client.get(url("ship", slot.pk)).status_code == 200

    r = client.post(url("ship", slot.pk), {"carrier": "京东物流", "tracking_no": "JD0001"})

    assert r.status_code == 302
    slot.refresh_from_db()
    assert slot.status == "shipped"
    assert (slot.shipment.carrier, slot.shipment.waybill_no) == ("京东物流", "JD0001")


def test_manual_ship_form_refuses_an_order_not_in_to_ship(client, to_ship, shop_sku, staff):
    (slot,) = to_ship(shop_sku, 1)
    slot_ship_manually(slot=slot, carrier_name="京东物流", tracking_no="JD0001", actor=staff)

    r = logged_in(client, staff).post(url("ship", slot.pk), {"carrier": "顺丰速运", "tracking_no": "SF0002"})

    assert r.status_code == 200
    assert "not_shippable" in r.content.decode() and "不能发货" in r.content.decode()
    assert Shipment.objects.get(slot=slot).waybill_no == "JD0001"


def test_manual_ship_form_shows_a_missing_tracking_number(client, to_ship, shop_sku, staff):
    (slot,) = to_ship(shop_sku, 1)
    r = logged_in(client, staff).post(url("ship", slot.pk), {"carrier": "顺丰速运", "tracking_no": " "})
    assert r.status_code == 200 and r.context["form"].errors
    assert Slot.objects.get(pk=slot.pk).status == "to_ship"


def test_manual_ship_of_another_shops_order_is_404(client, to_ship, shop_sku, other_staff):
    (slot,) = to_ship(shop_sku, 1)
    r = logged_in(client, other_staff).post(url("ship", slot.pk), {"carrier": "顺丰速运", "tracking_no": "SF1"})
    assert r.status_code == 404
    assert Slot.objects.get(pk=slot.pk).status == "to_ship"


def test_after_sales_refund_asks_for_confirmation_then_refunds_once(
    client, django_capture_on_commit_callbacks, to_ship, shop_sku, staff
):
    (slot,) = to_ship(shop_sku, 1)
    stock_before = type(shop_sku).objects.get(pk=shop_sku.pk).stock
    client = logged_in(client, staff)

    confirm = client.get(url("refund", slot.pk))
    assert (
        confirm.status_code == 200 and "确认退款" in confirm.content.decode() and "¥50.00" in confirm.content.decode()
    )
    assert not Refund.objects.filter(slot=slot).exists()

    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(url("refund", slot.pk), {"reason": "收件人要求取消", "post": "yes"})
    assert r.status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("refund", slot.pk), {"reason": "again", "post": "yes"})

    refund = Refund.objects.get(slot=slot)
    assert (refund.reason, refund.amount_fen, refund.status) == ("after_sales", 5000, "succeeded")
    assert Slot.objects.get(pk=slot.pk).status == "refunded"
    assert type(shop_sku).objects.get(pk=shop_sku.pk).stock == stock_before + 1


def test_import_page_shows_how_many_shipped_and_the_failed_rows(client, to_ship, shop_sku, staff):
    a, b = to_ship(shop_sku, 2)
    upload = SimpleUploadedFile(
        "tracking.csv",
        csv_bytes([["order_id", "carrier", "tracking_no"], [a.pk, "顺丰速运", "SF1"], [424242, "顺丰速运", "SF2"]]),
        content_type="text/csv",
    )

    r = logged_in(client, staff).post(url("import"), {"file": upload})

    body = r.content.decode()
    assert r.status_code == 200
    assert 'id="shipped-count">1<' in body and 'id="failed-count">1<' in body
    assert "424242" in body and "订单不存在或不属于本店" in body
    assert Slot.objects.get(pk=a.pk).status == "shipped" and Slot.objects.get(pk=b.pk).status == "to_ship"


def test_export_button_downloads_bom_csv_of_the_whole_queue(client, to_ship, shop_sku, staff, other_sku):
    a, b = to_ship(shop_sku, 2)
    r = logged_in(client, staff).get(url("export"))
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    data = b"".join(r.streaming_content)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert sorted(int(row[0]) for row in rows[1:]) == [a.pk, b.pk]


def test_orders_list_query_count_does_not_grow_with_the_page(
    client, django_assert_max_num_queries, to_ship, shop_sku, staff
):
    to_ship(shop_sku, 30)
    client = logged_in(client, staff)
    with django_assert_max_num_queries(10):
        r = client.get(url("changelist"))
    assert len(r.context["cl"].result_list) == 30


def test_orders_search_finds_an_order_by_id_or_waybill_and_tolerates_text(client, to_ship, shop_sku, staff):
    a, b = to_ship(shop_sku, 2)
    client = logged_in(client, staff)
    by_id = client.get(url("changelist"), {"q": str(b.pk)})
    assert list(by_id.context["cl"].result_list) == [b]
    by_waybill = client.get(url("changelist"), {"q": a.shipment.waybill_no})
    assert list(by_waybill.context["cl"].result_list) == [a]
    assert client.get(url("changelist"), {"q": "张三"}).status_code == 200


def test_a_shipper_may_ship_but_not_refund(to_ship, shop_sku):
    from giftshop.errors import AppError

    shipper = ShopStaffFactory(shop=shop_sku.product.shop, user=UserFactory(username="packer"), role="shipper").user
    (slot,) = to_ship(shop_sku, 1)
    with pytest.raises(AppError) as refused:
        slot_refund_after_sales(slot=slot, actor=shipper, reason="想退")
    assert refused.value.code == "role_not_allowed" and refused.value.status_code == 403
    assert not slot.refunds.exists()
    slot_ship_manually(slot=slot, carrier_name="顺丰速运", tracking_no="SF0001", actor=shipper)
    slot.refresh_from_db()
    assert slot.status == "shipped"

"""After-sales on PostgreSQL: the rules of who may open what and when, the merchant's answers and
their roles, the deadlines beat enforces, the refund to the sender exactly once, the API contract,
photos, and the pages."""

import base64
import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from aftersales import services
from aftersales.models import AfterSalesRequest
from fulfilment.services.shipments import slot_ship_manually, tracking_apply
from gifts.models import Notification, Slot
from gifts.services.claim import AddressInput, slot_accept
from giftshop.errors import AppError
from payments.models import Refund
from shops.models import ShopStaff, Sku
from tests.conftest import ADDRESS, api_for
from tests.factories import ShopStaffFactory, SkuFactory, UserFactory

pytestmark = pytest.mark.django_db

R = AfterSalesRequest


def png(size=(40, 30), fmt="PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(out, fmt)
    return out.getvalue()


@pytest.fixture
def shop_sku(db):
    return SkuFactory(stock=10, price_fen=5000, original_price_fen=6000)


@pytest.fixture
def owner(shop_sku):
    return ShopStaffFactory(shop=shop_sku.product.shop, user=UserFactory(username="owner"), role="owner").user


@pytest.fixture
def shipper(shop_sku):
    return ShopStaffFactory(shop=shop_sku.product.shop, user=UserFactory(username="packer"), role="shipper").user


@pytest.fixture
def other_owner(db):
    return ShopStaffFactory(shop=SkuFactory().product.shop, user=UserFactory(username="elsewhere"), role="owner").user


@pytest.fixture
def parcel(make_gift, shop_sku, recipient, django_capture_on_commit_callbacks):
    """One gift accepted by `recipient`, in to_ship (the eager worker ran)."""

    def _make(state: str = "to_ship") -> Slot:
        gift = make_gift(sku_id=shop_sku.pk, recipients=1)
        with django_capture_on_commit_callbacks(execute=True):
            slot_accept(gift=gift, user=recipient, address=AddressInput.from_dict(ADDRESS))
        slot = Slot.objects.get(gift=gift)
        assert slot.status == "to_ship"
        waybill = f"SF{1000000000 + slot.pk}"
        if state in ("shipped", "delivered"):
            slot_ship_manually(slot=slot, carrier_name="顺丰速运", tracking_no=waybill, actor=None)
        if state == "delivered":
            tracking_apply(
                slot_id=slot.pk,
                event_id=f"d-{slot.pk}",
                waybill_no=waybill,
                status="delivered",
                description="已签收",
                occurred_at=timezone.now().isoformat(),
            )
        slot.refresh_from_db()
        assert slot.status == state
        return slot

    return _make


def open_request(slot, user, kind="refund_only", reason="changed_mind", **kw):
    return services.after_sales_open(slot_id=slot.pk, user=user, kind=kind, reason=reason, **kw)


def settle(django_capture_on_commit_callbacks, fn, **kwargs):
    """Run a step and the work it queued after commit (the sandbox refund settles at once)."""
    with django_capture_on_commit_callbacks(execute=True):
        result = fn(**kwargs)
    return result


# ----- who may open what, when -----


def test_only_the_recipient_opens_and_another_user_gets_404(parcel, other, recipient):
    slot = parcel()
    with pytest.raises(AppError) as exc:
        open_request(slot, other)
    assert exc.value.code == "not_found"
    assert open_request(slot, recipient).status == "requested"


def test_one_open_request_per_parcel(parcel, recipient):
    slot = parcel()
    open_request(slot, recipient)
    with pytest.raises(AppError) as exc:
        open_request(slot, recipient, reason="other")
    assert exc.value.code == "after_sales_open"
    assert R.objects.filter(slot=slot).count() == 1


def test_refund_only_before_shipping_and_when_never_arrived_but_not_after_delivery(parcel, recipient):
    assert open_request(parcel("to_ship"), recipient).kind == "refund_only"
    assert open_request(parcel("shipped"), recipient, reason="not_received").kind == "refund_only"
    delivered = parcel("delivered")
    with pytest.raises(AppError) as exc:
        open_request(delivered, recipient, reason="changed_mind")
    assert exc.value.code == "not_eligible"
    # Marked delivered by the courier but never arrived: allowed, within the window.
    assert open_request(delivered, recipient, reason="not_received").status == "requested"


def test_return_refund_only_after_delivery_and_within_seven_days(parcel, recipient):
    with pytest.raises(AppError) as exc:
        open_request(parcel("shipped"), recipient, kind="return_refund", reason="damaged")
    assert exc.value.code == "not_eligible"
    late = parcel("delivered")
    Slot.objects.filter(pk=late.pk).update(delivered_at=timezone.now() - timedelta(days=7, minutes=1))
    with pytest.raises(AppError) as exc:
        open_request(late, recipient, kind="return_refund", reason="damaged")
    assert exc.value.code == "after_sales_window_closed"
    on_time = parcel("delivered")
    Slot.objects.filter(pk=on_time.pk).update(delivered_at=timezone.now() - timedelta(days=6, hours=23))
    assert open_request(on_time, recipient, kind="return_refund", reason="damaged").amount_fen == 5000


def test_unknown_kind_or_reason_is_a_field_error(parcel, recipient):
    slot = parcel()
    with pytest.raises(AppError) as exc:
        open_request(slot, recipient, kind="swap")
    assert exc.value.fields and "kind" in exc.value.fields


# ----- answers, roles, money -----


def test_refund_only_approved_refunds_the_sender_once_and_returns_stock(
    parcel, recipient, owner, django_capture_on_commit_callbacks, shop_sku
):
    slot = parcel()
    stock_before = Sku.objects.get(pk=shop_sku.pk).stock
    request = open_request(slot, recipient)
    settle(django_capture_on_commit_callbacks, services.after_sales_approve, request_id=request.pk, actor=owner)
    settle(django_capture_on_commit_callbacks, services.after_sales_approve, request_id=request.pk, actor=owner)
    request.refresh_from_db()
    assert request.status == "refunded" and request.refunded_at and request.answered_by == owner
    refunds = list(Refund.objects.filter(slot=slot))
    assert [(r.reason, r.amount_fen, r.status) for r in refunds] == [("after_sales", 5000, "succeeded")]
    assert refunds[0].payment.gift.sender.username == "alice"  # the money goes back to the sender
    assert Slot.objects.get(pk=slot.pk).status == "refunded"
    assert Sku.objects.get(pk=shop_sku.pk).stock == stock_before + 1
    kinds = set(Notification.objects.filter(kind="after_sales").values_list("user__username", flat=True))
    assert {"alice", "bob", "owner"} <= kinds


def test_a_shipper_cannot_answer_and_another_shop_cannot_see(parcel, recipient, shipper, other_owner):
    request = open_request(parcel(), recipient)
    with pytest.raises(AppError) as exc:
        services.after_sales_approve(request_id=request.pk, actor=shipper)
    assert exc.value.code == "role_not_allowed"
    r = api_for(other_owner).post(f"/api/v1/merchant/after-sales/{request.pk}/approve/")
    assert r.status_code == 404
    request.refresh_from_db()
    assert request.status == "requested"


def test_refuse_needs_a_reason_and_the_recipient_may_ask_again(parcel, recipient, owner):
    slot = parcel()
    request = open_request(slot, recipient)
    with pytest.raises(AppError) as exc:
        services.after_sales_refuse(request_id=request.pk, actor=owner, reason="  ")
    assert exc.value.code == "invalid"
    services.after_sales_refuse(request_id=request.pk, actor=owner, reason="已经打包，请签收后申请退货")
    request.refresh_from_db()
    assert (request.status, request.refuse_reason) == ("refused", "已经打包，请签收后申请退货")
    with pytest.raises(AppError):
        services.after_sales_approve(request_id=request.pk, actor=owner)
    assert open_request(slot, recipient, reason="other").status == "requested"
    assert not Refund.objects.filter(slot=slot).exists()


def test_return_journey_refunds_only_after_receipt(parcel, recipient, owner, django_capture_on_commit_callbacks):
    slot = parcel("delivered")
    request = open_request(slot, recipient, kind="return_refund", reason="quality", detail="杯口有裂纹")
    with pytest.raises(AppError) as exc:  # not approved yet
        services.after_sales_return_shipment(slot_id=slot.pk, user=recipient, carrier="中通", tracking_no="ZT1234567")
    assert exc.value.code == "not_eligible"
    settle(django_capture_on_commit_callbacks, services.after_sales_approve, request_id=request.pk, actor=owner)
    assert not Refund.objects.filter(slot=slot).exists()
    with pytest.raises(AppError) as exc:
        services.after_sales_return_shipment(slot_id=slot.pk, user=recipient, carrier="中通", tracking_no="中文")
    assert "tracking_no" in exc.value.fields
    services.after_sales_return_shipment(slot_id=slot.pk, user=recipient, carrier="中通", tracking_no="zt1234567")
    request.refresh_from_db()
    assert (request.status, request.return_tracking_no) == ("returning", "ZT1234567")
    assert request.receive_by > timezone.now() + timedelta(days=9)
    settle(django_capture_on_commit_callbacks, services.after_sales_receive, request_id=request.pk, actor=owner)
    request.refresh_from_db()
    assert request.status == "refunded"
    assert list(Refund.objects.filter(slot=slot).values_list("amount_fen", "status")) == [(5000, "succeeded")]


def test_no_answer_by_the_deadline_means_approved(parcel, recipient, django_capture_on_commit_callbacks):
    due = open_request(parcel(), recipient)
    not_due = open_request(parcel(), recipient)
    R.objects.filter(pk=due.pk).update(answer_by=timezone.now() - timedelta(seconds=1))
    counts = settle(django_capture_on_commit_callbacks, services.after_sales_deadlines_sweep)
    assert counts == {"approved": 1, "received": 0}
    due.refresh_from_db()
    not_due.refresh_from_db()
    assert (due.status, due.answered_by) == ("refunded", None)
    assert not_due.status == "requested"
    assert settle(django_capture_on_commit_callbacks, services.after_sales_deadlines_sweep) == {
        "approved": 0,
        "received": 0,
    }
    assert Refund.objects.filter(slot_id=due.slot_id).count() == 1


def test_a_return_not_confirmed_in_time_is_received_by_beat(
    parcel, recipient, owner, django_capture_on_commit_callbacks
):
    slot = parcel("delivered")
    request = open_request(slot, recipient, kind="return_refund", reason="wrong_item")
    services.after_sales_approve(request_id=request.pk, actor=owner)
    services.after_sales_return_shipment(slot_id=slot.pk, user=recipient, carrier="韵达", tracking_no="YD00000001")
    R.objects.filter(pk=request.pk).update(receive_by=timezone.now() - timedelta(minutes=1))
    assert settle(django_capture_on_commit_callbacks, services.after_sales_deadlines_sweep)["received"] == 1
    request.refresh_from_db()
    assert request.status == "refunded"


def test_a_direct_merchant_refund_closes_the_open_request(parcel, recipient, owner, django_capture_on_commit_callbacks):
    from fulfilment.services.shipments import slot_refund_after_sales

    slot = parcel()
    request = open_request(slot, recipient)
    settle(django_capture_on_commit_callbacks, slot_refund_after_sales, slot=slot, actor=owner, reason="缺货")
    request.refresh_from_db()
    assert request.status == "refunded"
    # Approving afterwards pays nothing more.
    assert services.after_sales_approve(request_id=request.pk, actor=owner).status == "refunded"
    assert Refund.objects.filter(slot=slot).count() == 1


def test_cancel_before_an_answer(parcel, recipient, other):
    slot = parcel()
    request = open_request(slot, recipient)
    with pytest.raises(AppError):
        services.after_sales_cancel(request_id=request.pk, user=other)
    assert services.after_sales_cancel(request_id=request.pk, user=recipient).status == "cancelled"


# ----- photos -----


def test_photos_are_checked(parcel, recipient):
    ok = services.photos_check([SimpleUploadedFile("a.png", png()), SimpleUploadedFile("b.jpg", png(fmt="JPEG"))])
    assert [p.content_type for p in ok] == ["image/png", "image/jpeg"]
    for bad in (b"not an image at all", png()[:60], b"GIF89a" + b"\0" * 40):
        with pytest.raises(AppError) as exc:
            services.photos_check([SimpleUploadedFile("x.png", bad)])
        assert exc.value.code == "bad_photo" and "photos" in exc.value.fields
    with pytest.raises(AppError):
        services.photos_check([SimpleUploadedFile(f"{i}.png", png()) for i in range(4)])
    # A decompression bomb: a tiny file that claims a huge picture.
    bomb = io.BytesIO()
    Image.new("1", (9000, 5000)).save(bomb, "PNG")  # 45 million pixels in a few kilobytes
    with pytest.raises(AppError):
        services.photos_check([SimpleUploadedFile("bomb.png", bomb.getvalue())])


# ----- API -----


def test_api_open_list_and_merchant_queue(parcel, recipient, owner, other, django_capture_on_commit_callbacks):
    slot = parcel()
    client = api_for(recipient)
    photo = base64.b64encode(png()).decode()
    r = client.post(
        f"/api/v1/received/{slot.pk}/after-sales/",
        {"kind": "refund_only", "reason": "changed_mind", "detail": "不需要了", "photos": [photo]},
        format="json",
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "requested" and body["amount_fen"] == 5000 and len(body["photos"]) == 1
    assert client.get(body["photos"][0]).status_code == 200
    assert api_for(other).get(body["photos"][0]).status_code == 404

    again = client.post(f"/api/v1/received/{slot.pk}/after-sales/", {"kind": "refund_only", "reason": "other"})
    assert (again.status_code, again.json()["code"]) == (409, "after_sales_open")
    assert api_for(other).get(f"/api/v1/received/{slot.pk}/after-sales/").status_code == 404
    bad = client.post(
        f"/api/v1/received/{parcel().pk}/after-sales/",
        {"kind": "refund_only", "reason": "other", "photos": [base64.b64encode(b"hello").decode()]},
        format="json",
    )
    assert (bad.status_code, bad.json()["code"]) == (400, "bad_photo")

    queue = api_for(owner).get("/api/v1/merchant/after-sales/?status=requested")
    assert queue.status_code == 200
    assert [row["id"] for row in queue.json()["results"]] == [body["id"]]
    assert api_for(owner).get("/api/v1/merchant/after-sales/?status=nope").status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        approved = api_for(owner).post(f"/api/v1/merchant/after-sales/{body['id']}/approve/")
    assert approved.status_code == 200
    listed = client.get(f"/api/v1/received/{slot.pk}/after-sales/").json()
    assert [x["status"] for x in listed] == ["refunded"]


def test_api_return_shipment_and_receive(parcel, recipient, owner, django_capture_on_commit_callbacks):
    slot = parcel("delivered")
    shop = slot.gift.shop
    shop.ship_from_address = "浙江省杭州市余杭区仓前街道 1 号仓"
    shop.save()
    client = api_for(recipient)
    created = client.post(
        f"/api/v1/received/{slot.pk}/after-sales/", {"kind": "return_refund", "reason": "damaged"}, format="json"
    ).json()
    assert created["return_address"] is None
    refused = api_for(owner).post(f"/api/v1/merchant/after-sales/{created['id']}/receive/")
    assert (refused.status_code, refused.json()["code"]) == (409, "illegal_transition")
    api_for(owner).post(f"/api/v1/merchant/after-sales/{created['id']}/approve/")
    mine = client.get(f"/api/v1/received/{slot.pk}/after-sales/").json()[0]
    assert mine["return_address"]["address"] == "浙江省杭州市余杭区仓前街道 1 号仓"
    staff_view = api_for(owner).get("/api/v1/merchant/after-sales/").json()["results"][0]
    assert staff_view["return_address"] is None  # shown only to the recipient
    r = client.post(
        f"/api/v1/received/{slot.pk}/after-sales/return-shipment/", {"carrier": "顺丰", "tracking_no": "SF99887766"}
    )
    assert r.status_code == 200 and r.json()["status"] == "returning"
    with django_capture_on_commit_callbacks(execute=True):
        done = api_for(owner).post(f"/api/v1/merchant/after-sales/{created['id']}/receive/")
    assert done.status_code == 200
    assert client.get(f"/api/v1/received/{slot.pk}/after-sales/").json()[0]["status"] == "refunded"
    assert api_for(owner).post(f"/api/v1/merchant/after-sales/{created['id']}/refuse/", {}).status_code == 400


# ----- pages -----


def test_recipient_page_opens_a_request_with_a_photo_and_the_sender_sees_only_the_status(
    client, parcel, recipient, sender
):
    slot = parcel()
    client.force_login(recipient)
    received = client.get(reverse("received")).content.decode()
    assert reverse("after-sales", args=[slot.pk]) in received
    r = client.post(
        reverse("after-sales", args=[slot.pk]),
        {
            "kind": "refund_only",
            "reason": "damaged",
            "detail": "盒子压坏了",
            "photos": [SimpleUploadedFile("p.png", png())],
        },
    )
    assert r.status_code == 302
    page = client.get(reverse("after-sales", args=[slot.pk])).content.decode()
    assert "待商家处理" in page and "盒子压坏了" in page and "超时将自动同意" in page
    bad = client.post(
        reverse("after-sales", args=[parcel().pk]),
        {"kind": "refund_only", "reason": "damaged", "photos": [SimpleUploadedFile("p.png", b"text")]},
    )
    assert bad.status_code == 200 and "不是可用的图片" in bad.content.decode()
    client.force_login(sender)
    detail = client.get(slot.gift.get_absolute_url()).content.decode()
    assert "售后" in detail and "待商家处理" in detail
    assert ADDRESS["detail"] not in detail and ADDRESS["phone"] not in detail


def test_merchant_queue_page_approves_and_a_shipper_sees_no_buttons(client, parcel, recipient, owner, shipper):
    request = open_request(parcel(), recipient)
    R.objects.filter(pk=request.pk).update(answer_by=timezone.now() + timedelta(hours=5, minutes=30))
    client.force_login(owner)
    home = client.get(reverse("merchant:index"))
    tile = next(t for t in home.context["tiles"] if t.key == "after_sales")
    assert (tile.count, tile.hint, tile.tone) == (1, "最早一单还剩 5 小时", "alert")
    client.force_login(shipper)
    page = client.get(reverse("merchant:wb-after-sales")).content.decode()
    assert f'data-id="{request.pk}"' in page and 'value="approve"' not in page
    client.force_login(owner)
    page = client.get(reverse("merchant:wb-after-sales")).content.decode()
    assert 'value="approve"' in page
    client.post(reverse("merchant:wb-after-sales"), {"id": request.pk, "action": "approve"})
    request.refresh_from_db()
    assert request.status in ("approved", "refunded")
    assert ShopStaff.objects.filter(user=shipper, role="shipper").exists()


def test_a_parcel_with_an_open_request_is_held_back_from_print_and_hand_over(client, parcel, recipient, owner):
    slot = parcel()
    open_request(slot, recipient)
    client.force_login(owner)
    queue = client.get(reverse("merchant:wb-to-ship")).content.decode()
    assert 'data-test="held-for-after-sales"' in queue
    handed = client.post(reverse("merchant:wb-hand-over"), {"ids": [slot.pk]}, follow=True).content.decode()
    assert "售后申请还没处理完" in handed
    printed = client.post(reverse("merchant:wb-print"), {"ids": [slot.pk]}, follow=True).content.decode()
    assert "售后处理中的订单没有打印" in printed
    slot.refresh_from_db()
    assert slot.status == "to_ship" and slot.shipment.status != "handed_over"


def test_no_form_where_after_sales_is_not_possible(
    client, parcel, recipient, owner, django_capture_on_commit_callbacks
):
    slot = parcel()
    request = open_request(slot, recipient)
    settle(django_capture_on_commit_callbacks, services.after_sales_approve, request_id=request.pk, actor=owner)
    client.force_login(recipient)
    page = client.get(reverse("after-sales", args=[slot.pk])).content.decode()
    assert "已退款给送礼人" in page and 'data-test="after-sales-form"' not in page
    note = Notification.objects.filter(user=recipient, kind="after_sales").first()
    assert slot.sku.product.title in note.body  # every notice names the gift


def test_a_refund_only_approved_before_shipping_cancels_the_sandbox_waybill(
    client, parcel, recipient, owner, django_capture_on_commit_callbacks
):
    from fulfilment.models import Shipment
    from sandbox.models import SandboxWaybill

    slot = parcel()
    waybill = slot.shipment.waybill_no
    opened = api_for(recipient).post(
        f"/api/v1/received/{slot.pk}/after-sales/", {"kind": "refund_only", "reason": "changed_mind"}, format="json"
    )
    assert opened.status_code == 201, opened.content
    with django_capture_on_commit_callbacks(execute=True):  # the refund settles, the cancel job runs
        approved = api_for(owner).post(f"/api/v1/merchant/after-sales/{opened.json()['id']}/approve/")
    assert approved.status_code == 200

    shipment = Shipment.objects.get(slot=slot)
    assert shipment.status == Shipment.Status.CANCELLED and shipment.waybill_no == waybill
    assert SandboxWaybill.objects.get(waybill_no=waybill).cancelled_at is not None
    assert Slot.objects.get(pk=slot.pk).status == "refunded"
    client.force_login(owner)
    page = client.get(reverse("merchant:wb-parcel", args=[slot.pk])).content.decode()
    assert 'data-test="waybill-cancelled"' in page and "面单已取消" in page
    driven = client.post(reverse("merchant:wb-parcel-drive", args=[slot.pk]), {"status": "collected"}, follow=True)
    assert SandboxWaybill.objects.get(waybill_no=waybill).collected_at is None
    assert "waybill_cancelled" in driven.content.decode()  # refused, said on the page
    printed = client.post(reverse("merchant:wb-print"), {"ids": [slot.pk]}, follow=True).content.decode()
    assert "面单已取消的订单没有打印" in printed and waybill not in printed
    assert Slot.objects.get(pk=slot.pk).status == "refunded"

"""The whole journey through the public REST contract, on PostgreSQL, eager workers."""

import pytest

from gifts.models import Gift, Slot
from payments.models import Refund
from tests.conftest import ADDRESS, api_for

pytestmark = pytest.mark.django_db


def test_single_gift_from_order_to_delivery(django_capture_on_commit_callbacks, sender, recipient, sku, merchant):
    alice, bob = api_for(sender), api_for(recipient)
    with django_capture_on_commit_callbacks(execute=True):
        r = alice.post(
            "/api/v1/gifts/",
            {"sku_id": sku.pk, "mode": "single", "recipients": 1, "message": "生日快乐"},
            format="json",
        )
    assert r.status_code == 201, r.content
    gift_id, out_trade_no = r.data["id"], r.data["payment"]["out_trade_no"]
    assert r.data["status"] == "pending_payment" and r.data["amount_fen"] == 9900
    with django_capture_on_commit_callbacks(execute=True):
        r = alice.post(f"/sandbox/pay/{out_trade_no}/", HTTP_ACCEPT="application/json")
    assert r.status_code == 200
    r = alice.get(f"/api/v1/gifts/{gift_id}/")
    assert r.data["status"] == "sent"
    token = r.data["claim_url"].rstrip("/").rsplit("/", 1)[-1]

    r = bob.get(f"/api/v1/claims/{token}/")
    assert r.status_code == 200 and r.data["message"] == "生日快乐" and r.data["sender"] == "alice"
    with django_capture_on_commit_callbacks(execute=True):
        r = bob.post(f"/api/v1/claims/{token}/accept/", {"address": ADDRESS}, format="json")
    assert r.status_code == 202, r.content
    slot = Slot.objects.get(gift_id=gift_id)
    assert slot.status == "to_ship" and slot.shipment.waybill_no

    from sandbox.carrier import gateway_scan

    gateway_scan(slot.shipment.waybill_no, "collected")
    gateway_scan(slot.shipment.waybill_no, "delivered")
    slot.refresh_from_db()
    assert slot.status == "delivered"

    detail = alice.get(f"/api/v1/gifts/{gift_id}/")
    assert detail.data["status"] == "finished"
    body = detail.content.decode()
    assert ADDRESS["phone"] not in body and ADDRESS["detail"] not in body and ADDRESS["name"] not in body

    orders = api_for(merchant).get("/api/v1/merchant/orders/")
    assert orders.data["results"][0]["address"]["phone"] == ADDRESS["phone"]


def test_declined_gift_refunds_the_sender(django_capture_on_commit_callbacks, make_gift, recipient, sku):
    gift = make_gift()
    with django_capture_on_commit_callbacks(execute=True):
        r = api_for(recipient).post(f"/api/v1/claims/{gift.claim_token}/decline/")
    assert r.status_code == 200
    gift.refresh_from_db()
    refund = Refund.objects.get(payment__gift=gift)
    assert refund.status == "succeeded" and refund.amount_fen == gift.amount_fen
    assert gift.status == Gift.objects.get(pk=gift.pk).status == "refunded"
    sku.refresh_from_db()
    assert sku.stock == 100


def test_each_step_notifies_each_person_once(
    django_capture_on_commit_callbacks, make_gift, recipient, merchant, address, mailoutbox
):
    from gifts.models import Notification
    from gifts.services.claim import slot_accept
    from sandbox.carrier import gateway_scan

    gift = make_gift()
    with django_capture_on_commit_callbacks(execute=True):
        slot = slot_accept(gift=gift, user=recipient, address=address)
    slot.refresh_from_db()
    for _ in range(2):  # the courier repeats itself; nobody hears twice
        with django_capture_on_commit_callbacks(execute=True):
            gateway_scan(slot.shipment.waybill_no, "collected")
            gateway_scan(slot.shipment.waybill_no, "delivered")
    kinds = sorted(Notification.objects.values_list("user__username", "kind"))
    assert kinds == sorted(
        [
            ("alice", "gift_paid"),
            ("alice", "accepted"),
            ("bob", "accepted"),
            ("merchant", "to_ship"),
            ("bob", "shipped"),
            ("alice", "shipped"),
            ("alice", "delivered"),
        ]
    )
    assert len(mailoutbox) == len(kinds)  # every account here has an email address
    assert all(address.phone not in m.body and address.detail not in m.body for m in mailoutbox)

"""Every path of API.md, with the field names it promises (the contract clients are written against)."""

from __future__ import annotations

import pytest
from django.utils.dateparse import parse_datetime

from gifts.models import Slot
from sandbox import signing
from tests.api.conftest import token_client
from tests.conftest import ADDRESS, api_for

pytestmark = pytest.mark.django_db


def test_register_then_sign_in_returns_a_token_that_authenticates(api):
    r = api.post("/api/v1/auth/register/", {"username": "dora", "password": "a-long-passphrase"}, format="json")
    assert r.status_code == 201 and set(r.data) == {"token"}
    r2 = api.post("/api/v1/auth/token/", {"username": "dora", "password": "a-long-passphrase"}, format="json")
    assert r2.status_code == 200 and r2.data["token"] == r.data["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {r.data['token']}")
    assert api.get("/api/v1/gifts/").status_code == 200


def test_registering_a_taken_name_is_a_409_with_the_field(api, sender):
    r = api.post("/api/v1/auth/register/", {"username": "ALICE", "password": "a-long-passphrase"}, format="json")
    assert r.status_code == 409 and r.data["code"] == "username_taken" and "username" in r.data["fields"]


def test_wrong_password_is_refused_with_a_code(api, sender):
    r = api.post("/api/v1/auth/token/", {"username": "alice", "password": "nope-nope-nope"}, format="json")
    assert r.status_code == 400 and r.data["code"] == "bad_credentials"


def test_username_with_inner_whitespace_is_invalid(api):
    r = api.post("/api/v1/auth/register/", {"username": "do\nra", "password": "a-long-passphrase"}, format="json")
    assert r.status_code == 400 and r.data["code"] == "invalid" and "username" in r.data["fields"]


def test_product_list_items_have_id_title_shop_and_gifting(api, world):
    r = api.get("/api/v1/products/")
    assert r.status_code == 200
    item = next(p for p in r.data["results"] if p["id"] == world.sku_a.product_id)
    assert item["title"] == world.sku_a.product.title
    assert item["shop"] == world.sku_a.product.shop_id
    assert item["gifting"] == {"eligible": True, "reasons": []}


def test_product_list_filters_by_shop(api, world):
    r = api.get("/api/v1/products/", {"shop": world.sku_b.product.shop_id})
    assert [p["id"] for p in r.data["results"]] == [world.sku_b.product_id]


def test_product_detail_has_skus_and_gifting_with_reasons(api, world):
    shop = world.sku_a.product.shop
    shop.gifting_enabled = False
    shop.save()
    r = api.get(f"/api/v1/products/{world.sku_a.product_id}/")
    assert r.status_code == 200
    sku = r.data["skus"][0]
    assert {"id", "attributes", "price_fen", "original_price_fen", "stock"} <= set(sku)
    assert sku["id"] == world.sku_a.pk and sku["price_fen"] == 9900 and sku["original_price_fen"] == 12900
    assert r.data["gifting"]["eligible"] is False and r.data["gifting"]["reasons"]


def test_create_gift_returns_201_pending_payment_with_payment(sender, sku):
    r = api_for(sender).post(
        "/api/v1/gifts/",
        {"sku_id": sku.pk, "mode": "group", "recipients": 3, "quantity": 2, "message": "hi", "allow_sku_choice": True},
        format="json",
    )
    assert r.status_code == 201, r.content
    assert r.data["status"] == "pending_payment" and r.data["amount_fen"] == 9900 * 3 * 2
    assert r.data["payment"]["out_trade_no"] and r.data["payment"]["cashier_url"]
    assert isinstance(r.data["id"], int)


def test_gift_detail_has_status_claim_url_expiry_and_slots_without_personal_data(world):
    world.slot.thanks = "谢谢"
    world.slot.save(update_fields=["thanks"])
    r = api_for(world.sender).get(f"/api/v1/gifts/{world.gift.pk}/")
    assert r.status_code == 200
    assert r.data["status"] == "claimed"
    assert r.data["claim_url"].endswith(f"/c/{world.gift.claim_token}/")
    assert parse_datetime(r.data["expires_at"]).utcoffset() is not None
    assert r.data["slots"] == [
        {**r.data["slots"][0], "status": "to_ship", "sku_id": world.sku_a.pk, "thanks": "谢谢"},
    ]
    body = r.content.decode()
    for secret in (ADDRESS["phone"], ADDRESS["detail"], ADDRESS["name"], "138****5678"):
        assert secret not in body


def test_claim_card_shows_sender_message_product_skus_slots_left_and_expiry(world):
    r = api_for(world.other).get(f"/api/v1/claims/{world.group_gift.claim_token}/")
    assert r.status_code == 200
    assert r.data["sender"] == "alice" and r.data["message"] == "新年快乐"
    assert r.data["product"]["id"] == world.sku_a.product_id
    assert [s["id"] for s in r.data["skus"]] == [world.sku_a.pk]
    assert r.data["slots_left"] == 3 and r.data["slots_total"] == 3 and r.data["expires_at"]


def test_grab_takes_one_slot_then_refuses_the_same_account(world):
    carol = api_for(world.other)
    r = carol.post(f"/api/v1/claims/{world.group_gift.claim_token}/grab/")
    assert r.status_code == 200 and r.data["status"] == "unclaimed" and r.data["sku_id"] == world.sku_a.pk
    again = carol.post(f"/api/v1/claims/{world.group_gift.claim_token}/grab/")
    assert again.status_code == 409 and again.data["code"] == "already_taken_by_you"


def test_grab_when_all_slots_are_gone_is_409_all_taken(world, make_gift):
    gift = make_gift(mode="group", recipients=2)
    api_for(world.recipient).post(f"/api/v1/claims/{gift.claim_token}/grab/")
    api_for(world.other).post(f"/api/v1/claims/{gift.claim_token}/grab/")
    r = api_for(world.merchant_b).post(f"/api/v1/claims/{gift.claim_token}/grab/")
    assert r.status_code == 409 and r.data["code"] == "all_taken"


def test_accept_returns_202_and_the_worker_makes_it_an_order(django_capture_on_commit_callbacks, world):
    with django_capture_on_commit_callbacks(execute=True):
        r = api_for(world.other).post(
            f"/api/v1/claims/{world.group_gift.claim_token}/accept/", {"address": ADDRESS}, format="json"
        )
    assert r.status_code == 202 and r.data["status"] == "accepted"
    assert Slot.objects.get(pk=r.data["id"]).status == "to_ship"


def test_decline_refunds_the_sender(django_capture_on_commit_callbacks, make_gift, recipient):
    gift = make_gift()
    with django_capture_on_commit_callbacks(execute=True):
        r = api_for(recipient).post(f"/api/v1/claims/{gift.claim_token}/decline/")
    assert r.status_code == 200 and r.data["status"] == "declined"
    gift.refresh_from_db()
    assert gift.status == "refunded"


def test_merchant_orders_show_the_full_address_and_filter_by_status(world):
    merchant = token_client(world.merchant_a)
    r = merchant.get("/api/v1/merchant/orders/", {"status": "to_ship"})
    assert r.status_code == 200 and set(r.data) >= {"next", "previous", "results"}
    assert [o["id"] for o in r.data["results"]] == [world.slot.pk]
    assert r.data["results"][0]["address"] == ADDRESS
    assert merchant.get("/api/v1/merchant/orders/", {"status": "shipped"}).data["results"] == []


def test_merchant_orders_refuse_an_unknown_status(world):
    r = api_for(world.merchant_a).get("/api/v1/merchant/orders/", {"status": "lost"})
    assert r.status_code == 400 and r.data["code"] == "invalid" and "status" in r.data["fields"]


def test_merchant_ships_with_carrier_and_tracking_number(world):
    r = api_for(world.merchant_a).post(
        f"/api/v1/merchant/orders/{world.slot.pk}/ship/", {"carrier": "顺丰", "tracking_no": "SF123"}, format="json"
    )
    assert r.status_code == 200, r.content
    assert r.data["status"] == "shipped" and r.data["shipment"]["waybill_no"] == "SF123"


def _signed_post(client, path, body: bytes, secret: str):
    return client.post(
        path, body, content_type="application/json", headers={signing.HEADER: signing.sign(body, secret)}
    )


def test_payment_webhook_accepts_a_signed_notice_and_is_idempotent(settings, api, make_gift):
    from sandbox.payment import callback_body, gateway_pay

    gift = make_gift(paid=False)
    gateway_pay(out_trade_no=gift.payment.out_trade_no)  # its own callback waits for a commit that never comes
    body = callback_body("payment", gift.payment.out_trade_no)
    first = _signed_post(api, "/api/v1/payments/notify/sandbox/", body, settings.SANDBOX_PAYMENT_SECRET)
    second = _signed_post(api, "/api/v1/payments/notify/sandbox/", body, settings.SANDBOX_PAYMENT_SECRET)
    assert first.status_code == second.status_code == 200 and first.data["code"] == "SUCCESS"
    gift.refresh_from_db()
    assert (first.data["message"], second.data["message"]) == ("paid", "duplicate")
    assert gift.status == "sent" and gift.events.filter(kind="gift_status", to_status="sent").count() == 1


def test_webhooks_refuse_a_wrong_signature_with_401(api):
    for path in ("/api/v1/payments/notify/sandbox/", "/api/v1/carriers/notify/sandbox/"):
        r = _signed_post(api, path, b'{"event_type": "x"}', "not-the-secret")
        assert r.status_code == 401 and r.data["code"] == "bad_signature"


def test_carrier_webhook_applies_a_signed_tracking_update_once(settings, api, world):
    from sandbox.carrier import tracking_body

    body = tracking_body(world.slot.shipment.waybill_no, "collected")
    for _ in range(2):
        r = _signed_post(api, "/api/v1/carriers/notify/sandbox/", body, settings.SANDBOX_CARRIER_SECRET)
        assert r.status_code == 200, r.content
    world.slot.refresh_from_db()
    assert world.slot.status == "shipped" and world.slot.shipment.tracking.count() == 1

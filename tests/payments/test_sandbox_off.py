"""With the sandbox off, every sandbox URL is a 404: its cashier, its pay button and both notify
endpoints, even for a notification signed with the right secret."""

import json

import pytest
from django.conf import settings
from django.test import Client

from gifts.models import GiftStatus
from sandbox import signing
from sandbox.models import SandboxPayOrder
from sandbox.payment import callback_body, gateway_create_order

pytestmark = pytest.mark.django_db


def test_every_sandbox_url_is_not_found_when_the_sandbox_is_off(settings, make_gift):
    gift = make_gift(paid=False)
    out_trade_no = gift.payment.out_trade_no
    body = json.dumps(
        {"event_type": "payment.succeeded", "out_trade_no": out_trade_no, "transaction_id": "X", "amount_fen": 1}
    ).encode()
    settings.SANDBOX_ENABLED = False
    client = Client()
    signed = {"HTTP_SANDBOX_SIGNATURE": signing.sign(body, settings.SANDBOX_PAYMENT_SECRET)}

    assert client.get(f"/sandbox/cashier/{out_trade_no}/").status_code == 404
    assert client.post(f"/sandbox/pay/{out_trade_no}/").status_code == 404
    r = client.post("/api/v1/payments/notify/sandbox/", body, content_type="application/json", **signed)
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = client.post("/api/v1/carriers/notify/sandbox/", body, content_type="application/json", **signed)
    assert r.status_code == 404
    gift.refresh_from_db()
    assert gift.status == GiftStatus.PENDING_PAYMENT


def test_the_same_notification_is_applied_while_the_sandbox_is_on(make_gift):
    gift = make_gift(paid=False)
    gateway_create_order(out_trade_no=gift.payment.out_trade_no, amount_fen=gift.amount_fen, description="")
    SandboxPayOrder.objects.filter(out_trade_no=gift.payment.out_trade_no).update(
        status="paid", paid_at=gift.created_at
    )
    body = callback_body("payment", gift.payment.out_trade_no)
    r = Client().post(
        "/api/v1/payments/notify/sandbox/",
        body,
        content_type="application/json",
        HTTP_SANDBOX_SIGNATURE=signing.sign(body, settings.SANDBOX_PAYMENT_SECRET),
    )
    assert r.status_code == 200, r.content
    gift.refresh_from_db()
    assert gift.status == GiftStatus.SENT

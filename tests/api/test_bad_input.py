"""No 500 from input: each case below answered 500 in an attack run (NUL bytes reach PostgreSQL,
numbers too large for an integer, impossible dates, over-long ids). Each must be a coded 4xx now,
and change nothing."""

import json

import pytest
from django.conf import settings
from django.test import Client

from fulfilment.models import TrackingEvent
from payments.models import Payment
from sandbox import signing
from sandbox.carrier import NOTIFY_PATH as COURIER_NOTIFY
from sandbox.payment import NOTIFY_PATH as PAYMENT_NOTIFY
from tests.conftest import api_for

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "/c/a%00b/",
        "/l/a%00b/",
        "/b/a%00b/",
        "/api/v1/claims/a%00b/",
        "/api/v1/lotteries/a%00b/",
        "/api/v1/bulk-claims/a%00b/",
        "/pay/GS%00/",
        "/sandbox/cashier/GS%00/",
    ],
)
def test_a_nul_byte_in_a_link_is_a_404(path, sender):
    client = Client()
    client.force_login(sender)
    assert client.get(path).status_code == 404


def signed_post(path: str, data: dict, secret: str):
    body = json.dumps(data).encode()
    return Client().post(
        path,
        data=body,
        content_type="application/json",
        **{"HTTP_" + signing.HEADER.upper().replace("-", "_"): signing.sign(body, secret)},
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"amount_fen": 1e999},
        {"amount_fen": "9" * 400},
        {"amount_fen": True},
        {"amount_fen": -5},
        {"out_trade_no": "GS\u0000X"},
        {"out_trade_no": "G" * 500},
        {"transaction_id": "x\u0000"},
    ],
)
def test_a_signed_payment_notice_with_impossible_fields_is_refused(make_gift, changes):
    gift = make_gift(paid=False)
    payment = gift.payment
    data = {
        "event_type": "payment.succeeded",
        "out_trade_no": payment.out_trade_no,
        "amount_fen": payment.amount_fen,
        "transaction_id": "SBX1",
        **changes,
    }
    body = json.dumps(data).encode()  # json.dumps writes 1e999 as Infinity, as a hostile sender would
    response = Client().post(
        PAYMENT_NOTIFY,
        data=body,
        content_type="application/json",
        HTTP_SANDBOX_SIGNATURE=signing.sign(body, settings.SANDBOX_PAYMENT_SECRET),
    )
    assert 400 <= response.status_code < 500, response.content
    assert Payment.objects.get(pk=payment.pk).status == "pending"


@pytest.mark.parametrize(
    "changes",
    [
        {"occurred_at": "2026-13-45T99:00:00+08:00"},
        {"occurred_at": 12},
        {"event_id": "e" * 65},
        {"event_id": "e\u0000"},
        {"waybill_no": "SBX\u0000"},
        {"status": "delivered\u0000"},
        {"description": "签收\u0000"},
    ],
)
def test_a_signed_tracking_notice_with_impossible_fields_is_refused(changes):
    data = {
        "event_id": "evt-1",
        "waybill_no": "SBX000000000001",
        "status": "delivered",
        "description": "已签收",
        "occurred_at": "2026-12-01T10:00:00+08:00",
        **changes,
    }
    body = json.dumps(data).encode()
    response = Client().post(
        COURIER_NOTIFY,
        data=body,
        content_type="application/json",
        HTTP_SANDBOX_SIGNATURE=signing.sign(body, settings.SANDBOX_CARRIER_SECRET),
    )
    assert 400 <= response.status_code < 500, response.content
    assert not TrackingEvent.objects.exists()


def test_a_bad_address_id_on_the_data_page_is_a_message_not_a_500(recipient):
    client = Client()
    client.force_login(recipient)
    response = client.post("/account/data/", {"action": "delete_address", "address_id": "abc"})
    assert response.status_code in (200, 302, 400)


def test_a_nul_in_a_json_field_is_a_field_error(sender, sku):
    r = api_for(sender).post(
        "/api/v1/gifts/", {"sku_id": sku.pk, "recipients": 1, "message": "新年\u0000快乐"}, format="json"
    )
    assert r.status_code == 400 and r.json()["code"] == "invalid"


def test_an_after_sales_request_whose_body_is_not_an_object_is_a_400(make_gift, recipient, address):
    """Found by the fuzzer against the served instance: a JSON list as the body was a 500."""
    from gifts.services.claim import slot_accept
    from tests.conftest import api_for

    slot = slot_accept(gift=make_gift(), user=recipient, address=address)
    r = api_for(recipient).post(f"/api/v1/received/{slot.pk}/after-sales/", [1, 2], format="json")
    assert r.status_code == 400, r.content

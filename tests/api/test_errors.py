"""One error body for every 4xx, and never a 5xx for bad input."""

from __future__ import annotations

import pytest
from django.conf import settings

from sandbox import signing
from tests.conftest import ADDRESS

pytestmark = pytest.mark.django_db

HUGE = 10**30


def _raw(body: str):
    return {"data": body, "content_type": "application/json"}


# (name, actor, method, path(world), request kwargs(world), status, code)
CASES = [
    ("malformed-json", "sender", "post", lambda w: "/api/v1/gifts/", lambda w: _raw('{"sku_id": '), 400, "parse_error"),
    ("json-array-body", "sender", "post", lambda w: "/api/v1/gifts/", lambda w: _raw("[1, 2]"), 400, "invalid"),
    ("json-null-body", "sender", "post", lambda w: "/api/v1/gifts/", lambda w: _raw("null"), 400, "invalid"),
    (
        "wrong-types",
        "sender",
        "post",
        lambda w: "/api/v1/gifts/",
        lambda w: {"data": {"sku_id": "abc", "mode": 5, "recipients": [], "quantity": {}}, "format": "json"},
        400,
        "invalid",
    ),
    (
        "huge-sku-id",
        "sender",
        "post",
        lambda w: "/api/v1/gifts/",
        lambda w: {"data": {"sku_id": HUGE}, "format": "json"},
        400,
        "invalid",
    ),
    (
        "infinite-number",
        "sender",
        "post",
        lambda w: "/api/v1/gifts/",
        lambda w: _raw('{"sku_id": 1e400}'),
        400,
        "invalid",
    ),
    (
        "unknown-sku",
        "sender",
        "post",
        lambda w: "/api/v1/gifts/",
        lambda w: {"data": {"sku_id": 2**62}, "format": "json"},
        404,
        "not_found",
    ),
    (
        "nul-byte-in-text",
        "sender",
        "post",
        lambda w: "/api/v1/gifts/",
        lambda w: {"data": {"sku_id": w.sku_a.pk, "message": "hi\x00"}, "format": "json"},
        400,
        "invalid",
    ),
    (
        "lone-surrogate-in-text",
        "recipient",
        "post",
        lambda w: f"/api/v1/received/{w.slot.pk}/thanks/",
        lambda w: _raw('{"thanks": "\\ud800"}'),
        400,
        "invalid",
    ),
    (
        "nested-address-wrong-type",
        "other",
        "post",
        lambda w: f"/api/v1/claims/{w.group_gift.claim_token}/accept/",
        lambda w: {"data": {"address": "my house"}, "format": "json"},
        400,
        "invalid",
    ),
    (
        "address-not-in-the-region-table",
        "other",
        "post",
        lambda w: f"/api/v1/claims/{w.group_gift.claim_token}/accept/",
        lambda w: {"data": {"address": {**ADDRESS, "province": "火星"}}, "format": "json"},
        400,
        "bad_address",
    ),
    (
        "unknown-claim-token",
        "recipient",
        "get",
        lambda w: "/api/v1/claims/no-such-token/",
        lambda w: {},
        404,
        "not_found",
    ),
    (
        "very-long-claim-token",
        "recipient",
        "get",
        lambda w: "/api/v1/claims/" + "x" * 5000 + "/",
        lambda w: {},
        404,
        "not_found",
    ),
    ("non-numeric-gift-id", "sender", "get", lambda w: "/api/v1/gifts/abc/", lambda w: {}, 404, "not_found"),
    ("negative-gift-id", "sender", "get", lambda w: "/api/v1/gifts/-1/", lambda w: {}, 404, "not_found"),
    ("huge-gift-id", "sender", "get", lambda w: f"/api/v1/gifts/{HUGE}/", lambda w: {}, 404, "not_found"),
    ("huge-product-id", "anonymous", "get", lambda w: f"/api/v1/products/{HUGE}/", lambda w: {}, 404, "not_found"),
    (
        "huge-order-id-ship",
        "merchant_a",
        "post",
        lambda w: f"/api/v1/merchant/orders/{HUGE}/ship/",
        lambda w: {"data": {"carrier": "x", "tracking_no": "y"}, "format": "json"},
        404,
        "not_found",
    ),
    (
        "huge-sku-id-stock",
        "merchant_a",
        "patch",
        lambda w: f"/api/v1/merchant/skus/{HUGE}/",
        lambda w: {"data": {"stock": 1}, "format": "json"},
        404,
        "not_found",
    ),
    (
        "negative-stock",
        "merchant_a",
        "patch",
        lambda w: f"/api/v1/merchant/skus/{w.sku_a.pk}/",
        lambda w: {"data": {"stock": -1}, "format": "json"},
        400,
        "invalid",
    ),
    (
        "huge-shop-filter",
        "anonymous",
        "get",
        lambda w: "/api/v1/products/",
        lambda w: {"data": {"shop": str(HUGE)}},
        400,
        "invalid",
    ),
    (
        "unicode-digit-shop-filter",
        "anonymous",
        "get",
        lambda w: "/api/v1/products/",
        lambda w: {"data": {"shop": "²"}},
        400,
        "invalid",
    ),
    (
        "bad-page-number",
        "anonymous",
        "get",
        lambda w: "/api/v1/products/",
        lambda w: {"data": {"page": "abc"}},
        404,
        "not_found",
    ),
    (
        "garbage-cursor",
        "sender",
        "get",
        lambda w: "/api/v1/gifts/",
        lambda w: {"data": {"cursor": "abc"}},
        404,
        "not_found",
    ),
    (
        "unknown-status-filter",
        "merchant_a",
        "get",
        lambda w: "/api/v1/merchant/orders/",
        lambda w: {"data": {"status": "x" * 300}},
        400,
        "invalid",
    ),
    (
        "unknown-notification-id",
        "sender",
        "post",
        lambda w: "/api/v1/notifications/read/",
        lambda w: {"data": {"id": HUGE}, "format": "json"},
        400,
        "invalid",
    ),
    (
        "not-json-media-type",
        "sender",
        "post",
        lambda w: "/api/v1/gifts/",
        lambda w: {"data": "sku_id=1", "content_type": "text/plain"},
        415,
        "unsupported_media_type",
    ),
    ("method-not-allowed", "sender", "put", lambda w: "/api/v1/gifts/", lambda w: {}, 405, "method_not_allowed"),
    ("not-signed-in", "anonymous", "get", lambda w: "/api/v1/gifts/", lambda w: {}, 401, "not_authenticated"),
    (
        "unknown-token",
        "anonymous",
        "get",
        lambda w: "/api/v1/products/",
        lambda w: {"HTTP_AUTHORIZATION": "Token 0000000000000000000000000000000000000000"},
        401,
        "authentication_failed",
    ),
    (
        "malformed-auth-header",
        "anonymous",
        "get",
        lambda w: "/api/v1/gifts/",
        lambda w: {"HTTP_AUTHORIZATION": "Token a b c"},
        401,
        "authentication_failed",
    ),
    (
        "webhook-non-ascii-signature",
        "anonymous",
        "post",
        lambda w: "/api/v1/payments/notify/sandbox/",
        lambda w: {**_raw("{}"), "HTTP_SANDBOX_SIGNATURE": "t=1,v1=\u00e9\u00e9"},
        401,
        "bad_signature",
    ),
    (
        "webhook-signature-without-parts",
        "anonymous",
        "post",
        lambda w: "/api/v1/carriers/notify/sandbox/",
        lambda w: {**_raw("{}"), "HTTP_SANDBOX_SIGNATURE": "garbage"},
        401,
        "bad_signature",
    ),
    (
        "webhook-signed-but-not-json",
        "anonymous",
        "post",
        lambda w: "/api/v1/payments/notify/sandbox/",
        lambda w: {
            **_raw("not json"),
            "HTTP_SANDBOX_SIGNATURE": signing.sign(b"not json", settings.SANDBOX_PAYMENT_SECRET),
        },
        400,
        "bad_notification",
    ),
    (
        "webhook-signed-unknown-waybill",
        "anonymous",
        "post",
        lambda w: "/api/v1/carriers/notify/sandbox/",
        lambda w: _signed_tracking(f"SBX{HUGE}"),
        404,
        "not_found",
    ),
]


def _signed_tracking(waybill_no: str) -> dict:
    from sandbox.carrier import tracking_body

    body = tracking_body(waybill_no, "collected")
    return {
        "data": body,
        "content_type": "application/json",
        "HTTP_SANDBOX_SIGNATURE": signing.sign(body, settings.SANDBOX_CARRIER_SECRET),
    }


@pytest.mark.parametrize(
    ("actor", "method", "path", "kwargs", "status", "code"), [pytest.param(*c[1:], id=c[0]) for c in CASES]
)
def test_bad_input_gets_a_4xx_with_the_standard_error_body(world, actor, method, path, kwargs, status, code):
    r = getattr(world.client(actor), method)(path(world), **kwargs(world))
    assert r.status_code == status, r.content[:500]
    assert r["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["code"] == code and isinstance(body["detail"], str) and body["detail"]
    assert set(body) <= {"code", "detail", "fields"}
    if "fields" in body:
        assert body["code"] in ("invalid", "bad_address") or status == 409
        assert all(isinstance(v, list) and all(isinstance(m, str) for m in v) for v in body["fields"].values())


def test_validation_errors_name_each_bad_field(world):
    r = world.client("sender").post("/api/v1/gifts/", {"sku_id": "abc", "mode": "both", "quantity": 0}, format="json")
    assert r.status_code == 400 and set(r.json()["fields"]) == {"sku_id", "mode", "quantity"}


def test_nested_address_errors_are_dotted_field_names(world):
    r = world.client("other").post(
        f"/api/v1/claims/{world.group_gift.claim_token}/accept/",
        {"address": {**ADDRESS, "phone": ""}},
        format="json",
    )
    assert r.status_code == 400 and "address.phone" in r.json()["fields"]


@pytest.mark.django_db(transaction=True)
def test_simultaneous_registrations_of_one_name_give_one_account_and_a_409():
    import threading

    from django.contrib.auth import get_user_model
    from django.db import connection
    from rest_framework.test import APIClient

    barrier, results = threading.Barrier(4), []

    def register():
        try:
            barrier.wait()
            r = APIClient().post(
                "/api/v1/auth/register/", {"username": "zed", "password": "a-long-passphrase"}, format="json"
            )
            results.append((r.status_code, r.json().get("code")))
        finally:
            connection.close()

    threads = [threading.Thread(target=register) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [(201, None), (409, "username_taken"), (409, "username_taken"), (409, "username_taken")]
    assert get_user_model().objects.filter(username="zed").count() == 1

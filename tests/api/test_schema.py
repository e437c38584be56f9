"""The OpenAPI 3 schema served at /api/v1/schema/: valid, complete, and documenting the error body."""

from __future__ import annotations

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db

# The public contract (API.md): these paths and methods must be in the served schema.
CONTRACT = {
    ("post", "/api/v1/auth/register/"),
    ("post", "/api/v1/auth/token/"),
    ("get", "/api/v1/products/"),
    ("get", "/api/v1/products/{id}/"),
    ("post", "/api/v1/gifts/"),
    ("get", "/api/v1/gifts/{id}/"),
    ("post", "/api/v1/payments/notify/sandbox/"),
    ("get", "/api/v1/claims/{token}/"),
    ("post", "/api/v1/claims/{token}/grab/"),
    ("post", "/api/v1/claims/{token}/accept/"),
    ("post", "/api/v1/claims/{token}/decline/"),
    ("get", "/api/v1/merchant/orders/"),
    ("post", "/api/v1/merchant/orders/{id}/ship/"),
    ("post", "/api/v1/carriers/notify/sandbox/"),
    # extras
    ("get", "/api/v1/gifts/"),
    ("get", "/api/v1/received/"),
    ("post", "/api/v1/received/{id}/thanks/"),
    ("get", "/api/v1/addresses/"),
    ("get", "/api/v1/notifications/"),
    ("get", "/api/v1/merchant/products/"),
    ("patch", "/api/v1/merchant/skus/{id}/"),
    ("post", "/api/v1/merchant/orders/{id}/refund/"),
}
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def schema(api) -> dict:
    r = api.get("/api/v1/schema/", {"format": "json"})
    assert r.status_code == 200
    return r.json()


# Gateways' webhooks answer in the gateway's own protocol (WeChat Pay: 204, or a 4xx with
# {"code": "FAIL"}; Alipay: text/plain `success` / `fail`), not with our JSON bodies.
PAYMENT_WIRE = {"/api/v1/payments/notify/wechatpay/", "/api/v1/payments/notify/alipay/"}
# Kuaidi100's push answer: always 200 with {"result", "returnCode", "message"} (it reads `result`).
CARRIER_WIRE = {"/api/v1/carriers/notify/kuaidi100/"}
PROVIDER_WIRE = PAYMENT_WIRE | CARRIER_WIRE


def _operations(schema, *, ours_only: bool = True):
    for path, item in schema["paths"].items():
        if ours_only and path in PROVIDER_WIRE:
            continue
        for method, op in item.items():
            if method in HTTP_METHODS:
                yield path, method, op


def test_carrier_webhooks_document_the_carriers_own_answer(schema):
    for path in CARRIER_WIRE:
        responses = schema["paths"][path]["post"]["responses"]
        assert "application/json" in responses["200"]["content"]
        assert responses["404"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
        assert schema["paths"][path]["post"]["security"] == [{}]


def test_gateway_webhooks_document_the_gateways_own_answers(schema):
    for path in PAYMENT_WIRE:
        responses = schema["paths"][path]["post"]["responses"]
        assert "204" in responses and "text/plain" in responses["200"]["content"]
        for code in ("400", "401"):
            failure = responses[code]["content"]["application/json"]["schema"]
            assert failure == {"$ref": "#/components/schemas/GatewayFailure"}
        assert responses["404"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
        assert schema["paths"][path]["post"]["security"] == [{}]


def test_spectacular_validates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3")


def test_swagger_ui_is_served(api):
    r = api.get("/api/v1/docs/")
    assert r.status_code == 200 and b"swagger" in r.content.lower()


def test_every_contract_path_is_in_the_served_schema(schema):
    served = {(method, path) for path, method, _ in _operations(schema)}
    assert CONTRACT <= served, CONTRACT - served


def test_every_operation_has_an_id_a_description_and_a_success_body(schema):
    for path, method, op in _operations(schema):
        assert op.get("operationId"), (method, path)
        assert op.get("description"), f"{method} {path} has no description"
        ok = [code for code in op["responses"] if code.startswith("2")]
        assert ok, (method, path)
        for code in ok:
            if code != "204":
                # JSON, or a file download documented as such (the tracker's CSV export, a photo).
                assert {"application/json", "text/csv", "image/*"} & set(op["responses"][code]["content"]), (
                    method,
                    path,
                    code,
                )


def test_every_4xx_response_is_the_error_body(schema):
    error = schema["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "detail"} and set(error["properties"]) == {"code", "detail", "fields"}
    for path, method, op in _operations(schema):
        errors = {code: r for code, r in op["responses"].items() if code.startswith("4")}
        assert errors, (method, path)
        for code, response in errors.items():
            assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}, (
                method,
                path,
                code,
            )


def test_signed_in_operations_document_401_and_id_paths_document_404(schema):
    for path, method, op in _operations(schema):
        if path not in ("/api/v1/auth/register/", "/api/v1/auth/token/") and not path.startswith("/api/v1/auth/phone/"):
            assert "401" in op["responses"], (method, path)
        if "{" in path:
            assert "404" in op["responses"], (method, path)


def test_throttled_operations_document_429_with_retry_after(schema):
    throttled = {
        ("post", "/api/v1/auth/register/"),
        ("post", "/api/v1/auth/token/"),
        ("post", "/api/v1/claims/{token}/grab/"),
        ("post", "/api/v1/claims/{token}/accept/"),
        ("post", "/api/v1/claims/{token}/decline/"),
        ("post", "/api/v1/auth/phone/code/"),
        ("post", "/api/v1/auth/phone/login/"),
    }
    for method, path in throttled:
        response = schema["paths"][path][method]["responses"]["429"]
        assert "Retry-After" in response["headers"]


def test_phone_sign_in_documents_its_error_codes(schema):
    code = schema["paths"]["/api/v1/auth/phone/code/"]["post"]
    assert "202" in code["responses"] and "bad_phone" in code["responses"]["400"]["description"]
    assert code["security"] == [{}]
    login = schema["paths"]["/api/v1/auth/phone/login/"]["post"]
    assert {"token", "created"} <= set(schema["components"]["schemas"]["PhoneToken"]["properties"])
    assert "bad_code" in login["responses"]["400"]["description"]
    assert "code_expired" in login["responses"]["400"]["description"]


def test_webhooks_need_no_authentication_in_the_schema(schema):
    for path in ("/api/v1/payments/notify/sandbox/", "/api/v1/carriers/notify/sandbox/"):
        assert schema["paths"][path]["post"]["security"] == [{}]


def test_request_bodies_are_json_only(schema):
    for path, method, op in _operations(schema):
        if "requestBody" in op:
            assert set(op["requestBody"]["content"]) == {"application/json"}, (method, path)


def test_the_api_docs_page_loads_swagger_ui_from_our_own_static_files(client):
    page = client.get("/api/v1/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn." not in page and "unpkg" not in page
    assert client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js").status_code == 200

"""A client written only from the served OpenAPI schema runs the whole gift journey.

It finds operations by operationId in /api/v1/schema/, fills path templates from the schema, checks
every body it sends uses only properties the schema declares, and reads only declared response fields.
The one URL not in the schema is the sandbox cashier's pay button, which stands in for the payer.
"""

from __future__ import annotations

import re

import pytest
from rest_framework.test import APIClient

from tests.conftest import ADDRESS
from tests.factories import ShopStaffFactory, SkuFactory, UserFactory

pytestmark = pytest.mark.django_db


class SchemaClient:
    def __init__(self, client: APIClient, schema: dict):
        self.client, self.schema, self.token = client, schema, None
        self.operations = {
            op["operationId"]: (method, path, op)
            for path, item in schema["paths"].items()
            for method, op in item.items()
            if isinstance(op, dict) and "operationId" in op
        }

    def resolve(self, node: dict) -> dict:
        while "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            node = self.schema["components"]["schemas"][name]
        return node

    def response_fields(self, op_id: str, status: int) -> set[str]:
        _, _, op = self.operations[op_id]
        body = self.resolve(op["responses"][str(status)]["content"]["application/json"]["schema"])
        return set(body.get("properties", {}))

    def call(self, op_id: str, *, expect: int, body: dict | None = None, query: dict | None = None, **path_params):
        method, template, op = self.operations[op_id]
        names = re.findall(r"{(\w+)}", template)
        assert set(names) == set(path_params), f"{op_id} takes {names}"
        path = template.format(**path_params)
        if body is not None:
            declared = self.resolve(op["requestBody"]["content"]["application/json"]["schema"])
            assert set(body) <= set(declared["properties"]), f"{op_id}: {set(body) - set(declared['properties'])}"
            assert set(declared.get("required", [])) <= set(body)
        headers = {"HTTP_AUTHORIZATION": f"Token {self.token}"} if self.token else {}
        r = getattr(self.client, method)(
            path, body if body is not None else query, format="json" if body is not None else None, **headers
        )
        assert r.status_code == expect, (op_id, r.status_code, r.content[:400])
        assert str(expect) in op["responses"], f"{op_id} answered an undocumented {expect}"
        data = r.json()
        assert set(data) <= self.response_fields(op_id, expect), (
            op_id,
            set(data) - self.response_fields(op_id, expect),
        )
        return data

    def as_user(self, token: str) -> SchemaClient:
        other = SchemaClient(self.client, self.schema)
        other.token = token
        return other


def test_a_schema_only_client_sends_a_gift_end_to_end(django_capture_on_commit_callbacks):
    sku = SkuFactory(stock=10, price_fen=3900, original_price_fen=4900)
    ShopStaffFactory(shop=sku.product.shop, user=UserFactory(username="shopkeeper"))
    anon = APIClient()
    served = anon.get("/api/v1/schema/", {"format": "json"})
    assert served.status_code == 200
    api = SchemaClient(anon, served.json())

    sender = api.as_user(
        api.call("auth_register_create", expect=201, body={"username": "dora", "password": "a-long-passphrase"})[
            "token"
        ]
    )
    friend = api.as_user(
        api.call("auth_register_create", expect=201, body={"username": "eddie", "password": "another-passphrase"})[
            "token"
        ]
    )
    merchant = api.as_user(
        api.call("auth_token_create", expect=200, body={"username": "shopkeeper", "password": "giftshop-demo"})["token"]
    )

    products = sender.call("products_list", expect=200)["results"]
    giftable = next(p for p in products if p["gifting"]["eligible"])
    product = sender.call("products_retrieve", expect=200, id=giftable["id"])
    chosen = product["skus"][0]

    with django_capture_on_commit_callbacks(execute=True):
        gift = sender.call(
            "gifts_create",
            expect=201,
            body={"sku_id": chosen["id"], "mode": "single", "recipients": 1, "message": "生日快乐"},
        )
    assert gift["status"] == "pending_payment" and gift["amount_fen"] == chosen["price_fen"]

    with django_capture_on_commit_callbacks(execute=True):
        paid = anon.post(f"/sandbox/pay/{gift['payment']['out_trade_no']}/", HTTP_ACCEPT="application/json")
    assert paid.status_code == 200

    detail = sender.call("gifts_retrieve", expect=200, id=gift["id"])
    assert detail["status"] == "sent"
    token = detail["claim_url"].rstrip("/").rsplit("/", 1)[-1]

    card = friend.call("claims_retrieve", expect=200, token=token)
    assert card["sender"] == "dora" and card["message"] == "生日快乐"
    with django_capture_on_commit_callbacks(execute=True):
        friend.call("claims_accept_create", expect=202, token=token, body={"address": ADDRESS})

    orders = merchant.call("merchant_orders_list", expect=200, query={"status": "to_ship"})["results"]
    assert [(o["gift_id"], o["address"]["phone"]) for o in orders] == [(gift["id"], ADDRESS["phone"])]
    assert sender.call("gifts_retrieve", expect=200, id=gift["id"])["slots"][0]["status"] == "to_ship"

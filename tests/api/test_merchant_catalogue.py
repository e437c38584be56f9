"""Merchant catalogue over the API (their products, SKU stock) and the account's notification inbox."""

from __future__ import annotations

import pytest

from giftshop.errors import AppError
from shops.services import sku_set_stock
from tests.conftest import api_for
from tests.factories import SkuFactory

pytestmark = pytest.mark.django_db


def test_merchant_lists_own_products_with_skus_including_those_off_sale(merchant, sku):
    off_sale = SkuFactory(product__shop=sku.product.shop, product__on_sale=False, stock=3)
    SkuFactory()  # another shop's product
    r = api_for(merchant).get("/api/v1/merchant/products/")
    assert r.status_code == 200
    rows = {p["id"]: p for p in r.data["results"]}
    assert set(rows) == {sku.product_id, off_sale.product_id}
    assert rows[off_sale.product_id]["on_sale"] is False
    assert rows[sku.product_id]["skus"][0] == {**rows[sku.product_id]["skus"][0], "id": sku.pk, "stock": 100}


def test_merchant_sets_the_stock_of_a_sku_of_their_shop(merchant, sku):
    r = api_for(merchant).patch(f"/api/v1/merchant/skus/{sku.pk}/", {"stock": 0}, format="json")
    assert r.status_code == 200 and r.data["stock"] == 0
    sku.refresh_from_db()
    assert sku.stock == 0
    product = api_for(merchant).get(f"/api/v1/products/{sku.product_id}/").data
    assert product["gifting"] == {"eligible": False, "reasons": ["out_of_stock"]}


def test_merchant_cannot_set_another_shops_stock(merchant):
    elsewhere = SkuFactory(stock=5)
    r = api_for(merchant).patch(f"/api/v1/merchant/skus/{elsewhere.pk}/", {"stock": 99}, format="json")
    assert r.status_code == 404 and r.data["code"] == "not_found"
    elsewhere.refresh_from_db()
    assert elsewhere.stock == 5


def test_stock_service_refuses_a_negative_count(sku):
    with pytest.raises(AppError) as exc:
        sku_set_stock(sku=sku, stock=-1)
    assert exc.value.code == "invalid"
    sku.refresh_from_db()
    assert sku.stock == 100


def test_inbox_lists_newest_first_and_marks_one_or_all_read(make_gift, sender, other):
    make_gift()
    make_gift()
    alice = api_for(sender)
    notes = alice.get("/api/v1/notifications/").data["results"]
    assert len(notes) >= 2 and [n["id"] for n in notes] == sorted((n["id"] for n in notes), reverse=True)
    assert all(n["read_at"] is None for n in notes)

    assert api_for(other).post("/api/v1/notifications/read/", {"id": notes[0]["id"]}, format="json").data == {
        "marked": 0
    }
    assert alice.post("/api/v1/notifications/read/", {"id": notes[0]["id"]}, format="json").data == {"marked": 1}
    after = {n["id"]: n["read_at"] for n in alice.get("/api/v1/notifications/").data["results"]}
    assert after[notes[0]["id"]] is not None and after[notes[1]["id"]] is None

    assert alice.post("/api/v1/notifications/read/", {}, format="json").data["marked"] == len(notes) - 1
    assert all(n["read_at"] for n in alice.get("/api/v1/notifications/").data["results"])

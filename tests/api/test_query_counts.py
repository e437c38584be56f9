"""List endpoints run a fixed number of queries, however many rows the page holds."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gifts.services.claim import AddressInput, slot_accept
from tests.conftest import ADDRESS, api_for
from tests.factories import SkuFactory, UserFactory

pytestmark = pytest.mark.django_db


def _queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path).status_code == 200
    return len(ctx.captured_queries)


def _add_rows(django_capture_on_commit_callbacks, make_gift, sku, recipient):
    SkuFactory(product__shop=sku.product.shop)
    gift = make_gift(mode="group", recipients=2)
    with django_capture_on_commit_callbacks(execute=True):
        slot_accept(gift=gift, user=recipient, address=AddressInput.from_dict(ADDRESS))
        slot_accept(gift=gift, user=UserFactory(), address=AddressInput.from_dict(ADDRESS))


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("anonymous", "/api/v1/products/"),
        ("sender", "/api/v1/gifts/"),
        ("recipient", "/api/v1/received/"),
        ("sender", "/api/v1/notifications/"),
        ("merchant", "/api/v1/merchant/orders/"),
        ("merchant", "/api/v1/merchant/products/"),
    ],
)
def test_list_query_count_does_not_grow_with_rows(
    django_capture_on_commit_callbacks, make_gift, sku, sender, recipient, merchant, who, path
):
    from rest_framework.test import APIClient

    client = (
        APIClient()
        if who == "anonymous"
        else api_for({"sender": sender, "recipient": recipient, "merchant": merchant}[who])
    )
    _add_rows(django_capture_on_commit_callbacks, make_gift, sku, recipient)
    few = _queries(client, path)
    for _ in range(3):
        _add_rows(django_capture_on_commit_callbacks, make_gift, sku, recipient)
    assert _queries(client, path) == few

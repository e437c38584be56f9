"""Cursor pagination on the sender's gifts and the merchant's orders: rows inserted between page loads
never make a page repeat or skip a row."""

from __future__ import annotations

import pytest

from gifts.models import Slot
from tests.conftest import ADDRESS, api_for

pytestmark = pytest.mark.django_db


def _walk(client, path: str, *, page_size: int, between_pages=None, **filters) -> list[int]:
    """Follow `next` links to the end; the first request carries the filters and the page size."""
    seen: list[int] = []
    url, params = path, {"page_size": page_size, **filters}
    while url:
        r = client.get(url, params)
        assert r.status_code == 200, r.content
        seen += [row["id"] for row in r.data["results"]]
        url, params = r.data["next"], None
        if between_pages is not None and url:
            between_pages()
    return seen


def test_sender_gift_pages_neither_repeat_nor_skip_when_gifts_are_added_meanwhile(make_gift, sender):
    before = [make_gift(paid=False).pk for _ in range(7)]
    added = []
    seen = _walk(
        api_for(sender), "/api/v1/gifts/", page_size=3, between_pages=lambda: added.append(make_gift(paid=False).pk)
    )
    assert added, "rows were inserted between page loads"
    assert seen == sorted(before, reverse=True)
    assert len(seen) == len(set(seen))


def test_merchant_order_pages_neither_repeat_nor_skip_when_orders_arrive_meanwhile(
    django_capture_on_commit_callbacks, make_gift, recipient, merchant
):
    from gifts.services.claim import AddressInput, slot_accept

    def new_order() -> int:
        gift = make_gift(mode="group", recipients=2)
        with django_capture_on_commit_callbacks(execute=True):
            return slot_accept(gift=gift, user=recipient, address=AddressInput.from_dict(ADDRESS)).pk

    gift = make_gift(mode="group", recipients=8)
    existing = sorted(Slot.objects.filter(gift=gift).values_list("pk", flat=True), reverse=True)
    added = []
    seen = _walk(
        api_for(merchant), "/api/v1/merchant/orders/", page_size=3, between_pages=lambda: added.append(new_order())
    )
    assert added
    assert seen == existing
    first_page = api_for(merchant).get("/api/v1/merchant/orders/", {"page_size": 100}).data["results"]
    assert set(added) <= {o["id"] for o in first_page[: len(added) * 2]}


def test_merchant_order_pages_keep_the_status_filter(
    django_capture_on_commit_callbacks, make_gift, recipient, other, merchant
):
    from gifts.services.claim import AddressInput, slot_accept

    gift = make_gift(mode="group", recipients=6)
    with django_capture_on_commit_callbacks(execute=True):
        accepted = [
            slot_accept(gift=gift, user=u, address=AddressInput.from_dict(ADDRESS)).pk for u in (recipient, other)
        ]
    seen = _walk(api_for(merchant), "/api/v1/merchant/orders/", page_size=1, status="to_ship")
    assert seen == sorted(accepted, reverse=True)


def test_page_size_query_parameter_is_honoured(make_gift, sender):
    for _ in range(3):
        make_gift(paid=False)
    r = api_for(sender).get("/api/v1/gifts/", {"page_size": 2})
    assert r.status_code == 200 and len(r.data["results"]) == 2 and r.data["next"]

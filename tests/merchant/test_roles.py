"""Staff roles, each role × each merchant action through the API (shops/permissions.py is the one
place they are decided): a shipper ships; owners and managers also refund, answer after-sales,
change prices and stock, and change the shop's settings. A refused action changes nothing."""

import pytest

from aftersales.services import after_sales_open
from gifts.models import Slot
from gifts.services.claim import AddressInput, slot_accept
from payments.models import Refund
from shops.models import Shop, Sku
from tests.conftest import ADDRESS, api_for
from tests.factories import ShopStaffFactory, UserFactory

pytestmark = pytest.mark.django_db

ALLOWED = {
    "owner": {"gifting", "stock", "refund", "after_sales"},
    "manager": {"gifting", "stock", "refund", "after_sales"},
    "shipper": set(),
}


@pytest.fixture
def shop_parcels(make_gift, sku, django_capture_on_commit_callbacks):
    """Two to-ship parcels of the shop: one for a direct refund, one with an after-sales request."""
    gift = make_gift(mode="group", recipients=2)
    people = UserFactory.create_batch(2)
    with django_capture_on_commit_callbacks(execute=True):
        for person in people:
            slot_accept(gift=gift, user=person, address=AddressInput.from_dict(ADDRESS))
    slots = list(Slot.objects.filter(gift=gift).order_by("number"))
    request = after_sales_open(slot_id=slots[1].pk, user=slots[1].recipient, kind="refund_only", reason="other")
    return slots[0], request


@pytest.mark.parametrize("role", ["owner", "manager", "shipper"])
def test_each_role_may_do_exactly_its_actions(role, sku, shop_parcels, django_capture_on_commit_callbacks):
    shop = sku.product.shop
    member = ShopStaffFactory(shop=shop, user=UserFactory(username=f"staff-{role}"), role=role).user
    client = api_for(member)
    parcel, request = shop_parcels
    stock_before = Sku.objects.get(pk=sku.pk).stock
    with django_capture_on_commit_callbacks(execute=True):
        answers = {
            "gifting": client.post(f"/api/v1/merchant/shops/{shop.pk}/gifting/", {"gifting_enabled": False}),
            "refund": client.post(f"/api/v1/merchant/orders/{parcel.pk}/refund/", {"reason": "缺货"}),
            "after_sales": client.post(f"/api/v1/merchant/after-sales/{request.pk}/approve/"),
            # last: the refunds above return their units to stock
            "stock": client.patch(f"/api/v1/merchant/skus/{sku.pk}/", {"stock": 7}, format="json"),
        }
    for action, answer in answers.items():
        if action in ALLOWED[role]:
            assert answer.status_code in (200, 202), (role, action, answer.content)
        else:
            assert (answer.status_code, answer.json()["code"]) == (403, "role_not_allowed"), (role, action)
    allowed = ALLOWED[role]
    assert Shop.objects.get(pk=shop.pk).gifting_enabled is ("gifting" not in allowed)
    assert Sku.objects.get(pk=sku.pk).stock == (7 if "stock" in allowed else stock_before)
    assert Refund.objects.filter(slot=parcel).exists() is ("refund" in allowed)
    request.refresh_from_db()
    assert (request.status != "requested") is ("after_sales" in allowed)


def test_the_order_page_shows_local_times_and_no_none(client, sku, shop_parcels):
    parcel, _request = shop_parcels
    owner = ShopStaffFactory(shop=sku.product.shop, user=UserFactory(username="order-owner"), role="owner").user
    client.force_login(owner)
    body = client.get(f"/merchant/gifts/slot/{parcel.pk}/change/").content.decode()
    assert "None" not in body and "+00:00" not in body
    from django.utils import timezone

    assert timezone.localtime(Slot.objects.get(pk=parcel.pk).accepted_at).strftime("%Y-%m-%d %H:%M") in body

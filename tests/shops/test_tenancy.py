"""Merchant staff of shop A reach nothing of shop B: not by list, search, URL, form choice or API."""

import pytest

from shops.models import Product, Shop
from tests.factories import ProductFactory, ShopFactory, ShopStaffFactory, SkuFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_shops(client):
    shop_a, shop_b = ShopFactory(name="Shop A"), ShopFactory(name="Shop B")
    staff_a = ShopStaffFactory(shop=shop_a, user=UserFactory(username="staff_a")).user
    product_a = ProductFactory(shop=shop_a, title="Apple of A")
    product_b = ProductFactory(shop=shop_b, title="Banana of B")
    sku_b = SkuFactory(product=product_b)
    client.force_login(staff_a)
    return shop_a, shop_b, product_a, product_b, sku_b


def test_staff_list_shows_only_their_shop(client, two_shops):
    _, _, _, _, _ = two_shops
    body = client.get("/merchant/shops/product/").content.decode()
    assert "Apple of A" in body and "Banana of B" not in body
    search = client.get("/merchant/shops/product/?q=Banana").content.decode()
    assert "Banana of B" not in search


@pytest.mark.parametrize(
    "path",
    [
        "/merchant/shops/product/{product_b}/change/",
        "/merchant/shops/sku/{sku_b}/change/",
        "/merchant/shops/shop/{shop_b}/change/",
        "/merchant/shops/product/{product_b}/history/",
    ],
)
def test_staff_get_404_for_another_shops_objects_by_url(client, two_shops, path):
    _, shop_b, _, product_b, sku_b = two_shops
    url = path.format(product_b=product_b.pk, sku_b=sku_b.pk, shop_b=shop_b.pk)
    assert client.get(url).status_code == 404


def test_staff_cannot_post_a_change_to_another_shops_product(client, two_shops):
    _, _, _, product_b, _ = two_shops
    response = client.post(f"/merchant/shops/product/{product_b.pk}/change/", {"title": "hacked"})
    assert response.status_code == 404
    assert Product.objects.get(pk=product_b.pk).title == "Banana of B"


def test_add_form_offers_only_their_own_shop(client, two_shops):
    shop_a, shop_b, *_ = two_shops
    body = client.get("/merchant/shops/product/add/").content.decode()
    assert "Shop A" in body and "Shop B" not in body
    response = client.post(
        "/merchant/shops/product/add/",
        {
            "shop": shop_b.pk,
            "category": ProductFactory().category_id,
            "title": "planted",
            "on_sale": "on",
            "skus-TOTAL_FORMS": 0,
            "skus-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 200  # the form is redisplayed with an error
    assert not Product.objects.filter(title="planted").exists()


def test_staff_switch_gifting_only_for_their_shop(client, two_shops):
    shop_a, shop_b, *_ = two_shops
    response = client.post(
        f"/merchant/shops/shop/{shop_a.pk}/change/", {"name": "Shop A", "description": "", "gifting_enabled": ""}
    )
    assert response.status_code == 302
    assert Shop.objects.get(pk=shop_a.pk).gifting_enabled is False
    assert (
        client.post(f"/merchant/shops/shop/{shop_b.pk}/change/", {"name": "x", "gifting_enabled": ""}).status_code
        == 404
    )
    assert Shop.objects.get(pk=shop_b.pk).gifting_enabled is True


def test_autocomplete_does_not_leak_other_shops(client, two_shops):
    response = client.get(
        "/merchant/autocomplete/",
        {"app_label": "shops", "model_name": "product", "field_name": "product", "term": "Banana"},
    )
    assert response.status_code in (403, 404)


def test_a_user_without_a_shop_cannot_enter_the_merchant_site(client):
    client.force_login(UserFactory(username="nobody"))
    response = client.get("/merchant/")
    assert response.status_code == 302 and "/merchant/login/" in response["Location"]


def test_the_operator_admin_is_closed_to_merchant_staff(client, two_shops):
    assert client.get("/admin/shops/product/").status_code == 302


def test_api_gifting_switch_refuses_another_shop(two_shops):
    from tests.conftest import api_for

    shop_a, shop_b, *_ = two_shops
    staff = UserFactory(username="staff_a")
    client = api_for(staff)
    assert (
        client.post(
            f"/api/v1/merchant/shops/{shop_b.pk}/gifting/", {"gifting_enabled": False}, format="json"
        ).status_code
        == 404
    )
    ok = client.post(f"/api/v1/merchant/shops/{shop_a.pk}/gifting/", {"gifting_enabled": False}, format="json")
    assert ok.status_code == 200 and ok.data["gifting_enabled"] is False
    assert [s["id"] for s in client.get("/api/v1/merchant/shops/").data["results"]] == [shop_a.pk]

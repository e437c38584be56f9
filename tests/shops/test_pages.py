import pytest
from django.core.management import call_command

from shops.models import Product
from tests.factories import ProductFactory, SkuFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(db):
    call_command("load_demo", verbosity=0)


def test_demo_product_page_shows_the_badge_and_the_send_button(client, demo):
    product = Product.objects.get(title="羊绒围巾")
    body = client.get(f"/products/{product.pk}/").content.decode()
    assert "支持送礼物" in body and "送给朋友" in body


@pytest.mark.parametrize(
    "title, reason",
    [
        ("925 银戒指", "该类目商品不支持送礼物"),
        ("摄影入门 30 讲", "该类目商品不支持送礼物"),
    ],
)
def test_excluded_products_say_why_and_offer_no_send_button(client, demo, title, reason):
    product = Product.objects.get(title=title)
    body = client.get(f"/products/{product.pk}/").content.decode()
    assert reason in body and 'data-test="send-to-friend"' not in body
    assert body.count(reason) == 1  # said once above the table, not again on every style's row
    assert 'data-test="other-gifts"' in body  # and a way on, not a dead end


def test_a_sku_over_the_price_limit_is_marked_but_the_product_stays_giftable(client, demo):
    product = Product.objects.get(title="专业无反相机")
    body = client.get(f"/products/{product.pk}/").content.decode()
    assert "原价超过 ¥10,000 的款式不支持送礼物" in body and 'data-test="send-to-friend"' in body


def test_shop_switch_off_hides_the_button_and_says_so(client, demo):
    product = Product.objects.get(title="羊绒围巾")
    product.shop.gifting_enabled = False
    product.shop.save()
    body = client.get(f"/products/{product.pk}/").content.decode()
    assert "本店已关闭送礼物功能" in body and 'data-test="send-to-friend"' not in body


def test_unknown_product_is_a_404_page(client, demo):
    assert client.get("/products/999999/").status_code == 404


def test_api_product_detail_matches_the_contract(client, demo):
    product = Product.objects.get(title="925 银戒指")
    data = client.get(f"/api/v1/products/{product.pk}/").json()
    assert data["gifting"] == {"eligible": False, "reasons": ["category_excluded"]}
    assert set(data["skus"][0]) >= {"id", "attributes", "price_fen", "original_price_fen", "stock"}


def test_home_and_product_pages_cost_constant_queries(client, django_assert_max_num_queries):
    for _ in range(3):
        SkuFactory(product=ProductFactory())
    with django_assert_max_num_queries(8):
        client.get("/")
    for _ in range(20):
        SkuFactory(product=ProductFactory())
    with django_assert_max_num_queries(8):
        client.get("/")
    product = ProductFactory()
    for _ in range(10):
        SkuFactory(product=product)
    with django_assert_max_num_queries(6):
        client.get(f"/products/{product.pk}/")


def test_a_tile_says_from_the_cheapest_skus_price(db):
    from django.test import Client

    from tests.factories import SkuFactory

    dear = SkuFactory(price_fen=39900, original_price_fen=45900, stock=5)
    SkuFactory(product=dear.product, price_fen=36900, original_price_fen=45900, stock=5, attributes={"颜色": "酒红"})
    page = Client().get("/").content.decode()
    assert "¥369.00 起" in page and "¥399.00 起" not in page


def test_favicon_is_the_site_s_icon(client):
    """Browsers ask for /favicon.ico on every page, whatever the page's icon link says: not a 404."""
    r = client.get("/favicon.ico")
    assert r.status_code == 302 and r["Location"].endswith("/img/gift-icon.svg")  # not for good: icons change

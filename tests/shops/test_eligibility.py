import pytest

from shops import eligibility as E
from shops.eligibility import product_eligibility, sku_eligibility
from shops.models import Category
from shops.selectors import product_get
from tests.factories import CategoryFactory, ProductFactory, SkuFactory

pytestmark = pytest.mark.django_db


def _product(**kwargs):
    return product_get(product_id=ProductFactory(**kwargs).pk)


def test_an_ordinary_product_with_stock_is_eligible():
    sku = SkuFactory()
    result = product_eligibility(product_get(product_id=sku.product_id))
    assert result.eligible and result.reasons == []


def test_shop_switched_off_makes_every_product_ineligible():
    sku = SkuFactory()
    shop = sku.product.shop
    shop.gifting_enabled = False
    shop.save()
    result = product_eligibility(product_get(product_id=sku.product_id))
    assert not result.eligible and result.reasons == [E.SHOP_GIFTING_OFF]


def test_a_product_under_an_excluded_top_level_category_is_ineligible_at_any_depth():
    root = CategoryFactory(name="珠宝首饰", gifting_excluded=True)
    mid = CategoryFactory(name="戒指", parent=root)
    leaf = CategoryFactory(name="银戒", parent=mid)
    sku = SkuFactory(product=ProductFactory(category=leaf))
    result = product_eligibility(product_get(product_id=sku.product_id))
    assert result.reasons == [E.CATEGORY_EXCLUDED]


def test_exclusion_is_data_an_operator_can_change():
    root = CategoryFactory(name="教育培训", gifting_excluded=True)
    sku = SkuFactory(product=ProductFactory(category=CategoryFactory(parent=root)))
    assert not product_eligibility(product_get(product_id=sku.product_id)).eligible
    Category.objects.filter(pk=root.pk).update(gifting_excluded=False)
    assert product_eligibility(product_get(product_id=sku.product_id)).eligible


def test_only_the_top_level_flag_counts():
    root = CategoryFactory(name="食品")
    child = CategoryFactory(name="茶", parent=root, gifting_excluded=True)
    sku = SkuFactory(product=ProductFactory(category=child))
    assert product_eligibility(product_get(product_id=sku.product_id)).eligible


def test_original_price_over_ten_thousand_yuan_is_ineligible_but_exactly_ten_thousand_is_fine():
    over = SkuFactory(original_price_fen=1_000_001, price_fen=900_000)
    edge = SkuFactory(original_price_fen=1_000_000, price_fen=900_000)
    assert sku_eligibility(over).reasons == [E.PRICE_OVER_LIMIT]
    assert sku_eligibility(edge).eligible


def test_product_is_eligible_when_at_least_one_sku_is():
    product = ProductFactory()
    SkuFactory(product=product, original_price_fen=2_000_000, price_fen=1_500_000)
    SkuFactory(product=product, original_price_fen=5000, price_fen=4000)
    assert product_eligibility(product_get(product_id=product.pk)).eligible


def test_product_whose_every_sku_fails_lists_each_reason():
    product = ProductFactory()
    SkuFactory(product=product, original_price_fen=2_000_000, price_fen=1_500_000)
    SkuFactory(product=product, stock=0)
    result = product_eligibility(product_get(product_id=product.pk))
    assert result.reasons == [E.PRICE_OVER_LIMIT, E.OUT_OF_STOCK]


def test_off_sale_and_out_of_stock():
    product = ProductFactory(on_sale=False)
    SkuFactory(product=product, stock=0)
    result = product_eligibility(product_get(product_id=product.pk))
    assert result.reasons == [E.NOT_ON_SALE, E.OUT_OF_STOCK]


def test_a_product_without_skus_is_out_of_stock():
    assert product_eligibility(_product()).reasons == [E.OUT_OF_STOCK]


def test_sku_eligibility_counts_the_quantity_asked_for():
    sku = SkuFactory(stock=3)
    assert sku_eligibility(sku, quantity=3).eligible
    assert sku_eligibility(sku, quantity=4).reasons == [E.OUT_OF_STOCK]

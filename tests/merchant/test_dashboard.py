import pytest
from django.utils import timezone

from gifts.services.claim import slot_accept
from merchant.dashboard import dashboard_figures
from merchant.models import ShopDailyStats
from merchant.stats import stats_rollup_day
from tests.factories import ShopStaffFactory, SkuFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_rollup_counts_a_days_gifts_acceptances_and_revenue(
    make_gift, sku, recipient, address, django_capture_on_commit_callbacks
):
    first = make_gift(message="a")
    make_gift(message="b")
    make_gift(mode="group", recipients=3)
    with django_capture_on_commit_callbacks(execute=True):
        slot_accept(gift=first, user=recipient, address=address)
    other_shop_sku = SkuFactory()
    make_gift(sku_id=other_shop_sku.pk)

    today = timezone.localdate()
    assert stats_rollup_day(day=today) == 2
    assert stats_rollup_day(day=today) == 2  # idempotent
    row = ShopDailyStats.objects.get(shop=sku.product.shop, day=today)
    assert (row.gifts_paid, row.slots_sent, row.slots_accepted) == (3, 5, 1)
    assert row.revenue_fen == sku.price_fen * 5
    assert row.median_accept_seconds is not None and row.median_accept_seconds >= 0

    figures = dashboard_figures(shop_ids=[sku.product.shop_id])
    assert figures["totals"]["gifts_paid"] == 3
    assert figures["totals"]["acceptance_rate"] == pytest.approx(1 / 5)
    assert figures["top_products"][0]["units"] == 5
    assert figures["days"][-1]["gifts_paid"] == 3 and len(figures["days"]) == 30


def test_dashboard_page_shows_only_the_merchants_shop_in_constant_queries(
    client, make_gift, sku, django_assert_max_num_queries
):
    staff = ShopStaffFactory(shop=sku.product.shop, user=UserFactory(username="shopkeeper")).user
    for _ in range(3):
        make_gift()
    make_gift(sku_id=SkuFactory(product__title="Elsewhere").pk)
    stats_rollup_day(day=timezone.localdate())
    client.force_login(staff)
    with django_assert_max_num_queries(12):
        body = client.get("/merchant/dashboard/").content.decode()
    assert "送礼数据" in body and "<svg" in body
    assert sku.product.title in body and "Elsewhere" not in body


def test_dashboard_is_closed_to_non_staff(client):
    client.force_login(UserFactory(username="passerby"))
    assert client.get("/merchant/dashboard/").status_code == 302


def test_an_empty_chart_says_so_instead_of_a_peak_of_one(client, sku):
    """A shop with no figures yet: each chart says there is nothing in its period, not 峰值 1."""
    staff = ShopStaffFactory(shop=sku.product.shop, user=UserFactory(username="newshop")).user
    client.force_login(staff)
    body = client.get("/merchant/dashboard/").content.decode()
    assert "这段时间还没有" in body and "峰值 1" not in body

"""`make run`'s demo data: what a merchant sees first looks finished."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import Sum
from django.utils import timezone

from merchant.models import ShopDailyStats
from shops.models import Shop


@pytest.mark.django_db(transaction=True)
def test_demo_shops_ship_from_an_address_and_the_dashboard_has_today_at_once():
    call_command("load_demo", verbosity=0)
    shops = list(Shop.objects.all())
    assert shops
    for shop in shops:  # printed as the sender on every e-waybill
        assert shop.ship_from_name and shop.ship_from_phone and shop.ship_from_address, shop.slug
    today = ShopDailyStats.objects.filter(day=timezone.localdate())
    assert (
        today.aggregate(paid=Sum("gifts_paid"))["paid"] >= 2
    )  # the demo's lottery and bulk gift, before beat's first roll-up

    Shop.objects.update(ship_from_address="自己填的地址", ship_from_phone="")
    call_command("load_demo", verbosity=0)  # run again (every `make run`): a merchant's own entries stay
    assert set(Shop.objects.values_list("ship_from_address", flat=True)) == {"自己填的地址"}
    assert all(Shop.objects.values_list("ship_from_phone", flat=True))  # only the blank one filled in


@pytest.mark.django_db
def test_production_settings_refuse_the_demo_accounts_but_on_a_declared_staging_site(settings):
    settings.PRODUCTION = True
    settings.ALLOW_SANDBOX = False
    with pytest.raises(CommandError, match="production settings refuse"):
        call_command("load_demo", "--staging", verbosity=0)
    settings.ALLOW_SANDBOX = True
    with pytest.raises(CommandError, match="--staging"):
        call_command("load_demo", verbosity=0)
    assert not get_user_model().objects.filter(username__in=["admin", "alice", "merchant"]).exists()

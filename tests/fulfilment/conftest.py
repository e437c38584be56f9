"""Fixtures for the Kuaidi100 tests: the local double, configured as this site's courier, and a
to-ship parcel of a shop that ships with 顺丰 from its own warehouse."""

import pytest

from gifts.models import Slot, SlotStatus
from gifts.services.claim import AddressInput, slot_accept, slot_hand_over
from tests.conftest import ADDRESS
from tests.factories import UserFactory
from tests.fulfilment.kuaidi100_double import Kuaidi100Double


@pytest.fixture
def k100(settings):
    double = Kuaidi100Double().start()
    for name, value in double.settings().items():
        setattr(settings, name, value)
    settings.CARRIER_PROVIDER = "kuaidi100"
    settings.SITE_URL = "https://gifts.example.com"
    yield double
    double.stop()


@pytest.fixture
def shop(sku):
    shop = sku.product.shop
    shop.courier_company = "shunfeng"
    shop.ship_from_name = "礼物仓"
    shop.ship_from_phone = "075512345678"
    shop.ship_from_address = "广东省深圳市宝安区仓库路 1 号"
    shop.save()
    return shop


@pytest.fixture
def to_ship(make_gift, shop, django_capture_on_commit_callbacks):
    """A paid gift accepted with an address and handed over: a to-ship slot whose dispatch job is
    recorded, not run (the tests call the dispatch service themselves)."""
    gift = make_gift()
    with django_capture_on_commit_callbacks(execute=False):
        slot_accept(gift=gift, user=UserFactory(), address=AddressInput.from_dict(ADDRESS))
        slot_hand_over(slot_id=Slot.objects.get(gift=gift).pk)
    slot = Slot.objects.get(gift=gift)
    assert slot.status == SlotStatus.TO_SHIP
    return slot

import pytest
from rest_framework.test import APIClient

from gifts.services.checkout import gift_create
from gifts.services.claim import AddressInput
from tests.factories import ShopStaffFactory, SkuFactory, UserFactory

ADDRESS = {
    "name": "张三",
    "phone": "13812345678",
    "province": "广东省",
    "city": "深圳市",
    "district": "南山区",
    "detail": "科技园南路 88 号 3 栋 1201",
}


@pytest.fixture
def address() -> AddressInput:
    return AddressInput.from_dict(ADDRESS)


@pytest.fixture
def sender(db):
    return UserFactory(username="alice")


@pytest.fixture
def recipient(db):
    return UserFactory(username="bob")


@pytest.fixture
def other(db):
    return UserFactory(username="carol")


@pytest.fixture
def sku(db):
    return SkuFactory(stock=100, price_fen=9900, original_price_fen=12900)


@pytest.fixture
def merchant(db, sku):
    return ShopStaffFactory(shop=sku.product.shop, user=UserFactory(username="merchant")).user


@pytest.fixture
def media(settings, tmp_path):
    """Uploaded files (product photos and their sizes) in this test's own folder."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def api():
    return APIClient()


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def pay(gift):
    """Pay through the sandbox gateway's cashier button: signed notification delivered in-process."""
    from sandbox.payment import gateway_pay

    gateway_pay(out_trade_no=gift.payment.out_trade_no)
    gift.refresh_from_db()
    return gift


@pytest.fixture
def make_gift(db, django_capture_on_commit_callbacks, sender, sku):
    """Create and (by default) pay a gift, running on-commit work as production would."""

    def _make(paid: bool = True, **kwargs):
        kwargs.setdefault("sku_id", sku.pk)
        with django_capture_on_commit_callbacks(execute=True):
            gift = gift_create(sender=kwargs.pop("sender", sender), **kwargs)
        if paid:
            with django_capture_on_commit_callbacks(execute=True):
                pay(gift)
        gift.refresh_from_db()
        return gift

    return _make


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate limits and phone-code limits live in the cache: each test starts with none counted."""
    from django.core.cache import caches

    from giftshop.throttling import limits_reset

    for alias in caches:
        caches[alias].clear()
    limits_reset()
    yield
    for alias in caches:
        caches[alias].clear()
    limits_reset()


@pytest.fixture
def sms():
    """The messages the test SMS provider was handed (giftshop.sms.LogSms keeps them in memory)."""
    from giftshop.sms import LogSms

    LogSms.outbox.clear()
    yield LogSms.outbox
    LogSms.outbox.clear()


def last_code(outbox, phone: str) -> str:
    """The code in the newest login-code SMS to `phone` (what the recipient reads on their phone)."""
    for message in reversed(outbox):
        if message["phone"] == phone and message.get("template") == "login_code":
            return message["params"]["code"]
    raise AssertionError(f"no code sent to {phone}")

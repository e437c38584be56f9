"""Send-to-friend checkout at the service level, on PostgreSQL, including a real-thread stock race."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.utils import translation

from gifts.models import Gift, GiftEvent, Slot
from gifts.services.checkout import gift_create
from giftshop.errors import AppError
from payments.models import Payment
from sandbox.models import SandboxPayOrder
from shops.models import Sku
from tests.factories import CategoryFactory, ProductFactory, SkuFactory, UserFactory


def _refusal(**kwargs) -> AppError:
    with pytest.raises(AppError) as info:
        gift_create(**kwargs)
    return info.value


def _nothing_created():
    assert Gift.objects.count() == 0
    assert Slot.objects.count() == 0
    assert Payment.objects.count() == 0
    assert SandboxPayOrder.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_orders_for_the_last_five_units_sell_exactly_five():
    sku = SkuFactory(stock=5, price_fen=1000, original_price_fen=1200)
    senders = [UserFactory(username=f"buyer{i}") for i in range(20)]
    start = threading.Barrier(len(senders))

    def order(user):
        start.wait()
        try:
            gift_create(sender=user, sku_id=sku.pk)
            return "ok"
        except AppError as exc:
            return exc.code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(senders)) as pool:
        outcomes = list(pool.map(order, senders))

    assert outcomes.count("ok") == 5
    assert outcomes.count("out_of_stock") == 15
    assert Sku.objects.get(pk=sku.pk).stock == 0
    assert Gift.objects.count() == 5 and Slot.objects.count() == 5 and Payment.objects.count() == 5


@pytest.mark.django_db
def test_an_order_for_more_units_than_in_stock_is_out_of_stock_and_takes_nothing(sender):
    sku = SkuFactory(stock=3)
    with translation.override("zh-hans"):
        err = _refusal(sender=sender, sku_id=sku.pk, mode="group", recipients=2, quantity=2)
    assert err.code == "out_of_stock"
    assert "还剩 3 件" in err.detail and "要 4 件" in err.detail  # what is left, so the sender can fit it
    assert Sku.objects.get(pk=sku.pk).stock == 3
    _nothing_created()


@pytest.mark.django_db
def test_amount_is_integer_fen_price_times_quantity_times_recipients(sender):
    sku = SkuFactory(stock=100, price_fen=1999, original_price_fen=2999)
    gift = gift_create(sender=sender, sku_id=sku.pk, mode="group", recipients=4, quantity=3, message="  新年快乐 ")
    assert gift.amount_fen == 1999 * 3 * 4 and isinstance(gift.amount_fen, int)
    assert gift.unit_price_fen == 1999 and gift.slot_amount_fen == 1999 * 3
    assert gift.status == "pending_payment" and gift.message == "新年快乐"
    assert gift.payment.amount_fen == gift.amount_fen
    assert SandboxPayOrder.objects.get(out_trade_no=gift.payment.out_trade_no).amount_fen == gift.amount_fen
    assert sorted(gift.slots.values_list("number", flat=True)) == [1, 2, 3, 4]
    assert set(gift.slots.values_list("status", flat=True)) == {"unclaimed"}
    assert Sku.objects.get(pk=sku.pk).stock == 100 - 12
    assert GiftEvent.objects.filter(gift=gift, kind="created").count() == 1


@pytest.mark.django_db
def test_shop_with_gifting_off_is_not_eligible_and_nothing_is_created(sender):
    sku = SkuFactory(stock=10)
    sku.product.shop.gifting_enabled = False
    sku.product.shop.save()
    err = _refusal(sender=sender, sku_id=sku.pk)
    assert err.code == "not_eligible" and err.fields == {"reasons": ["shop_gifting_off"]}
    assert Sku.objects.get(pk=sku.pk).stock == 10
    _nothing_created()


@pytest.mark.django_db
def test_excluded_top_level_category_is_not_eligible_and_nothing_is_created(sender):
    root = CategoryFactory(name="珠宝首饰", gifting_excluded=True)
    sku = SkuFactory(stock=10, product=ProductFactory(category=CategoryFactory(name="戒指", parent=root)))
    err = _refusal(sender=sender, sku_id=sku.pk)
    assert err.code == "not_eligible" and err.fields == {"reasons": ["category_excluded"]}
    assert Sku.objects.get(pk=sku.pk).stock == 10
    _nothing_created()


@pytest.mark.django_db
def test_original_price_over_one_million_fen_is_not_eligible_and_nothing_is_created(sender):
    sku = SkuFactory(stock=10, original_price_fen=1_000_001, price_fen=990_000)
    err = _refusal(sender=sender, sku_id=sku.pk)
    assert err.code == "not_eligible" and err.fields == {"reasons": ["price_over_limit"]}
    _nothing_created()
    edge = SkuFactory(stock=10, original_price_fen=1_000_000, price_fen=990_000)
    assert gift_create(sender=sender, sku_id=edge.pk).amount_fen == 990_000


@pytest.mark.django_db
@pytest.mark.parametrize("quantity", [0, -1, 100])
def test_quantity_out_of_range_is_bad_quantity(sender, sku, quantity):
    err = _refusal(sender=sender, sku_id=sku.pk, quantity=quantity)
    assert err.code == "bad_quantity" and "quantity" in err.fields
    _nothing_created()


@pytest.mark.django_db
@pytest.mark.parametrize(("mode", "recipients"), [("single", 2), ("single", 0), ("group", 1), ("group", 501)])
def test_recipients_out_of_range_is_bad_recipients(sender, sku, mode, recipients):
    err = _refusal(sender=sender, sku_id=sku.pk, mode=mode, recipients=recipients)
    assert err.code == "bad_recipients" and "recipients" in err.fields
    _nothing_created()


@pytest.mark.django_db
def test_price_changed_since_the_page_is_refused_and_stock_is_unchanged(sender, sku):
    err = _refusal(sender=sender, sku_id=sku.pk, expected_price_fen=sku.price_fen - 100)
    assert err.code == "price_changed" and err.fields == {"price_fen": [str(sku.price_fen)]}
    assert Sku.objects.get(pk=sku.pk).stock == 100
    _nothing_created()
    assert gift_create(sender=sender, sku_id=sku.pk, expected_price_fen=sku.price_fen).amount_fen == sku.price_fen


@pytest.mark.django_db
def test_unknown_sku_is_not_found_404(sender):
    err = _refusal(sender=sender, sku_id=987654321)
    assert err.code == "not_found" and err.status_code == 404
    _nothing_created()


@pytest.mark.django_db
def test_named_recipient_unknown_is_refused(sender, sku):
    err = _refusal(sender=sender, sku_id=sku.pk, recipient_username="nobody-here")
    assert err.code == "unknown_recipient" and "recipient_username" in err.fields
    assert Sku.objects.get(pk=sku.pk).stock == 100
    _nothing_created()


@pytest.mark.django_db
def test_named_recipient_must_be_someone_else_and_single_only(sender, recipient, sku):
    assert _refusal(sender=sender, sku_id=sku.pk, recipient_username=sender.username).code == "cannot_gift_self"
    err = _refusal(sender=sender, sku_id=sku.pk, mode="group", recipients=2, recipient_username=recipient.username)
    assert err.code == "bad_recipients"
    _nothing_created()
    gift = gift_create(sender=sender, sku_id=sku.pk, recipient_username=recipient.username)
    assert gift.named_recipient == recipient


def test_the_checkout_page_offers_a_group_of_two_at_first(client, sender, sku):
    """Choosing 群发 shows a number of people the service accepts (2 or more), not 1, which paying
    would refuse ("群发礼物人数须在 2 到 … 之间")."""
    client.force_login(sender)
    html = client.get(f"/products/{sku.product_id}/gift/").content.decode()
    assert 'name="recipients" id="id_recipients" min="2" value="2"' in html


def test_a_quantity_of_none_says_so_in_the_page_s_words(client, sender, sku):
    client.force_login(sender)
    page = client.post(f"/products/{sku.product_id}/gift/", {"sku_id": sku.pk, "mode": "single", "quantity": 0})
    html = page.content.decode()
    assert "每人至少 1 件" in html and "确保该值" not in html

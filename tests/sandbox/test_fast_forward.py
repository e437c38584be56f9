"""Fast-forward in the operator admin (sandbox/admin.py, sandbox/fast_forward.py): each button runs
the clock's own service for one gift; a gift in the wrong state gets a message and stays as it was."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import LotteryDraw
from campaigns.services.lottery import lottery_create, lottery_enter
from fulfilment.models import Shipment
from fulfilment.services.shipments import shipment_drive
from gifts.models import Gift, Slot
from gifts.services.claim import AddressInput, slot_accept
from giftshop.errors import AppError
from payments.models import Refund
from shops.models import Sku
from tests.conftest import ADDRESS, pay
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _press(admin_client, gift, step):
    url = reverse("admin:gifts_gift_fast_forward", args=[gift.pk])
    response = admin_client.post(url, {"step": step}, follow=True)
    assert response.status_code == 200
    return [str(m) for m in response.context["messages"]]


def test_expire_now_expires_and_refunds_a_sent_gift_through_the_sweep(admin_client, make_gift, sku, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    gift = make_gift(mode="single")
    stock = Sku.objects.get(pk=sku.pk).stock
    page = admin_client.get(reverse("admin:gifts_gift_change", args=[gift.pk])).content.decode()
    assert 'data-test="fast-forward"' in page and 'value="draw"' not in page  # no draw for a single gift

    messages = _press(admin_client, gift, "expire")

    gift.refresh_from_db()
    assert gift.status == "expired" and "已过期" in messages[0]
    assert Slot.objects.get(gift=gift).status in ("expired", "refunded")
    assert Refund.objects.filter(payment__gift=gift, reason="expired", amount_fen=gift.amount_fen).count() == 1
    assert Sku.objects.get(pk=sku.pk).stock == stock + 1
    # Twice: nothing left to expire, said so, nothing changed.
    again = _press(admin_client, gift, "expire")
    assert "没有待领取" in again[0]
    assert Refund.objects.filter(payment__gift=gift).count() == 1


def test_expire_now_cancels_an_unpaid_order_as_the_payment_window_would(admin_client, make_gift, sku):
    gift = make_gift(paid=False, mode="single")
    stock = Sku.objects.get(pk=sku.pk).stock

    messages = _press(admin_client, gift, "expire")

    gift.refresh_from_db()
    assert gift.status == "cancelled" and "已取消" in messages[0]
    assert Sku.objects.get(pk=sku.pk).stock == stock + 1


def test_expire_now_leaves_an_accepted_gift_alone(admin_client, make_gift, recipient, address):
    gift = make_gift(mode="single")
    slot_accept(gift=gift, user=recipient, address=address)
    before = Slot.objects.get(gift=gift).status

    messages = _press(admin_client, gift, "expire")

    assert "没有待领取" in messages[0]
    assert Slot.objects.get(gift=gift).status == before
    assert not Refund.objects.filter(payment__gift=gift).exists()


def _lottery(sender, sku, django_capture_on_commit_callbacks, winners=2):
    with django_capture_on_commit_callbacks(execute=True):
        gift = lottery_create(
            sender=sender, sku_id=sku.pk, winners=winners, draw_at=timezone.now() + timedelta(hours=2)
        )
        pay(gift)
    gift.refresh_from_db()
    return gift


def test_draw_now_draws_a_lottery_with_the_real_draw_and_refunds_unused(
    admin_client, sender, sku, django_capture_on_commit_callbacks
):
    gift = _lottery(sender, sku, django_capture_on_commit_callbacks)
    winner = UserFactory()
    lottery_enter(gift=gift, user=winner)
    # Expiring a lottery before its draw would refund the winners' gifts: refused, nothing changed.
    refused = _press(admin_client, gift, "expire")
    assert "还没有开奖" in refused[0] and not LotteryDraw.objects.exists()
    assert set(Slot.objects.filter(gift=gift).values_list("status", flat=True)) == {"unclaimed"}

    with django_capture_on_commit_callbacks(execute=True):
        messages = _press(admin_client, gift, "draw")

    draw = LotteryDraw.objects.get(gift=gift)
    assert draw.winner_ids == [winner.pk] and draw.units_unused == 1 and "已开奖" in messages[0]
    assert Slot.objects.filter(gift=gift, recipient=winner).exists()
    assert Refund.objects.filter(payment__gift=gift, reason="undrawn").count() == 1
    assert Gift.objects.get(pk=gift.pk).draw_at <= timezone.now()
    again = _press(admin_client, gift, "draw")
    assert "已经开过奖" in again[0] and LotteryDraw.objects.count() == 1


def test_draw_now_refuses_an_unpaid_lottery_and_a_gift_that_is_not_one(admin_client, make_gift, sender, sku):
    unpaid = lottery_create(sender=sender, sku_id=sku.pk, winners=1, draw_at=timezone.now() + timedelta(hours=2))
    assert "只有已支付" in _press(admin_client, unpaid, "draw")[0]
    single = make_gift(mode="single")
    assert "不是抽奖" in _press(admin_client, single, "draw")[0]
    assert not LotteryDraw.objects.exists()


def test_fast_forward_exists_only_with_the_sandbox(admin_client, make_gift, settings):
    gift = make_gift(mode="single")
    settings.SANDBOX_ENABLED = False
    page = admin_client.get(reverse("admin:gifts_gift_change", args=[gift.pk])).content.decode()
    assert "fast-forward" not in page
    url = reverse("admin:gifts_gift_fast_forward", args=[gift.pk])
    assert admin_client.post(url, {"step": "expire"}).status_code == 404
    assert Gift.objects.get(pk=gift.pk).status == "sent"


def test_the_sandbox_courier_cannot_deliver_a_parcel_never_handed_over(
    make_gift, recipient, django_capture_on_commit_callbacks
):
    gift = make_gift(mode="single")
    with django_capture_on_commit_callbacks(execute=True):
        slot_accept(gift=gift, user=recipient, address=AddressInput.from_dict(ADDRESS))
    shipment = Shipment.objects.get(slot__gift=gift)
    assert shipment.status == "issued"
    for status in ("delivered", "in_transit"):
        with pytest.raises(AppError) as refused:
            shipment_drive(shipment=shipment, status=status)
        assert refused.value.code == "not_handed_over"
    assert Slot.objects.get(gift=gift).status == "to_ship"
    # Picked up first (揽收), then it may travel and be signed for.
    with django_capture_on_commit_callbacks(execute=True):
        for status in ("collected", "in_transit", "delivered"):
            shipment_drive(shipment=shipment, status=status)
    assert Slot.objects.get(gift=gift).status == "delivered"


def test_only_the_scans_that_make_sense_are_offered(
    admin_client, make_gift, recipient, django_capture_on_commit_callbacks
):
    gift = make_gift(mode="single")
    with django_capture_on_commit_callbacks(execute=True):
        slot_accept(gift=gift, user=recipient, address=AddressInput.from_dict(ADDRESS))
    shipment = Shipment.objects.get(slot__gift=gift)
    change = reverse("admin:fulfilment_shipment_change", args=[shipment.pk])
    page = admin_client.get(change).content.decode()
    assert 'value="collected"' in page and 'value="delivered"' not in page and 'value="in_transit"' not in page
    drive = reverse("admin:fulfilment_shipment_drive", args=[shipment.pk])
    response = admin_client.post(drive, {"status": "delivered"}, follow=True)
    assert "还没有交给快递" in response.content.decode()
    assert Slot.objects.get(gift=gift).status == "to_ship"
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(drive, {"status": "collected"})
    assert 'value="delivered"' in admin_client.get(change).content.decode()

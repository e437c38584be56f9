"""The sender's loose ends (API 1.1): withdraw what nobody has claimed, refunded at once and once;
remind who holds a slot and has not accepted, not more often than the interval."""

import pytest
from django.core.cache import cache

from gifts.models import Notification, Slot
from gifts.services.claim import AddressInput, slot_accept
from payments.models import Refund
from shops.models import Sku
from tests.conftest import ADDRESS, api_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def test_withdraw_refunds_each_unclaimed_slot_once_and_returns_stock(
    make_gift, sender, sku, django_capture_on_commit_callbacks
):
    gift = make_gift(mode="group", recipients=3)
    with django_capture_on_commit_callbacks(execute=True):
        slot_accept(gift=gift, user=UserFactory(), address=AddressInput.from_dict(ADDRESS))
    stock = Sku.objects.get(pk=sku.pk).stock
    with django_capture_on_commit_callbacks(execute=True):
        r = api_for(sender).post(f"/api/v1/gifts/{gift.pk}/withdraw/")
    assert r.status_code == 200, r.content
    statuses = sorted(Slot.objects.filter(gift=gift).values_list("status", flat=True))
    assert statuses == ["refunded", "refunded", "to_ship"]
    refunds = Refund.objects.filter(payment__gift=gift, reason="withdrawn")
    assert sorted(refunds.values_list("amount_fen", "status")) == [(gift.slot_amount_fen, "succeeded")] * 2
    assert Sku.objects.get(pk=sku.pk).stock == stock + 2 * gift.quantity
    again = api_for(sender).post(f"/api/v1/gifts/{gift.pk}/withdraw/")
    assert (again.status_code, again.json()["code"]) == (409, "nothing_to_withdraw")
    assert refunds.count() == 2


def test_only_the_sender_withdraws(make_gift, other):
    gift = make_gift()
    assert api_for(other).post(f"/api/v1/gifts/{gift.pk}/withdraw/").status_code == 404
    assert Slot.objects.get(gift=gift).status == "unclaimed"


def test_remind_tells_a_named_friend_and_then_waits(make_gift, sender, recipient):
    gift = make_gift(recipient_username=recipient.username)
    r = api_for(sender).post(f"/api/v1/gifts/{gift.pk}/remind/")
    assert (r.status_code, r.json()) == (202, {"reminded": 1})
    assert Notification.objects.filter(user=recipient, kind="reminder").count() == 1
    again = api_for(sender).post(f"/api/v1/gifts/{gift.pk}/remind/")
    assert again.status_code == 429 and again.json()["code"] == "throttled" and int(again["Retry-After"]) > 0
    assert Notification.objects.filter(user=recipient, kind="reminder").count() == 1


def test_remind_with_nobody_to_remind_says_so_and_sends_nothing(
    client, make_gift, sender, django_capture_on_commit_callbacks
):
    """A group gift whose one taker accepted: nobody holds a slot unaccepted. The page says there is
    nobody to remind (not that nobody opened the gift), and a second press is not refused as too soon."""
    gift = make_gift(mode="group", recipients=3)
    with django_capture_on_commit_callbacks(execute=True):
        slot_accept(gift=gift, user=UserFactory(), address=AddressInput.from_dict(ADDRESS))
    client.force_login(sender)
    for _ in range(2):
        page = client.post(f"/gifts/{gift.pk}/remind/", follow=True).content.decode()
        assert "没有要提醒的朋友" in page and "还没有人打开礼物" not in page and "刚刚提醒过" not in page
    assert not Notification.objects.filter(kind="reminder").exists()


def test_the_sender_page_withdraws_after_a_confirmation(client, make_gift, sender, django_capture_on_commit_callbacks):
    gift = make_gift()
    client.force_login(sender)
    page = client.get(gift.get_absolute_url()).content.decode()
    assert 'data-test="withdraw"' in page and "撤回后朋友不能再领取" in page
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(f"/gifts/{gift.pk}/withdraw/", follow=True)
    assert "已撤回未领取的份数" in r.content.decode()
    assert Slot.objects.get(gift=gift).status == "refunded"


def test_notification_emails_carry_absolute_links(settings, make_gift, mailoutbox):
    settings.SITE_URL = "https://gifts.example.com"
    gift = make_gift()
    mails = [m for m in mailoutbox if gift.get_absolute_url() in m.body]
    assert mails and all(f"https://gifts.example.com{gift.get_absolute_url()}" in m.body for m in mails)


@pytest.mark.django_db(transaction=True)
def test_a_withdraw_and_an_accept_in_flight_do_not_deadlock(make_gift, sender):
    """An accept holds its slot locked and, at its inserts' foreign-key checks, takes a key share on
    the gift; a withdraw locks the gift, then waits for the slots. The gift's lock must leave key
    shares alone (FOR NO KEY UPDATE), or the two deadlock and one of them fails."""
    import threading
    import time

    from django.db import connection, transaction

    from gifts.models import GiftEvent
    from gifts.services.sender import gift_withdraw

    gift = make_gift(mode="group", recipients=2)
    slot = gift.slots.order_by("number").first()
    locked, errors = threading.Event(), []

    def accept_in_flight():
        try:
            with transaction.atomic():
                Slot.objects.select_for_update().get(pk=slot.pk)
                locked.set()
                time.sleep(0.5)  # the withdraw has locked the gift and waits for this slot
                GiftEvent.objects.create(gift_id=gift.pk, slot_id=slot.pk, kind=GiftEvent.Kind.SLOT_STATUS)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    def withdraw():
        locked.wait()
        try:
            gift_withdraw(gift_id=gift.pk, user=sender)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=accept_in_flight), threading.Thread(target=withdraw)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert not Slot.objects.filter(gift=gift, status="unclaimed").exists()


def test_the_sender_s_own_link_says_when_nothing_is_left_to_claim(
    client, make_gift, sender, django_capture_on_commit_callbacks
):
    gift = make_gift()
    client.force_login(sender)
    assert "把这个链接发给朋友吧" in client.get(gift.claim_path()).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        slot_accept(gift=gift, user=UserFactory(), address=AddressInput.from_dict(ADDRESS))
    page = client.get(gift.claim_path()).content.decode()
    assert "已经没有可以领取的份数了" in page and "把这个链接发给朋友吧" not in page

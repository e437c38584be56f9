"""What pages say happened has happened: one set of status words, refunds said as settled only once
they are, confirmations before a decline, and the small dead ends of the demo walk."""

from datetime import timedelta

import pytest
from django.utils import timezone

from gifts.models import Gift, Notification, Slot
from gifts.regions import region_is_valid, region_text, region_tree
from gifts.services.claim import slot_accept, slot_decline, slot_grab
from gifts.services.expiry import expire_due
from payments.models import Refund
from sandbox.fast_forward import gift_expire_now

pytestmark = pytest.mark.django_db


def _page(client, user, path):
    client.force_login(user)
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def test_an_expired_gift_says_refund_in_progress_until_the_refund_settles(
    client, make_gift, sender, settings, django_capture_on_commit_callbacks
):
    settings.SANDBOX_CALLBACK_DELAY = 0
    gift = make_gift(mode="single")
    # The refund is requested but its job has not run: the gateway has not settled it.
    Slot.objects.filter(gift=gift).update(expires_at=timezone.now() - timedelta(seconds=1))
    expire_due()
    page = _page(client, sender, f"/gifts/{gift.pk}/")
    assert Refund.objects.get(payment__gift=gift).status == "pending"
    assert "已过期，退款处理中" in page and "退款处理中 ¥" in page and "已退回" not in page
    claim = _page(client, sender, "/gifts/")
    assert "已过期，退款处理中" in claim

    from payments.tasks import send_refund

    with django_capture_on_commit_callbacks(execute=True):
        send_refund(Refund.objects.get(payment__gift=gift).pk)
    assert Refund.objects.get(payment__gift=gift).status == "succeeded"
    page = _page(client, sender, f"/gifts/{gift.pk}/")
    assert "已退款" in page and f"已退回 ¥{gift.amount_fen / 100:.2f}" in page and "实付 ¥0.00" in page
    assert f"礼物 #{gift.pk}" not in page and gift.sku.product.title in page


def test_a_single_gift_is_never_all_taken(client, make_gift, sender, recipient, address, other):
    accepted = make_gift(mode="single")
    slot_accept(gift=accepted, user=recipient, address=address)
    declined = make_gift(mode="single")
    slot_decline(gift=declined, user=other)
    assert Gift.objects.get(pk=accepted.pk).status == "claimed"
    listing = _page(client, sender, "/gifts/")
    assert "已领完" not in listing and "已收下" in listing
    assert "已婉拒，退款处理中" in _page(client, sender, f"/gifts/{declined.pk}/")


def test_a_cancelled_order_shows_no_progress_steps(client, make_gift, sender):
    gift = make_gift(paid=False, mode="single")
    gift_expire_now(gift_id=gift.pk)
    page = _page(client, sender, f"/gifts/{gift.pk}/")
    assert "已取消" in page and 'class="steps"' not in page and 'data-test="remind"' not in page


def test_decline_asks_first_and_the_group_says_the_share_goes_back_to_the_group(client, make_gift, recipient, other):
    single = make_gift(mode="single")
    page = _page(client, recipient, single.claim_path())
    assert 'data-test="decline-open"' in page and "确定婉拒" in page and "款项原路退回给送礼人" in page

    group = make_gift(mode="group", recipients=2)
    slot_grab(gift=group, user=other)
    page = _page(client, other, group.claim_path())
    assert "不要了，把名额留给群里其他人" in page and "回到群里" in page and "确定留给别人" in page
    response = client.post(group.claim_path(), {"action": "decline"}, follow=True)
    assert "这份礼物已回到群里，留给其他人" in response.content.decode()
    assert not Refund.objects.filter(payment__gift=group).exists()
    assert Slot.objects.filter(gift=group, recipient__isnull=True).count() == 2


def test_regions_without_cities_are_not_offered():
    tree = region_tree()
    assert all(cities for cities in tree.values())
    assert "台湾省" not in tree and "广东省" in tree


def test_a_region_does_not_say_a_name_twice():
    """Municipalities (city = province) and prefecture cities without districts (district = city) are
    written as people write them, on pages, labels and packing slips."""
    assert region_is_valid("上海市", "上海市", "浦东新区") and region_is_valid("广东省", "东莞市", "东莞市")
    assert region_text("上海市", "上海市", "浦东新区") == "上海市浦东新区"
    assert region_text("广东省", "东莞市", "东莞市") == "广东省东莞市"
    assert region_text("广东省", "深圳市", "南山区") == "广东省深圳市南山区"


def test_the_navigation_counts_unread_notices_and_links_the_account_page(client, sender):
    Notification.objects.create(user=sender, kind="reminder", dedupe_key="a", title="一")
    Notification.objects.create(user=sender, kind="reminder", dedupe_key="b", title="二")
    page = _page(client, sender, "/")
    assert 'data-test="unread-count">2' in page and 'href="/account/data/"' in page
    client.post("/inbox/")
    assert 'data-test="unread-count"' not in _page(client, sender, "/")


def test_a_notice_is_shown_in_the_readers_language(client, sender):
    Notification.objects.create(
        user=sender, kind="refund", dedupe_key="r", title="退款 ¥12.50 已原路退回", body="原因：过期未领"
    )
    client.cookies.load({"django_language": "en"})
    page = _page(client, sender, "/inbox/")
    assert "退款" not in page and "¥12.50" in page and "Reason: Expired unclaimed" in page


def test_deleting_an_account_asks_for_the_word_not_a_generated_username(client, recipient):
    page = _page(client, recipient, "/account/data/")
    assert "输入「注销」确认" in page and recipient.username not in page.split("注销账号")[-1]
    client.post("/account/data/", {"action": "delete", "confirm": "注销"})
    recipient.refresh_from_db()
    assert not recipient.is_active


def test_a_group_member_who_took_a_share_sees_who_else_did(client, make_gift, recipient, other, address):
    group = make_gift(mode="group", recipients=3)
    slot_grab(gift=group, user=other)
    slot_accept(gift=group, user=recipient, address=address)
    page = _page(client, other, group.claim_path())
    takers = page.split('data-test="takers">')[1].split("</p>")[0]
    assert "已领取 2/3" in takers and other.username in takers and recipient.username in takers


def test_the_lottery_record_names_the_winners_for_people(client, sender, sku, django_capture_on_commit_callbacks):
    from campaigns.services.lottery import lottery_create, lottery_enter
    from sandbox.fast_forward import lottery_draw_now
    from tests.conftest import pay
    from tests.factories import UserFactory

    with django_capture_on_commit_callbacks(execute=True):
        gift = pay(lottery_create(sender=sender, sku_id=sku.pk, winners=1, draw_at=timezone.now() + timedelta(hours=1)))
    gift.refresh_from_db()
    winner = UserFactory(first_name="小明")
    lottery_enter(gift=gift, user=winner)
    with django_capture_on_commit_callbacks(execute=True):
        lottery_draw_now(gift_id=gift.pk)
    page = _page(client, winner, gift.claim_path())
    assert f"中奖：{winner.get_full_name() or winner.username}" in page
    assert "从 0 起数" not in page and "SystemRandom" not in page and "第 1 位" in page

"""Group lottery and bulk gifts in a real browser: alice on a desktop, the others on phones."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import BulkOrder
from campaigns.services.lottery import lottery_pick_winners
from gifts.models import Gift, Slot
from giftshop.sms import ConsoleSms
from shops.models import Product
from tests.browser.conftest import expect
from tests.browser.test_journey import _fill_address

pytestmark = pytest.mark.browser


def _open_product(person, title: str) -> None:
    person.goto(Product.objects.get(title=title).get_absolute_url())


def _pay_in_cashier(alice, step: str) -> None:
    page = alice.page
    expect(page.get_by_role("button", name="确认支付")).to_be_visible()
    alice.shot(f"{step}-alice-cashier")
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.get_by_role("button", name="确认支付").click()


def _at_both_widths(person, step: str) -> None:
    """Screenshot the current page at 1280 and at 375 px, and check neither scrolls sideways."""
    for width, height in ((1280, 800), (375, 812)):
        person.page.set_viewport_size({"width": width, "height": height})
        person.shot(f"{step}-{width}")
        person.no_sideways_scroll()
    person.page.set_viewport_size({"width": 1280, "height": 800})


def _sign_in_from_panel(person, link: str) -> None:
    with person.page.expect_navigation(wait_until="domcontentloaded"):
        person.page.locator(".claim-panel").get_by_role("link", name="登录").tap()
    person.log_in()
    assert person.page.url == link, person.page.url


def test_lottery_from_the_sheet_to_a_winner_who_accepts_and_a_loser_who_is_told(demo, people):
    alice = people("alice")
    bob = people("bob", phone=True)
    carol = people("carol", phone=True)

    # --- alice sets up a lottery of one gift and pays ---
    alice.log_in()
    _open_product(alice, "招牌珍珠奶茶 · 两杯装")
    with alice.page.expect_navigation(wait_until="domcontentloaded"):
        alice.page.get_by_role("link", name="群礼物抽奖").click()
    expect(alice.page.get_by_role("heading", name="群礼物抽奖")).to_be_visible()
    alice.page.get_by_role("radio", name=re.compile(r"^大杯 ·")).check()
    alice.page.get_by_label("送出几份（中奖人数）").fill("1")
    alice.page.get_by_label("祝福语").fill("周末奶茶，抽一位！")
    _at_both_widths(alice, "01-alice-lottery-sheet")
    with alice.page.expect_navigation(wait_until="domcontentloaded"):
        alice.page.get_by_role("button", name="去支付").click()
    _pay_in_cashier(alice, "02")
    expect(alice.page.get_by_role("heading", name="礼物已备好，发给朋友吧")).to_be_visible()
    expect(alice.page.locator(".share-card")).to_contain_text("开奖")
    link = alice.page.get_by_label("礼物链接").input_value()
    gift = Gift.objects.filter(sender__username="alice", mode=Gift.Mode.LOTTERY).latest("pk")
    assert gift.status == "sent" and gift.recipients_count == 1
    assert link.endswith(f"/l/{gift.claim_token}/"), link
    _at_both_widths(alice, "03-alice-lottery-card")

    # --- bob and carol enter from their phones ---
    for step, person in (("04", bob), ("05", carol)):
        person.goto(link)
        expect(person.page.get_by_role("heading", name="验证手机号，参加抽奖")).to_be_visible()
        expect(person.page.get_by_text("alice 的群礼物抽奖").first).to_be_visible()
        _sign_in_from_panel(person, link)
        with person.page.expect_navigation(wait_until="domcontentloaded"):
            person.page.get_by_role("button", name="参加抽奖").tap()
        expect(person.page.get_by_role("heading", name="你已参加，等待开奖")).to_be_visible()
        expect(person.page.locator(".envelope .meta")).to_contain_text("人已参加")
        person.no_sideways_scroll()
        person.shot(f"{step}-{person.name}-entered")

    # --- the draw time passes and the worker draws ---
    Gift.objects.filter(pk=gift.pk).update(draw_at=timezone.now() - timedelta(minutes=1))
    assert lottery_pick_winners(gift_id=gift.pk) is not None
    winner_name = Slot.objects.get(gift=gift).recipient.username
    assert winner_name in ("bob", "carol")
    winner, loser = (bob, carol) if winner_name == "bob" else (carol, bob)

    winner.goto(link)
    expect(winner.page.get_by_role("heading", name="恭喜中奖！填写收货地址")).to_be_visible()
    _fill_address(winner.page)
    winner.no_sideways_scroll()
    winner.shot("06-winner-address")
    with winner.page.expect_navigation(wait_until="domcontentloaded"):
        winner.page.get_by_role("button", name="收下礼物").tap()
    expect(winner.page.get_by_role("heading", name="你已收下这份礼物")).to_be_visible()
    winner.shot("07-winner-accepted")
    assert Slot.objects.get(gift=gift).status == "to_ship"

    loser.goto(link)
    expect(loser.page.get_by_role("heading", name="很遗憾，这次没有抽中")).to_be_visible()
    expect(loser.page.get_by_role("button", name="收下礼物")).to_have_count(0)
    loser.page.get_by_text("开奖记录").tap()
    expect(loser.page.locator(".audit")).to_contain_text("位参与者")
    loser.no_sideways_scroll()
    loser.shot("08-loser-told")

    # --- alice follows it on the tracker, without the address ---
    alice.goto(f"/gifts/{gift.pk}/tracker/")
    expect(alice.page.locator('[data-test="funnel-accepted"]')).to_have_text("1")
    expect(alice.page.locator("main")).to_contain_text("2 人参加抽奖")
    assert "科技园南路" not in alice.page.content()
    _at_both_widths(alice, "09-alice-lottery-tracker")


def test_bulk_gift_from_a_list_with_a_bad_row_to_a_recipient_who_accepts_by_code(demo, people, tmp_path):
    ConsoleSms.outbox.clear()
    alice = people("alice")
    carol = people("carol", phone=True)

    # --- alice uploads three rows, one of them bad ---
    alice.log_in()
    _open_product(alice, "节日礼盒")
    with alice.page.expect_navigation(wait_until="domcontentloaded"):
        alice.page.get_by_role("link", name="批量送礼（员工福利 / 客户礼品）").click()
    expect(alice.page.get_by_role("heading", name=re.compile("批量送礼"))).to_be_visible()
    alice.page.get_by_role("radio", name=re.compile(r"^糕点 ·")).check()
    staff = tmp_path / "staff.csv"
    staff.write_text(
        "姓名,手机号或邮箱,备注\n陈静,13700137001,设计部\n刘洋,12345,财务部\n赵磊,zhaolei@example.com,销售部\n"
    )
    alice.page.get_by_label(re.compile("名单文件")).set_input_files(str(staff))
    alice.page.get_by_label("祝福语").fill("新年快乐，辛苦了！")
    _at_both_widths(alice, "01-alice-bulk-sheet")
    with alice.page.expect_navigation(wait_until="domcontentloaded"):
        alice.page.get_by_role("button", name="检查名单").click()

    # --- the per-row report: two can go, one is refused with its reason ---
    expect(alice.page.get_by_role("heading", name="有问题的行（1）")).to_be_visible()
    bad = alice.page.locator('[data-test="bad-row"]')
    expect(bad).to_have_count(1)
    expect(bad).to_contain_text("刘洋")
    expect(bad).to_contain_text("手机号或邮箱格式不对")
    expect(alice.page.locator("#valid-rows")).to_have_text("2")
    _at_both_widths(alice, "02-alice-bulk-report")
    with alice.page.expect_navigation(wait_until="domcontentloaded"):
        alice.page.get_by_role("button", name="确认并付款").click()
    _pay_in_cashier(alice, "03")

    # --- after paying: the list's page, links all sent, no shared card ---
    order = BulkOrder.objects.filter(sender__username="alice").latest("pk")
    assert alice.page.url.endswith(f"/bulk/{order.pk}/"), alice.page.url
    expect(alice.page.locator('[data-test="progress-label"]')).to_have_text("领取链接已全部发出")
    expect(alice.page.locator("#progress-count")).to_have_text("2 / 2")
    expect(alice.page.locator("#progress-bar")).to_have_attribute("value", "100")
    _at_both_widths(alice, "04-alice-bulk-sent")
    alice.goto(f"/gifts/{order.gift_id}/")
    expect(alice.page.get_by_role("link", name="分享礼物卡片")).to_have_count(0)
    expect(alice.page.get_by_role("link", name="收礼进度与导出")).to_be_visible()

    # --- 陈静 opens her personal link from the text message, on carol's phone account ---
    texts = [m["text"] for m in ConsoleSms.outbox if m["phone"] == "13700137001"]
    assert len(texts) == 1 and "陈静" in texts[0], texts
    path = re.search(r"/b/[\w-]+/", texts[0]).group(0)
    link = carol.base_url + path
    carol.goto(link)
    expect(carol.page.get_by_text("alice 送给 陈静 的礼物")).to_be_visible()
    _sign_in_from_panel(carol, link)
    expect(carol.page.get_by_role("heading", name="确认是你本人")).to_be_visible()
    expect(carol.page.locator(".claim-panel")).to_contain_text("137****7001")
    carol.shot("05-recipient-verify")
    with carol.page.expect_navigation(wait_until="domcontentloaded"):
        carol.page.get_by_role("button", name="发送验证码").tap()
    expect(carol.page.get_by_role("button", name="重新发送验证码")).to_be_visible()
    codes = [
        m["params"]["code"] for m in ConsoleSms.outbox if m["phone"] == "13700137001" and m["template"] == "gift_code"
    ]
    code = codes[-1]
    carol.page.get_by_label("验证码").fill(code)
    with carol.page.expect_navigation(wait_until="domcontentloaded"):
        carol.page.get_by_role("button", name="确认", exact=True).tap()
    expect(carol.page.get_by_role("heading", name="填写收货地址")).to_be_visible()
    # The same cascading province / city / district selects as the ordinary claim page.
    expect(carol.page.get_by_label("省份")).to_have_js_property("tagName", "SELECT")
    _fill_address(carol.page)
    carol.no_sideways_scroll()
    carol.shot("06-recipient-address")
    with carol.page.expect_navigation(wait_until="domcontentloaded"):
        carol.page.get_by_role("button", name="收下礼物").tap()
    expect(carol.page.get_by_role("heading", name="你已收下这份礼物")).to_be_visible()
    carol.shot("07-recipient-accepted")

    # --- alice's tracker: one accepted, one waiting, no address ---
    alice.goto(f"/gifts/{order.gift_id}/tracker/")
    expect(alice.page.locator('[data-test="count-accepted"]')).to_contain_text("1")
    expect(alice.page.locator('[data-test="tracker-row"]')).to_have_count(2)
    assert "科技园南路" not in alice.page.content()
    _at_both_widths(alice, "08-alice-bulk-tracker")

"""The whole gift journey in a real browser: sender on a desktop, recipients on phones."""

from __future__ import annotations

import re

import pytest

from accounts.models import Phone
from gifts.models import Gift, Slot
from sandbox.carrier import gateway_scan
from shops.models import Product
from tests.browser.conftest import PASSWORD, expect, sign_in_with_phone

DAVE_PHONE = "13600001234"

pytestmark = pytest.mark.browser

ADDRESS = {
    "name": "李小明",
    "phone": "13912345678",
    "province": "广东省",
    "city": "深圳市",
    "district": "南山区",
    "detail": "科技园南路 88 号 3 栋 1201",
}


def _product_path(title: str) -> str:
    return Product.objects.get(title=title).get_absolute_url()


def _checkout(alice, *, sku: str, message: str, group_of: int = 0, named: str = "", allow_choice=False) -> str:
    """On the 送给朋友 sheet: pick the 款式, who, how many, the blessing; pay in the sandbox cashier.
    Returns the claim link read off the blue card."""
    page = alice.page
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.get_by_role("link", name="送给朋友").click()
    expect(page.get_by_role("heading", name="送给朋友")).to_be_visible()
    page.get_by_role("radio", name=re.compile(rf"^{re.escape(sku)} ·")).check()
    if group_of:
        page.get_by_role("radio", name=re.compile("群发")).check()
        page.get_by_label("群发人数").fill(str(group_of))
    else:
        page.get_by_role("radio", name="一位朋友").check()
        page.get_by_label("每人份数").fill("1")
        if named:
            page.get_by_label("指定朋友的手机号或用户名").fill(named)
    page.get_by_label("祝福语").fill(message)
    if allow_choice:
        page.get_by_label("允许朋友换成同价位的其他款式").check()
    return page


def _pay_and_read_link(alice, step: int) -> str:
    page = alice.page
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.get_by_role("button", name="去支付").click()
    expect(page.get_by_role("button", name="确认支付")).to_be_visible()
    alice.shot(f"{step:02d}-alice-cashier")
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.get_by_role("button", name="确认支付").click()
    expect(page.get_by_role("heading", name="礼物已备好，发给朋友吧")).to_be_visible()
    expect(page.locator(".envelope")).to_be_visible()
    alice.shot(f"{step + 1:02d}-alice-blue-card")
    link = page.get_by_label("礼物链接").input_value()
    assert re.search(r"/c/[\w-]{16,}/$", link), link
    return link


def _fill_address(page) -> None:
    page.get_by_label("收件人").fill(ADDRESS["name"])
    page.get_by_label("手机号").fill(ADDRESS["phone"])
    # The province list arrives from /api/v1/regions/; wait for it, then cascade down.
    province = page.get_by_label("省份")
    expect(province.locator("option", has_text=ADDRESS["province"])).to_have_count(1)
    province.select_option(ADDRESS["province"])
    city = page.get_by_label("城市")
    expect(city.locator("option", has_text=ADDRESS["city"])).to_have_count(1)
    city.select_option(ADDRESS["city"])
    district = page.get_by_label("区县")
    expect(district.locator("option", has_text=ADDRESS["district"])).to_have_count(1)
    district.select_option(ADDRESS["district"])
    page.get_by_label("详细地址").fill(ADDRESS["detail"])


def _private_text_absent(html: str) -> None:
    for secret in (ADDRESS["phone"], ADDRESS["phone"][-4:], ADDRESS["detail"], ADDRESS["name"], ADDRESS["district"]):
        assert secret not in html, f"the sender's page shows {secret!r}"


def test_gift_travels_from_product_page_to_delivered_parcel_and_thanks(demo, people):
    alice = people("alice")
    bob = people("bob", phone=True)

    # --- the sender picks a T-shirt and sends it to bob, letting him pick his size ---
    alice.log_in()
    alice.goto("/")
    expect(alice.page.get_by_role("heading", name="挑一份礼物，送给朋友")).to_be_visible()
    alice.shot("01-alice-home")
    with alice.page.expect_navigation(wait_until="domcontentloaded"):
        alice.page.get_by_role("link", name=re.compile("纯棉情侣 T 恤")).click()
    expect(alice.page.get_by_text("支持送礼物", exact=False).first).to_be_visible()
    alice.shot("02-alice-product")
    page = _checkout(alice, sku="M", message="生日快乐！挑个合身的尺码～", named="bob", allow_choice=True)
    expect(page.locator("#total")).to_have_text("¥99.00")
    alice.shot("03-alice-checkout")
    link = _pay_and_read_link(alice, 4)
    gift = Gift.objects.filter(sender__username="alice").latest("pk")  # the demo data holds older ones
    assert gift.status == "sent" and gift.allow_sku_choice and gift.sku.label == "M"

    # --- bob, on his phone, opens the blue envelope and signs in ---
    bob.goto(link)
    envelope = bob.page.locator("#envelope")
    expect(envelope).to_have_class(re.compile(r"\bclosed\b"))
    expect(bob.page.get_by_text("alice 送你一份礼物")).to_be_visible()
    bob.shot("06-bob-closed-envelope")
    bob.page.get_by_role("button", name="拆开礼物").tap()
    expect(envelope).not_to_have_class(re.compile(r"\bclosed\b"))
    expect(bob.page.get_by_text("生日快乐！挑个合身的尺码～")).to_be_visible()
    bob.shot("07-bob-open-envelope-sign-in")
    with bob.page.expect_navigation(wait_until="domcontentloaded"):
        bob.page.locator("#claim-panel").get_by_role("link", name="已有账号？用账号密码登录").tap()
    bob.log_in()
    assert bob.page.url == link

    # --- picks size L, fills the address, accepts ---
    expect(bob.page.get_by_role("heading", name="填写收货地址")).to_be_visible()
    sizes = bob.page.get_by_role("group", name=re.compile("选择款式"))
    expect(sizes.get_by_role("radio")).to_have_count(3)
    expect(sizes.get_by_role("radio", name="M", exact=True)).to_be_checked()
    sizes.get_by_role("radio", name="L", exact=True).check()
    _fill_address(bob.page)
    bob.shot("08-bob-address-form")
    with bob.page.expect_navigation(wait_until="domcontentloaded"):
        bob.page.get_by_role("button", name="收下礼物").tap()
    expect(bob.page.get_by_role("heading", name=re.compile("你已收下这份礼物"))).to_be_visible()
    # The worker (eager here) has processed the claim: stock moved, the sandbox waybill issued.
    expect(bob.page.locator("#claim-panel")).to_contain_text("待发货")
    expect(bob.page.locator("#claim-panel")).to_contain_text("款式：L")
    bob.shot("09-bob-accepted")
    slot = Slot.objects.select_related("shipment", "sku").get(gift=gift)
    assert slot.status == "to_ship" and slot.sku.label == "L" and slot.recipient.username == "bob"
    waybill = slot.shipment.waybill_no
    assert waybill.startswith("SBX")

    # --- someone else who gets hold of the link cannot take bob's gift ---
    carol = people("carol", phone=True)
    carol.log_in()
    carol.goto(link)
    expect(carol.page.get_by_role("heading", name="这份礼物是送给另一位朋友的")).to_be_visible()
    expect(carol.page.get_by_role("button", name="收下礼物")).to_have_count(0)
    carol.shot("10-carol-not-yours")

    # --- the merchant finds the order (address shown to them, for shipping), ships it with the
    # e-waybill the dispatch issued; the courier collects and delivers ---
    merchant = people("merchant")
    merchant.goto("/merchant/login/?next=/merchant/gifts/slot/")
    merchant.page.locator("#id_username").fill("merchant")
    merchant.page.locator("#id_password").fill(PASSWORD)
    with merchant.page.expect_navigation(wait_until="domcontentloaded"):
        merchant.page.locator("input[type=submit], button[type=submit]").first.click()
    orders = merchant.page.locator("#result_list")
    expect(orders).to_contain_text(waybill)
    merchant.shot("11-merchant-orders")
    merchant.goto(f"/merchant/gifts/slot/{slot.pk}/change/")
    expect(merchant.page.locator("#content-main")).to_contain_text(ADDRESS["detail"])
    with merchant.page.expect_navigation(wait_until="domcontentloaded"):
        merchant.page.get_by_role("link", name="手动发货").click()
    merchant.page.get_by_label("快递公司").fill("中通快递")
    merchant.page.get_by_label("运单号").fill(waybill)
    merchant.shot("12-merchant-ship-form")
    with merchant.page.expect_navigation(wait_until="domcontentloaded"):
        merchant.page.get_by_role("button", name="确认发货").click()
    expect(merchant.page.get_by_text(f"订单 {slot.pk} 已发货")).to_be_visible()
    slot.refresh_from_db()
    assert slot.status == "shipped"
    gateway_scan(waybill, "collected")
    gateway_scan(waybill, "delivered")

    # --- bob follows the parcel and says thanks ---
    bob.goto("/received/")
    row = bob.page.locator("[data-test=received-slot]").first
    expect(row.locator("[data-test=slot-status]")).to_have_text("已签收")
    expect(row.locator("[data-test=tracking]")).to_contain_text("快递员已揽收")
    expect(row.locator("[data-test=tracking]")).to_contain_text("已签收")
    expect(row).to_contain_text(waybill)
    row.get_by_label("答谢").fill("收到啦，L 码正合身，谢谢 alice！")
    with bob.page.expect_navigation(wait_until="domcontentloaded"):
        row.get_by_role("button", name="答谢").tap()
    expect(bob.page.get_by_text("答谢已送达")).to_be_visible()
    bob.shot("13-bob-received-tracking-thanks")

    # --- alice sees 已签收 and the thanks, and nothing of bob's address or phone ---
    alice.goto(gift.get_absolute_url())
    slot_row = alice.page.locator("[data-test=slot-row]")
    expect(slot_row).to_have_count(1)
    expect(slot_row).to_contain_text("已签收")
    expect(slot_row).to_contain_text("收到啦，L 码正合身，谢谢 alice！")
    _private_text_absent(alice.page.content())
    alice.shot("14-alice-gift-detail")
    alice.goto("/inbox/")
    expect(alice.page.get_by_text("你送出的礼物已签收")).to_be_visible()
    _private_text_absent(alice.page.content())
    alice.shot("15-alice-inbox")


def test_group_gift_of_three_is_grabbed_until_the_fourth_finds_it_all_taken(demo, people):
    alice = people("alice")
    alice.log_in()
    alice.goto(_product_path("招牌珍珠奶茶 · 两杯装"))
    page = _checkout(alice, sku="中杯", message="下午茶我请！", group_of=3)
    expect(page.locator("#total")).to_have_text("¥84.00")
    alice.shot("01-alice-group-checkout")
    link = _pay_and_read_link(alice, 2)

    def grab(person, step: int):
        person.goto(link)
        expect(person.page.get_by_role("heading", name="群礼物，先到先得")).to_be_hidden()
        person.page.get_by_role("button", name="拆开礼物").tap()
        with person.page.expect_navigation(wait_until="domcontentloaded"):
            person.page.get_by_role("button", name="抢礼物").tap()
        expect(person.page.get_by_text("抢到啦！")).to_be_visible()
        expect(person.page.get_by_role("heading", name="填写收货地址")).to_be_visible()
        person.shot(f"{step:02d}-{person.name}-grabbed")

    for step, name in ((4, "bob"), (5, "carol")):
        person = people(name, phone=True)
        person.log_in()
        grab(person, step)

    # A newcomer proves a phone number on the card itself (no sign-up, no password) and stays on it.
    dave = people("dave", phone=True)
    dave.goto(link)
    dave.page.get_by_role("button", name="拆开礼物").tap()
    sign_in_with_phone(dave, DAVE_PHONE)
    dave.shot("06-dave-phone-code")
    assert dave.page.url == link
    with dave.page.expect_navigation(wait_until="domcontentloaded"):
        dave.page.get_by_role("button", name="抢礼物").tap()
    expect(dave.page.get_by_role("heading", name="填写收货地址")).to_be_visible()
    dave.shot("07-dave-grabbed")

    merchant2 = people("merchant2", phone=True)
    merchant2.log_in()
    merchant2.goto(link)
    expect(merchant2.page.get_by_role("heading", name="手慢了，礼物已被领完")).to_be_visible()
    expect(merchant2.page.get_by_role("button", name="抢礼物")).to_have_count(0)
    merchant2.shot("08-fourth-all-taken")

    gift = Gift.objects.filter(sender__username="alice").latest("pk")  # the demo data holds older ones
    takers = set(Slot.objects.filter(gift=gift).values_list("recipient__username", flat=True))
    assert takers == {"bob", "carol", Phone.objects.get(number=DAVE_PHONE).user.username}

    alice.goto(gift.get_absolute_url())
    expect(alice.page.locator("[data-test=slot-row]")).to_have_count(3)
    alice.shot("09-alice-group-progress")


@pytest.mark.parametrize("title", ["925 银戒指", "摄影入门 30 讲"], ids=["jewellery", "course"])
def test_product_in_excluded_category_shows_why_and_offers_no_send_button(demo, people, title):
    shopper = people("shopper", phone=True)
    shopper.goto(_product_path(title))
    reasons = shopper.page.locator("[data-test=not-eligible]")
    expect(reasons).to_contain_text("该商品暂不支持送礼物")
    expect(reasons).to_contain_text("该类目商品不支持送礼物")
    expect(shopper.page.get_by_role("link", name="送给朋友")).to_have_count(0)
    expect(shopper.page.get_by_role("button", name="送给朋友")).to_have_count(0)
    shopper.shot("01-product-not-eligible")

"""Every page, on a phone and on a desktop: no sideways scrolling, every form field labelled, and a
screenshot per page and width for a person to look at (tests/screenshots/)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from gifts.models import Gift
from gifts.services.checkout import gift_create
from gifts.services.claim import AddressInput, slot_accept, slot_grab, slot_thank
from sandbox.carrier import gateway_scan
from sandbox.payment import gateway_pay
from shops.models import Product
from tests.browser.conftest import expect

pytestmark = pytest.mark.browser

ADDRESS = {
    "name": "王芳",
    "phone": "13700001111",
    "province": "浙江省",
    "city": "杭州市",
    "district": "西湖区",
    "detail": "文三路 100 号 2 单元 501",
}

# Fields that are not filled in by a person, so need no label.
UNLABELLED_FIELDS_JS = """
() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => !['hidden', 'submit', 'button'].includes(el.type))
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
  .map(el => el.name || el.id || el.outerHTML.slice(0, 60))
"""


def _sku(title: str, label: str):
    return next(s for s in Product.objects.get(title=title).skus.all() if s.label == label)


def _paid_gift(sender, sku, **kwargs) -> Gift:
    gift = gift_create(sender=sender, sku_id=sku.pk, **kwargs)
    gateway_pay(out_trade_no=gift.payment.out_trade_no)
    gift.refresh_from_db()
    return gift


@pytest.fixture
def scenery(demo):
    """Gifts in every state a page can show, made through the services."""
    users = {u.username: u for u in get_user_model().objects.all()}
    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    tshirt, tea = _sku("纯棉情侣 T 恤", "S"), _sku("招牌珍珠奶茶 · 两杯装", "中杯")

    shipped = _paid_gift(alice, tshirt, message="新年快乐，万事如意！", recipient_username="bob", allow_sku_choice=True)
    slot = slot_accept(gift=shipped, user=bob, address=AddressInput.from_dict(ADDRESS))
    slot.refresh_from_db()
    gateway_scan(slot.shipment.waybill_no, "collected")
    gateway_scan(slot.shipment.waybill_no, "in_transit")
    slot_thank(slot=slot, user=bob, text="好看！谢谢你～")

    open_single = _paid_gift(alice, tshirt, message="一点心意，收下吧", allow_sku_choice=True)
    taken_group = _paid_gift(alice, tea, mode="group", recipients=2, message="奶茶我请")
    for user in (bob, carol):
        slot_grab(gift=taken_group, user=user)
    expired = _paid_gift(alice, tea, message="过期的礼物")
    Gift.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    unpaid = gift_create(sender=alice, sku_id=tea.pk, message="还没付款")
    return {
        "shipped": shipped,
        "open_single": open_single,
        "taken_group": taken_group,
        "expired": expired,
        "unpaid": unpaid,
        "tshirt": tshirt.product,
        "ring": Product.objects.get(title="925 银戒指"),
    }


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_every_page_fits_the_screen_and_labels_every_field(scenery, people, width):
    phone = width == "phone"
    s = scenery
    # (screenshot name, path, the heading that says which page or state it is)
    pages = {
        "anonymous": [
            ("home", "/", "挑一份礼物，送给朋友"),
            ("product", s["tshirt"].get_absolute_url(), "纯棉情侣 T 恤"),
            ("product-not-eligible", s["ring"].get_absolute_url(), "925 银戒指"),
            ("claim-closed-envelope", s["open_single"].claim_path(), None),
            ("claim-sign-in", s["open_single"].claim_path(), "验证手机号，收下礼物"),
            ("login", "/accounts/login/?next=" + s["open_single"].claim_path(), "手机号登录"),
            ("signup", "/accounts/signup/?next=" + s["open_single"].claim_path(), "手机号登录"),
            ("password-login", "/accounts/password/login/?next=/gifts/", "账号密码登录"),
        ],
        "alice": [
            ("checkout", f"/products/{s['tshirt'].pk}/gift/", "送给朋友"),
            ("cashier", s["unpaid"].payment.cashier_url, "确认支付"),
            ("card", f"/gifts/{s['open_single'].pk}/card/", "礼物已备好，发给朋友吧"),
            ("gift-detail", s["shipped"].get_absolute_url(), "每位朋友的进度"),
            ("gift-detail-group", s["taken_group"].get_absolute_url(), "每位朋友的进度"),
            ("gift-list", "/gifts/", "我送出的礼物"),
            ("inbox", "/inbox/", "消息"),
        ],
        "bob": [
            ("claim-accepted", s["shipped"].claim_path(), "你已收下这份礼物"),
            ("claim-open-form", s["open_single"].claim_path(), "填写收货地址"),
            ("received", "/received/", "我收到的礼物"),
        ],
        "carol": [
            ("claim-not-yours", s["shipped"].claim_path(), "这份礼物是送给另一位朋友的"),
            ("claim-expired", s["expired"].claim_path(), "礼物已过期"),
        ],
        "merchant2": [("claim-all-taken", s["taken_group"].claim_path(), "手慢了，礼物已被领完")],
    }
    for who, visits in pages.items():
        person = people(who, phone=phone)
        if who != "anonymous":
            person.log_in()
        for name, path, heading in visits:
            person.goto(path)
            seal = person.page.locator("button#open-envelope")
            if name == "claim-closed-envelope":
                expect(person.page.locator("#envelope.closed")).to_be_visible()
                expect(person.page.locator("#claim-panel")).to_be_hidden()
            elif seal.count() and person.page.locator("#envelope.closed").count():
                seal.click()
            if heading:
                expect(person.page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
            if name == "claim-open-form":
                expect(person.page.locator("#id_province option")).not_to_have_count(1)
            person.no_sideways_scroll()
            assert person.page.evaluate(UNLABELLED_FIELDS_JS) == [], f"{name}: fields without a label"
            person.shot(f"{width}-{name}")


FOCUS_JS = """
() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const cs = getComputedStyle(el);
  const outline = cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0;
  return {what: el.tagName + ' ' + (el.name || el.id || el.textContent.trim().slice(0, 12)),
          visible: outline || cs.boxShadow !== 'none'};
}
"""


def test_envelope_opens_from_the_keyboard_and_every_stop_shows_its_focus(scenery, people):
    bob = people("bob")
    bob.log_in()
    bob.goto(scenery["open_single"].claim_path())
    page = bob.page
    # Tab until the seal has focus, then open it with Enter.
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "open-envelope":
            break
    else:
        pytest.fail("the envelope's seal cannot be reached with Tab")
    focus = page.evaluate(FOCUS_JS)
    assert focus["visible"], focus
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="填写收货地址")).to_be_visible()
    # Opening moves focus into the form; every further stop shows where the focus is.
    seen = []
    for _ in range(20):
        focus = page.evaluate(FOCUS_JS)
        assert focus and focus["visible"], f"focus not visible on {focus} after {seen}"
        seen.append(focus["what"])
        if "婉拒" in focus["what"]:
            break
        page.keyboard.press("Tab")
    for field in ("sku_id", "name", "phone", "province", "city", "detail", "save_address", "收下礼物"):
        assert any(field in w for w in seen), f"{field} not reached by Tab: {seen}"
    bob.shot("keyboard-focus")


def test_an_opened_envelope_stays_open_on_the_next_visit(scenery, people):
    """Opened once on this phone, the envelope is open when the link is opened again, in another tab
    or after signing in elsewhere: the seal is for the first look, not every look."""
    bob = people("bob", phone=True)
    bob.log_in()
    path = scenery["open_single"].claim_path()
    bob.goto(path)
    bob.page.locator("button#open-envelope").click()
    expect(bob.page.locator("#claim-panel")).to_be_visible()
    again = bob.context.new_page()
    again.goto(bob.base_url + path)
    expect(again.locator("#envelope")).not_to_have_class(re.compile(r"\bclosed\b"))
    expect(again.locator("#claim-panel")).to_be_visible()
    kept = again.evaluate("JSON.stringify(Object.entries(localStorage))")
    assert scenery["open_single"].claim_token not in kept  # the link's secret is not kept on the phone

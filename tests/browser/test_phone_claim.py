"""An anonymous visitor claims a gift on the card with a phone code, and later signs in with the same
number to find the parcel (Chromium, 390 px wide)."""

import re

from accounts.models import Phone
from gifts.models import Gift, Slot
from gifts.services.checkout import gift_create
from sandbox.payment import gateway_pay
from shops.models import Sku
from tests.browser.conftest import expect, sign_in_with_phone
from tests.browser.test_journey import _fill_address

PHONE = "13800138000"


def _paid_gift() -> Gift:
    from django.contrib.auth import get_user_model

    alice = get_user_model().objects.get(username="alice")
    sku = Sku.objects.filter(product__title="纯棉情侣 T 恤", stock__gte=5).order_by("pk").first()
    gift = gift_create(sender=alice, sku_id=sku.pk, message="新年快乐！")
    gateway_pay(out_trade_no=gift.payment.out_trade_no)
    gift.refresh_from_db()
    assert gift.status == "sent"
    return gift


def test_anonymous_visitor_claims_with_a_phone_code_and_later_finds_the_parcel(demo, people):
    gift = _paid_gift()
    link = gift.claim_path()

    friend = people("friend", phone=True, width=390)
    friend.goto(link)
    expect(friend.page.get_by_text("alice 送你一份礼物").first).to_be_visible()
    friend.page.get_by_role("button", name="拆开礼物").tap()
    expect(friend.page.get_by_role("heading", name="验证手机号，收下礼物")).to_be_visible()
    friend.no_sideways_scroll()
    friend.shot("01-phone-step")
    sign_in_with_phone(friend, PHONE, shot="01b-code-step")
    # Back on the same blue card, now asking for the address.
    assert friend.page.url.endswith(link)
    expect(friend.page.locator("#envelope")).to_be_visible()
    expect(friend.page.get_by_role("heading", name="填写收货地址")).to_be_visible()
    friend.no_sideways_scroll()
    _fill_address(friend.page)
    friend.shot("02-address")
    with friend.page.expect_navigation(wait_until="domcontentloaded"):
        friend.page.get_by_role("button", name="收下礼物").tap()
    expect(friend.page.get_by_role("heading", name=re.compile("你已收下这份礼物"))).to_be_visible()
    friend.shot("03-accepted")
    owner = Phone.objects.get(number=PHONE)
    slot = Slot.objects.get(gift=gift)
    assert slot.recipient_id == owner.user_id and owner.verified

    # Days later, on another phone: sign in with the same number, see the parcel.
    later = people("friend-later", phone=True, width=390)
    later.goto("/accounts/login/?next=/received/")
    expect(later.page.get_by_role("heading", name="手机号登录")).to_be_visible()
    later.no_sideways_scroll()
    later.shot("04-login")
    from django.core.cache import cache

    cache.delete(f"phone-code:resend:{PHONE}")  # the test does not wait out the 60 seconds
    sign_in_with_phone(later, PHONE)
    assert later.page.url.endswith("/received/")
    expect(later.page.get_by_role("heading", name="我收到的礼物")).to_be_visible()
    expect(later.page.get_by_text("纯棉情侣 T 恤").first).to_be_visible()
    later.no_sideways_scroll()
    later.shot("05-received")
    assert Phone.objects.filter(number=PHONE).count() == 1

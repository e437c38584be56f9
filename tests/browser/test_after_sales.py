"""The recipient's after-sales page in Chromium on a 390 px phone: from 我收到的礼物, 申请售后 with a
reason, a note and a photo; a wrong photo is refused with a clear message; the request then shows
its status and steps, and never scrolls sideways."""

import io

import pytest
from PIL import Image

from aftersales.models import AfterSalesRequest
from gifts.models import Slot
from gifts.services.checkout import gift_create
from gifts.services.claim import AddressInput, slot_accept
from shops.models import Sku
from tests.browser.conftest import expect
from tests.conftest import ADDRESS, pay
from tests.factories import UserFactory

pytestmark = pytest.mark.browser


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (220, 60, 60)).save(out, "PNG")
    return out.getvalue()


def test_a_recipient_asks_for_a_refund_with_a_photo(demo, people):
    from django.contrib.auth import get_user_model

    bob = get_user_model().objects.get(username="bob")
    tea = Sku.objects.filter(product__title__startswith="招牌珍珠奶茶").first()
    gift = pay(gift_create(sender=UserFactory(username="as-sender"), sku_id=tea.pk, message="生日快乐"))
    slot_accept(gift=gift, user=bob, address=AddressInput.from_dict(ADDRESS))
    slot = Slot.objects.get(gift=gift)
    assert slot.status == "to_ship"

    person = people("bob", phone=True, width=390)
    page = person.page
    person.log_in()
    person.goto("/received/")
    card = page.locator('[data-test="received-slot"]').filter(has_text="招牌珍珠奶茶").first
    with page.expect_navigation(wait_until="domcontentloaded"):
        card.locator('[data-test="open-after-sales"]').click()
    person.no_sideways_scroll()
    person.shot("01-after-sales-form")

    form = page.locator('[data-test="after-sales-form"]')
    form.get_by_label("仅退款").check()
    form.get_by_label("原因").select_option(label="商品破损")
    form.get_by_label("补充说明").fill("杯子裂了")
    form.get_by_label("照片（最多 3 张）").set_input_files(
        files=[{"name": "note.txt", "mimeType": "text/plain", "buffer": b"not a picture"}]
    )
    with page.expect_navigation(wait_until="domcontentloaded"):
        form.get_by_role("button", name="提交申请").click()
    expect(page.locator(".errorlist")).to_contain_text("不是可用的图片")
    assert not AfterSalesRequest.objects.exists()

    form = page.locator('[data-test="after-sales-form"]')
    form.get_by_label("仅退款").check()
    form.get_by_label("原因").select_option(label="商品破损")
    form.get_by_label("照片（最多 3 张）").set_input_files(
        files=[{"name": "cup.png", "mimeType": "image/png", "buffer": png()}]
    )
    with page.expect_navigation(wait_until="domcontentloaded"):
        form.get_by_role("button", name="提交申请").click()
    current = page.locator('[data-test="after-sales-current"]')
    expect(current.locator('[data-test="after-sales-status"]')).to_have_text("待商家处理")
    expect(current).to_contain_text("超时将自动同意")
    expect(current.locator("img.as-photo")).to_have_count(1)
    page.wait_for_function("() => document.querySelector('img.as-photo').complete")
    assert page.evaluate("document.querySelector('img.as-photo').naturalWidth") == 64  # served to its sender
    person.no_sideways_scroll()
    person.shot("02-after-sales-requested")

    request = AfterSalesRequest.objects.get(slot=slot)
    assert (request.kind, request.reason, request.photos.count()) == ("refund_only", "damaged", 1)

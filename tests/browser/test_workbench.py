"""The merchant workbench in Chromium, on a 390 px phone and a 1280 px desktop: today's counts, batch
print of e-waybills and packing slips with the blessing card, 交给快递 for a batch and for one
parcel, the sandbox courier driven to an exception, and never a sideways scroll."""

import os
from pathlib import Path

import pytest

from aftersales.services import after_sales_open
from fulfilment.models import Shipment
from gifts.models import Slot
from gifts.services.checkout import gift_create
from gifts.services.claim import AddressInput, slot_accept
from payments.models import Refund
from shops.models import Shop, Sku
from tests.browser.conftest import DESKTOP, PHONE, STEP_TIMEOUT_MS, Person, expect
from tests.conftest import ADDRESS, pay
from tests.factories import UserFactory

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("WORKBENCH_SHOTS", "/tmp"))
VIEWPORTS = {
    "390": {**PHONE, "viewport": {"width": 390, "height": 844}},
    "1280": DESKTOP,
}


def _to_ship(sku: Sku, n: int, message: str) -> list[Slot]:
    sender = UserFactory(username=f"wb-sender-{sku.pk}-{n}")
    gift = pay(gift_create(sender=sender, sku_id=sku.pk, mode="group", recipients=n, message=message))
    for user in UserFactory.create_batch(n):
        slot_accept(gift=gift, user=user, address=AddressInput.from_dict(ADDRESS))
    slots = list(Slot.objects.filter(gift=gift).order_by("number"))
    assert {s.status for s in slots} == {"to_ship"}
    return slots


class Shots(Person):
    def snap(self, step: str, *, print_media: bool = False) -> None:
        if print_media:
            self.page.emulate_media(media="print")
        self.page.screenshot(path=str(SHOTS / f"wb-{step}.png"), full_page=True)
        if print_media:
            self.page.emulate_media(media="screen")

    def no_sideways_scroll(self) -> None:
        overflow = self.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{self.page.url} scrolls sideways by {overflow}px"


@pytest.mark.parametrize("width", ["390", "1280"])
def test_workbench_batch_print_and_hand_over_without_sideways_scroll(demo, browser, live_server, width):
    shop = Shop.objects.get(name="暖心小铺")
    shop.print_blessing_card = True
    shop.save()
    tea = Sku.objects.filter(product__title__startswith="招牌珍珠奶茶").first()
    parcels = _to_ship(tea, 4, "新年快乐，奶茶管够！")
    assert all(Shipment.objects.get(slot=s).waybill_no for s in parcels)

    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", **VIEWPORTS[width])
    context.set_default_timeout(STEP_TIMEOUT_MS)
    merchant = Shots(name="merchant", context=context, base_url=live_server.url, shots=SHOTS)
    page = merchant.page
    try:
        merchant.goto("/merchant/login/")
        merchant.log_in()
        merchant.goto("/merchant/")
        expect(page.locator('[data-tile="to_ship"] .wb-tile-figure')).to_have_text("4")
        expect(page.locator('[data-tile="exceptions"] .wb-tile-figure')).to_have_text("0")
        merchant.no_sideways_scroll()
        merchant.snap(f"{width}-1-home")

        page.locator('[data-tile="to_ship"]').click()
        expect(page.locator(".wb-row")).to_have_count(4)
        merchant.no_sideways_scroll()
        merchant.snap(f"{width}-2-queue")

        # Batch print: all four, one page, each parcel its label and its slip with the blessing card.
        page.get_by_label("全选").check()
        expect(page.locator("#selected-count")).to_have_text("已选 4 单")
        with page.expect_navigation(wait_until="domcontentloaded"):
            page.locator("#print-selected").click()
        expect(page.locator(".wb-sheet")).to_have_count(4)
        for slot in parcels:
            sheet = page.locator(f"#sheet-{slot.pk}")
            expect(sheet.locator(".wb-label-no")).to_have_text(Shipment.objects.get(slot=slot).waybill_no)
            expect(sheet.locator(".wb-blessing-text")).to_have_text("新年快乐，奶茶管够！")
            expect(sheet.locator(".wb-label")).to_contain_text(ADDRESS["detail"])
        assert page.locator(".wb-barcode").count() == 4
        merchant.no_sideways_scroll()
        merchant.snap(f"{width}-3-print")
        merchant.snap(f"{width}-4-print-media", print_media=True)
        page.emulate_media(media="print")
        expect(page.locator(".wb-top")).to_be_hidden()
        expect(page.locator(".wb-print-controls")).to_be_hidden()
        page.emulate_media(media="screen")

        # 交给快递: two ticked, then one by its own button.
        merchant.goto("/merchant/to-ship/")
        page.get_by_role("checkbox", name=f"选择订单 {parcels[0].pk}").check()
        page.get_by_role("checkbox", name=f"选择订单 {parcels[1].pk}").check()
        with page.expect_navigation(wait_until="domcontentloaded"):
            page.locator("#hand-over-selected").click()
        expect(page.locator(".messages")).to_contain_text("已交给快递 2 单")
        expect(page.locator(".wb-row")).to_have_count(2)
        merchant.no_sideways_scroll()
        merchant.snap(f"{width}-5-handed-over")
        row = page.locator(f'.wb-row[data-slot="{parcels[2].pk}"]')
        with page.expect_navigation(wait_until="domcontentloaded"):
            row.locator('[data-test="hand-over"]').click()
        expect(page.locator(".messages")).to_contain_text("已交给快递 1 单")
        expect(page.locator(".wb-row")).to_have_count(1)
        statuses = dict(Slot.objects.filter(pk__in=[s.pk for s in parcels]).values_list("pk", "status"))
        assert [statuses[s.pk] for s in parcels] == ["shipped", "shipped", "shipped", "to_ship"]
        assert Shipment.objects.filter(slot__in=parcels[:3], status="handed_over").count() == 3

        # The sandbox courier, driven from the parcel page: an exception reaches the exceptions list.
        merchant.goto(f"/merchant/parcels/{parcels[0].pk}/")
        drive = page.locator('[data-test="sandbox-drive"]')
        with page.expect_navigation(wait_until="domcontentloaded"):
            drive.get_by_role("button", name="异常").click()
        expect(page.locator(".timeline")).to_contain_text("派送异常")
        merchant.no_sideways_scroll()
        merchant.snap(f"{width}-6-parcel")
        merchant.goto("/merchant/exceptions/")
        expect(page.locator(".wb-exception")).to_have_count(1)
        expect(page.locator(".wb-courier-said")).to_contain_text("联系不上收件人")
        merchant.no_sideways_scroll()
        merchant.snap(f"{width}-7-exceptions")
        with page.expect_navigation(wait_until="domcontentloaded"):
            page.locator('[data-test="sandbox-drive"]').get_by_role("button", name="签收").click()
        assert Slot.objects.get(pk=parcels[0].pk).status == "delivered"
        merchant.goto("/merchant/")
        expect(page.locator('[data-tile="exceptions"] .wb-tile-figure')).to_have_text("0")
        expect(page.locator('[data-tile="to_ship"] .wb-tile-figure')).to_have_text("1")

        # 售后: the last parcel's recipient asked for a refund before it shipped; the owner approves
        # it from the after-sales queue and the sender is refunded once.
        request = after_sales_open(
            slot_id=parcels[3].pk,
            user=parcels[3].recipient,
            kind="refund_only",
            reason="changed_mind",
            detail="不需要了",
        )
        merchant.goto("/merchant/")
        expect(page.locator('[data-tile="after_sales"] .wb-tile-figure')).to_have_text("1")
        with page.expect_navigation(wait_until="domcontentloaded"):
            page.locator('[data-tile="after_sales"]').click()
        row = page.locator(f'[data-test="after-sales-row"][data-id="{request.pk}"]')
        expect(row).to_contain_text("仅退款")
        expect(row).to_contain_text("不需要了")
        merchant.no_sideways_scroll()
        merchant.snap(f"{width}-8-after-sales")
        with page.expect_navigation(wait_until="domcontentloaded"):
            row.locator('[data-test="approve"]').click()
        expect(page.locator(".messages")).to_contain_text(f"已同意订单 #{parcels[3].pk} 的售后申请")
        expect(page.locator(f'[data-test="after-sales-row"][data-id="{request.pk}"]')).to_have_count(0)
        request.refresh_from_db()
        assert request.status in ("approved", "refunded") and request.answered_by.username == "merchant"
        assert Refund.objects.filter(slot=parcels[3], reason="after_sales").count() == 1
    finally:
        context.close()

"""A merchant, in the browser, imports 200 tracking numbers of which 3 are bad, and sees which and why."""

import csv
import io

import pytest

from gifts.models import Slot
from gifts.services.checkout import gift_create
from gifts.services.claim import AddressInput, slot_accept
from shops.models import Product, Sku
from tests.browser.conftest import expect
from tests.conftest import ADDRESS, pay
from tests.factories import UserFactory

pytestmark = pytest.mark.browser


def _to_ship(sku: Sku, n: int) -> list[Slot]:
    sender = UserFactory(username=f"company-{sku.pk}")
    mode = "group" if n > 1 else "single"
    gift = pay(gift_create(sender=sender, sku_id=sku.pk, mode=mode, recipients=n))
    for user in UserFactory.create_batch(n):
        slot_accept(gift=gift, user=user, address=AddressInput.from_dict(ADDRESS))
    slots = list(Slot.objects.filter(gift=gift).order_by("number"))
    assert {s.status for s in slots} == {"to_ship"}
    return slots


def test_merchant_imports_200_tracking_numbers_and_sees_the_3_bad_rows(demo, people, tmp_path):
    tea = Sku.objects.filter(product__title__startswith="招牌珍珠奶茶").first()
    ring_shop_box = Sku.objects.filter(product=Product.objects.get(title="节日礼盒")).first()
    mine = _to_ship(tea, 199)
    (theirs,) = _to_ship(ring_shop_box, 1)[:1]

    rows = [["order_id", "carrier", "tracking_no"]]
    rows += [[s.pk, "顺丰速运", f"SF{s.pk:010d}"] for s in mine[:197]]
    rows.append([theirs.pk, "顺丰速运", "SF-NOT-YOURS"])  # another shop's order
    rows.append([99_999_999, "顺丰速运", "SF-NO-SUCH-ORDER"])  # no such order
    rows.append([mine[197].pk, "顺丰速运", ""])  # tracking number missing
    path = tmp_path / "tracking.csv"
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8-sig")

    merchant = people("merchant")
    merchant.goto("/merchant/login/")
    merchant.log_in()
    merchant.goto("/merchant/gifts/slot/import/")
    merchant.page.set_input_files("input[type=file]", str(path))
    with merchant.page.expect_navigation(wait_until="domcontentloaded"):
        merchant.page.locator("input[type=submit]").click()
    merchant.shot("01-import-report")

    expect(merchant.page.locator("#shipped-count")).to_have_text("197")
    expect(merchant.page.locator("#failed-count")).to_have_text("3")
    failed = merchant.page.locator("#failed-rows tbody tr")
    expect(failed).to_have_count(3)
    codes = sorted(failed.locator("code").all_inner_texts())
    assert codes == ["bad_tracking", "unknown_order", "unknown_order"]
    reasons = " ".join(failed.all_inner_texts())
    assert str(theirs.pk) in reasons and "99999999" in reasons and str(mine[197].pk) in reasons

    assert Slot.objects.filter(pk__in=[s.pk for s in mine[:197]], status="shipped").count() == 197
    assert Slot.objects.get(pk=theirs.pk).status == "to_ship"
    assert Slot.objects.get(pk=mine[197].pk).status == "to_ship"

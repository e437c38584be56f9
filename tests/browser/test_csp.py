"""The pages' scripts still work under the Content-Security-Policy (Chromium): the claim card's
envelope and address form, the gift card's copy button, the checkout total, the API docs (Swagger UI
under a nonce) and the operator admin. Nothing is refused: the people fixture fails the test on any
CSP violation in the console, and this test also checks that a violation would be seen."""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model

from gifts.services.checkout import gift_create
from sandbox.payment import gateway_pay
from shops.models import Product
from tests.browser.conftest import expect


def _paid_gift(sender, title: str):
    sku = Product.objects.get(title=title).skus.order_by("pk").first()
    gift = gift_create(sender=sender, sku_id=sku.pk, message="生日快乐")
    gateway_pay(out_trade_no=gift.payment.out_trade_no)
    gift.refresh_from_db()
    return gift


def test_the_claim_card_and_the_sender_pages_work_under_the_policy(demo, people):
    users = {u.username: u for u in get_user_model().objects.all()}
    gift = _paid_gift(users["alice"], "纯棉情侣 T 恤")

    bob = people("bob", phone=True)
    bob.log_in()
    response = bob.goto(gift.claim_path())
    csp = response.header_value("content-security-policy")
    assert csp and "'unsafe-inline'" not in csp and "script-src 'self'" in csp
    page = bob.page
    # The envelope opens on a tap (static/js/claim-envelope.js) and the form fills its regions from
    # the API (static/js/address-form.js, a fetch the policy's connect-src allows).
    expect(page.locator("#envelope.closed")).to_be_visible()
    expect(page.locator("#claim-panel")).to_be_hidden()
    page.get_by_role("button", name="拆开礼物").tap()
    expect(page.get_by_role("heading", name="填写收货地址")).to_be_visible()
    expect(page.locator("#open-envelope")).to_have_attribute("aria-label", "礼物已拆开")
    expect(page.locator("#id_province option")).not_to_have_count(1)
    page.select_option("#id_province", "广东省")
    expect(page.locator("#id_city option", has_text="深圳市")).to_have_count(1)
    bob.shot("claim-under-csp")

    alice = people("alice")
    alice.log_in()
    alice.goto(f"/gifts/{gift.pk}/card/")
    alice.context.grant_permissions(["clipboard-read", "clipboard-write"])
    alice.page.get_by_role("button", name="复制链接").click()
    expect(alice.page.locator("#copy-status")).to_have_text("已复制，去粘贴给朋友吧")
    alice.goto(f"/products/{Product.objects.get(title='纯棉情侣 T 恤').pk}/gift/")
    expect(alice.page.locator("#total")).to_have_text(re.compile(r"^¥\d"))
    alice.shot("checkout-under-csp")


def test_the_api_docs_and_the_admin_work_under_the_policy(demo, people):
    reader = people("reader")
    response = reader.goto("/api/v1/docs/")
    assert "'nonce-" in response.header_value("content-security-policy")
    # Swagger UI drew the operations from the schema: its bundle ran, and so did the nonce'd start-up.
    expect(reader.page.locator(".swagger-ui .opblock").first).to_be_visible()
    reader.shot("docs-under-csp")

    operator = people("admin")
    operator.goto("/admin/login/")
    operator.page.get_by_label("用户名").fill("admin")
    operator.page.get_by_label("密码").fill("giftshop-demo")
    with operator.page.expect_navigation(wait_until="domcontentloaded"):
        operator.page.get_by_role("button", name="登录").click()
    operator.goto("/admin/gifts/gift/")
    expect(operator.page.locator("#result_list")).to_be_visible()
    operator.shot("admin-under-csp")


def test_a_refused_inline_script_would_be_seen(demo, people):
    """The watch itself works: an inline script added to a page is refused and reported."""
    visitor = people("visitor")
    visitor.goto("/")
    visitor.page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1'; document.body.append(s); }"
    )
    visitor.page.wait_for_function("() => window.__cspViolations > 0")
    assert visitor.page.evaluate("window.ran") is None
    visitor.page.wait_for_function("() => true")  # the exposed callback has reported by now
    assert any("script-src" in v for v in visitor.csp_violations), visitor.csp_violations
    visitor.csp_violations.clear()  # seen and expected: not a failure of this test

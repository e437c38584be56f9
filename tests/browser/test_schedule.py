"""The demo keeps its promises by the schedule alone: `make run`'s settings (SQLite, Celery eager, an
in-memory broker, no Redis), the web server and `celery beat` as separate processes as `make run`
starts them, with windows of seconds set here. Nobody calls a service from the test: an unpaid order
is cancelled, a gift nobody accepts expires and is refunded, a lottery draws, and the pages say so."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.browser.conftest import DESKTOP, PHONE, SCREENSHOTS, STEP_TIMEOUT_MS, Person, expect
from tests.browser.test_journey import _checkout, _pay_and_read_link

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
PAYMENT_SECONDS = 25
CLAIM_SECONDS = 25
DRAW_IN_SECONDS = 40
WAIT_SECONDS = 90  # the longest a page waits for beat (sweeps every second) before the test fails


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def demo_server(tmp_path):
    """`make run` in miniature: migrate, load_demo, runserver and celery beat on the demo settings."""
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CELERY_", "DATABASE_", "TEST_DATABASE", "DJANGO_", "WORKER_TEST", "CACHE_URL"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="giftshop.settings.local",
        DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        MEDIA_ROOT=str(tmp_path / "media"),
        SITE_URL=f"http://127.0.0.1:{port}",
        SCHEDULE_SWEEP_SECONDS="1",
        OUTBOX_SWEEP_SECONDS="1",
        GIFT_PAYMENT_WINDOW_SECONDS=str(PAYMENT_SECONDS),
        GIFT_CLAIM_WINDOW_SECONDS=str(CLAIM_SECONDS),
        LOTTERY_MIN_LEAD_SECONDS="0",
    )
    py = sys.executable
    for args in (["migrate", "--noinput", "-v0"], ["load_demo", "-v0"]):
        subprocess.run([py, "manage.py", *args], cwd=ROOT, env=env, check=True, timeout=300)
    log = (tmp_path / "server.log").open("w")
    web = subprocess.Popen(
        [py, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    beat = subprocess.Popen(
        [py, "-m", "celery", "-A", "giftshop", "beat", "-l", "info", "-s", str(tmp_path / "beat-schedule")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)  # noqa: S310 (our own server)
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("the demo server did not start: " + (tmp_path / "server.log").read_text()[-2000:])
        yield base
    finally:
        for process in (beat, web):
            process.terminate()
        for process in (beat, web):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()
    assert beat.returncode is not None


@pytest.fixture
def visitors(browser, demo_server, request):
    shots = SCREENSHOTS / re.sub(r"[^\w-]+", "-", request.node.name).strip("-")
    contexts = []

    def _open(name: str, *, phone: bool = False) -> Person:
        context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", **(PHONE if phone else DESKTOP))
        context.set_default_timeout(STEP_TIMEOUT_MS)
        contexts.append(context)
        return Person(name=name, context=context, base_url=demo_server, shots=shots)

    yield _open
    for context in contexts:
        context.close()


def _until_page_says(person: Person, path: str, locator, text: str) -> None:
    """Reload `path` until the locator shows `text`: beat works on its own time, not the test's."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        person.goto(path)
        target = locator(person.page)
        if target.count() and text in target.first.inner_text():
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{path} never said {text!r}; it says {target.first.inner_text() if target.count() else '-'}")
        time.sleep(1)


def _open_product(person: Person, title: str) -> None:
    person.goto("/")  # by the home page's link: the demo server's ids are not the test's
    with person.page.expect_navigation(wait_until="domcontentloaded"):
        person.page.get_by_role("link", name=re.compile(re.escape(title))).first.click()


def test_the_schedule_cancels_expires_refunds_and_draws_with_no_redis(visitors):
    alice = visitors("alice")
    bob = visitors("bob", phone=True)
    alice.log_in()
    bob.log_in()

    # An order left unpaid at the cashier.
    _open_product(alice, "招牌珍珠奶茶 · 两杯装")
    _checkout(alice, sku="中杯", message="忘了付款")
    with alice.page.expect_navigation(wait_until="domcontentloaded"):
        alice.page.get_by_role("button", name="去支付").click()
    expect(alice.page.get_by_role("button", name="确认支付")).to_be_visible()
    alice.goto("/gifts/")
    expect(alice.page.locator("main")).to_contain_text("待支付")
    expect(alice.page.locator("main")).not_to_contain_text("已取消")

    # A paid gift nobody accepts.
    _open_product(alice, "招牌珍珠奶茶 · 两杯装")
    _checkout(alice, sku="中杯", message="没人来领")
    _pay_and_read_link(alice, 1)
    expiring = re.search(r"/gifts/(\d+)/", alice.page.url).group(1)

    # A lottery drawing in a few seconds, which bob enters.
    _open_product(alice, "招牌珍珠奶茶 · 两杯装")
    with alice.page.expect_navigation(wait_until="domcontentloaded"):
        alice.page.get_by_role("link", name="群礼物抽奖").click()
    alice.page.get_by_role("radio", name=re.compile(r"^大杯 ·")).check()
    alice.page.get_by_label("送出几份（中奖人数）").fill("2")
    draw_at = datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(seconds=DRAW_IN_SECONDS)
    draw_input = alice.page.get_by_label("开奖时间")
    draw_input.evaluate("(el, v) => { el.step = 1; el.value = v; }", draw_at.strftime("%Y-%m-%dT%H:%M:%S"))
    with alice.page.expect_navigation(wait_until="domcontentloaded"):
        alice.page.get_by_role("button", name="去支付").click()
    with alice.page.expect_navigation(wait_until="domcontentloaded"):
        alice.page.get_by_role("button", name="确认支付").click()
    expect(alice.page.get_by_role("heading", name="礼物已备好，发给朋友吧")).to_be_visible()
    lottery_link = alice.page.get_by_label("礼物链接").input_value()
    lottery = re.search(r"/gifts/(\d+)/", alice.page.url).group(1)
    bob.goto(lottery_link)
    with bob.page.expect_navigation(wait_until="domcontentloaded"):
        bob.page.get_by_role("button", name="参加抽奖").tap()
    expect(bob.page.get_by_role("heading", name="你已参加，等待开奖")).to_be_visible()

    # Now only the clock moves. The unpaid order is cancelled.
    _until_page_says(alice, "/gifts/", lambda p: p.locator("main"), "已取消")
    alice.shot("01-unpaid-cancelled")
    # The unaccepted gift expires, and its refund settles before the page says it is back.
    status = lambda p: p.locator('[data-test="gift-status"]')  # noqa: E731
    _until_page_says(alice, f"/gifts/{expiring}/", status, "已退款")
    expect(alice.page.locator('[data-test="refund-line"]')).to_contain_text("已退回")
    alice.shot("02-expired-refunded")
    # The lottery draws: bob, the only entrant, won; the unused gift is refunded to alice.
    _until_page_says(bob, lottery_link, lambda p: p.locator("h1"), "恭喜中奖")
    bob.shot("03-bob-won")
    _until_page_says(alice, "/inbox/", lambda p: p.locator("main"), "抽奖已开奖")
    _until_page_says(alice, f"/gifts/{lottery}/", lambda p: p.locator('[data-test="refund-line"]'), "已退回")
    alice.shot("04-alice-lottery-drawn")


def test_the_operator_fast_forwards_a_gift_and_the_senders_page_shows_the_outcome(demo, people):
    """The same outcome without waiting: 立即过期 in /admin/ (the sandbox is on) runs the sweep."""
    from gifts.models import Gift

    alice = people("alice")
    alice.log_in()
    _open_product(alice, "招牌珍珠奶茶 · 两杯装")
    _checkout(alice, sku="中杯", message="快进")
    _pay_and_read_link(alice, 1)
    gift = Gift.objects.filter(sender__username="alice", message="快进").get()

    admin = people("admin")
    admin.log_in()
    admin.goto(f"/admin/gifts/gift/{gift.pk}/change/")
    expect(admin.page.get_by_role("heading", name="沙箱：快进时间")).to_be_visible()
    with admin.page.expect_navigation(wait_until="domcontentloaded"):
        admin.page.get_by_role("button", name="立即过期").click()
    expect(admin.page.locator(".messagelist")).to_contain_text("领取时间已到：1 份未领取")
    admin.shot("01-admin-expired")
    # Pressed again: nothing left to expire, said so, nothing changed.
    with admin.page.expect_navigation(wait_until="domcontentloaded"):
        admin.page.get_by_role("button", name="立即过期").click()
    expect(admin.page.locator(".messagelist")).to_contain_text("没有待领取的份数")

    alice.goto(f"/gifts/{gift.pk}/")
    expect(alice.page.locator('[data-test="gift-status"]')).to_have_text("已退款")
    expect(alice.page.locator('[data-test="refund-line"]')).to_contain_text("已退回 ¥")
    alice.shot("02-alice-refunded")

"""Headless Chromium against the app served by pytest-django's live_server (PostgreSQL, eager Celery).

Each person gets their own browser context (own cookies); recipients browse on a phone-sized
viewport. Every step is screenshotted under tests/screenshots/<test name>/ for a human to look at.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright import sync_api as playwright_sync

expect = playwright_sync.expect

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STEP_TIMEOUT_MS = 15_000
SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"
PASSWORD = "giftshop-demo"

PHONE = {
    "viewport": {"width": 375, "height": 812},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "user_agent": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
    ),
}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}

expect.set_options(timeout=STEP_TIMEOUT_MS)

PIN_TOP_BAR_JS = """
position => document.querySelectorAll('.topbar').forEach(bar => position
  ? bar.style.setProperty('position', position, 'important') : bar.style.removeProperty('position'))
"""
CSP_VIOLATION_JS = """
document.addEventListener('securitypolicyviolation', e => {
  window.__cspViolations = (window.__cspViolations || 0) + 1;
  window.__cspViolation(`${e.violatedDirective} refused ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `make browser-deps`")
    # Playwright's sync API keeps an event loop running in this thread, and the tests still use
    # the ORM here (to load demo data, to play the courier); Django would refuse that without this.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with playwright_sync.sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=STEP_TIMEOUT_MS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def demo(transactional_db):
    """The README's demo data: shops, products with SKUs, and the demo accounts."""
    call_command("load_demo", verbosity=0)


class Person:
    """One person at one browser: their own context, so their own session cookie."""

    def __init__(self, *, name: str, context, base_url: str, shots: Path):
        self.name = name
        self.context = context
        self.page = context.new_page()
        self.base_url = base_url
        self._shots = shots
        # What the Content-Security-Policy refused on any page this person saw: the console's
        # "Refused to …" errors and the page's own securitypolicyviolation events.
        self.csp_violations: list[str] = []
        self.page.on("console", self._console)
        self.page.expose_function("__cspViolation", lambda text: self.csp_violations.append(text))
        self.page.add_init_script(CSP_VIOLATION_JS)

    def _console(self, message) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.csp_violations.append(message.text)

    def goto(self, path: str):
        url = path if path.startswith("http") else self.base_url + path
        response = self.page.goto(url, wait_until="domcontentloaded")
        assert response is not None and response.status < 400, f"{url} answered {response and response.status}"
        return response

    def shot(self, step: str) -> None:
        """Save a full-page screenshot named by step, e.g. 03-alice-checkout.png."""
        self._shots.mkdir(parents=True, exist_ok=True)
        # A sticky top bar would be painted mid-page in a full-page capture; pin it to the top. Through
        # the CSSOM: an injected <style> (screenshot's style=) is inline style the page's CSP refuses.
        self.page.evaluate(PIN_TOP_BAR_JS, "static")
        self.page.screenshot(path=str(self._shots / f"{step}.png"), full_page=True)
        self.page.evaluate(PIN_TOP_BAR_JS, "")

    def log_in(self, username: str | None = None, password: str = PASSWORD) -> None:
        """Sign in with a password (the demo accounts have one) and wait to be sent on."""
        if "/accounts/password/login/" not in self.page.url:
            self.goto("/accounts/password/login/")
        self.page.get_by_label("用户名或手机号", exact=True).fill(username or self.name)
        self.page.get_by_label("密码", exact=True).fill(password)
        with self.page.expect_navigation(wait_until="domcontentloaded"):
            self.page.get_by_role("button", name="登录").click()
        assert "/accounts/password/login/" not in self.page.url, f"{username or self.name} could not log in"

    def no_sideways_scroll(self) -> None:
        overflow = self.page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{self.page.url} scrolls sideways by {overflow}px"


@pytest.fixture
def people(request, browser, live_server):
    """people("alice") opens a desktop browser for alice; people("bob", phone=True) a phone one."""
    shots = SCREENSHOTS / re.sub(r"[^\w-]+", "-", request.node.name).strip("-")
    contexts = []
    people_seen: list[Person] = []

    def _open(name: str, *, phone: bool = False, width: int | None = None) -> Person:
        device = dict(PHONE if phone else DESKTOP)
        if width:
            device["viewport"] = {**device["viewport"], "width": width}
        context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", **device)
        context.set_default_timeout(STEP_TIMEOUT_MS)
        context.set_default_navigation_timeout(STEP_TIMEOUT_MS)
        contexts.append(context)
        person = Person(name=name, context=context, base_url=live_server.url, shots=shots)
        people_seen.append(person)
        return person

    yield _open
    violations = [v for person in people_seen for v in person.csp_violations]
    for context in contexts:
        context.close()
    # Every page of every browser test runs under the Content-Security-Policy: nothing refused.
    assert violations == [], f"Content-Security-Policy violations: {violations}"


def sign_in_with_phone(person: Person, phone: str, *, shot: str = "") -> str:
    """On the current page's phone step: type the number, read the code from the test SMS provider
    (the server runs in this process), type it, and wait to be sent on. Returns the code."""
    from giftshop.sms import LogSms
    from tests.conftest import last_code

    page = person.page
    page.get_by_role("textbox", name="手机号", exact=True).fill(phone)
    url = page.url
    page.evaluate("window.__sameDocument = true")
    page.get_by_role("button", name="获取验证码").click()  # the step changes in place: no page load
    # "已发送" only once the SMS provider took the message (the page polls for it).
    expect(page.get_by_text(f"验证码已发送至 {phone[:3]}****{phone[-4:]}")).to_be_visible()
    assert page.url == url and page.evaluate("window.__sameDocument === true"), "the page reloaded"
    if shot:
        person.shot(shot)
    code = last_code(LogSms.outbox, phone)
    page.get_by_role("textbox", name="验证码", exact=True).fill(code)
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.get_by_role("button", name="验证并继续").click()
    return code

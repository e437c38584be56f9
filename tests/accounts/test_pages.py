"""The shop's sign-in pages: phone + code by default (the first code creates the account), password kept."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import Phone
from tests.conftest import last_code

PHONE = "13612345678"


@pytest.fixture
def browser(db, django_capture_on_commit_callbacks):
    c = Client()
    original = c.post

    def post(*args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return original(*args, **kwargs)

    c.post = post
    return c


def test_phone_login_page_signs_up_and_in_and_goes_next(browser, sms):
    page = browser.get("/accounts/login/?next=/received/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "手机号登录" in html and 'name="phone"' in html and "用账号密码登录" in html
    page = browser.post("/accounts/login/", {"action": "phone_code", "phone": "136 1234 5678", "next": "/received/"})
    html = page.content.decode()
    assert "验证码已发送至 136****5678" in html
    assert 'name="code"' in html
    assert browser.get("/accounts/phone/status/").json()["sent"] is True
    page = browser.post(
        "/accounts/login/", {"action": "phone_login", "code": last_code(sms, PHONE), "next": "/received/"}
    )
    assert page.status_code == 302 and page["Location"] == "/received/"
    user = Phone.objects.get(number=PHONE).user
    assert browser.get("/received/").context["user"] == user


def test_wrong_code_is_explained_in_chinese(browser, sms):
    browser.post("/accounts/login/", {"action": "phone_code", "phone": PHONE})
    code = last_code(sms, PHONE)
    page = browser.post("/accounts/login/", {"action": "phone_login", "code": "000000" if code != "000000" else "1"})
    assert page.status_code == 200
    assert "验证码不正确，还可以再试 4 次" in page.content.decode()
    assert "_auth_user_id" not in browser.session


def test_bad_phone_stays_on_the_form(browser):
    page = browser.post("/accounts/login/", {"action": "phone_code", "phone": "12345"})
    assert page.status_code == 200
    assert page.content.decode().count("请输入 11 位中国大陆手机号") == 1  # under the field, not again above it


def test_asking_again_too_soon_says_when(browser, sms):
    browser.post("/accounts/login/", {"action": "phone_code", "phone": PHONE})
    page = browser.post("/accounts/login/", {"action": "phone_code", "phone": PHONE})
    html = page.content.decode()
    assert page.status_code == 429 and 1 <= int(page["Retry-After"]) <= 61
    assert "验证码已发送，请稍后再重新获取" in html
    assert "验证码已发送至 136****5678" in html  # the code already sent still works
    assert len(sms) == 1


def test_a_second_device_refused_a_new_code_is_shown_the_step_for_the_one_on_its_way(browser, sms):
    """A friend asked for a code on one phone, then opens the link on another within the minute: no
    new code, but the page asks for the one already sent, and it signs them in there."""
    browser.post("/accounts/login/", {"action": "phone_code", "phone": PHONE})
    other = Client()
    page = other.post("/accounts/login/", {"action": "phone_code", "phone": PHONE})
    html = page.content.decode()
    assert page.status_code == 429 and "验证码已发送，请稍后再重新获取" in html
    assert "验证码已发送至 136****5678" in html and 'name="code"' in html
    r = other.post("/accounts/login/", {"action": "phone_login", "code": last_code(sms, PHONE), "next": "/gifts/"})
    assert r.status_code == 302 and "_auth_user_id" in other.session
    assert len(sms) == 1


def test_signup_is_the_phone_login(browser):
    r = browser.get("/accounts/signup/?next=/c/abc/")
    assert r.status_code == 302 and r["Location"] == "/accounts/login/?next=/c/abc/"


def test_existing_accounts_sign_in_with_a_password(browser):
    get_user_model().objects.create_user("alice", password="giftshop-demo")
    page = browser.get("/accounts/password/login/?next=/gifts/")
    assert "用户名或手机号" in page.content.decode()
    r = browser.post("/accounts/password/login/", {"login": "alice", "password": "giftshop-demo", "next": "/gifts/"})
    assert r.status_code == 302 and r["Location"] == "/gifts/"
    stranger = Client()
    r = stranger.post("/accounts/password/login/", {"login": "alice", "password": "wrong-one"})
    assert r.status_code == 200 and "_auth_user_id" not in stranger.session


def test_a_phone_account_with_a_password_can_use_either(browser, sms):
    browser.post("/accounts/login/", {"action": "phone_code", "phone": PHONE})
    browser.post("/accounts/login/", {"action": "phone_login", "code": last_code(sms, PHONE)})
    user = Phone.objects.get(number=PHONE).user
    assert "尾号5678" in browser.get("/").content.decode()  # the top bar's name for a phone account
    # A password stays optional: allauth's page sets one for an account that has none.
    assert browser.get("/accounts/password/set/").status_code == 200
    r = browser.post("/accounts/password/set/", {"password1": "ribbon-lantern-42", "password2": "ribbon-lantern-42"})
    assert r.status_code == 302, r.content.decode()[:1500]
    user.refresh_from_db()
    assert user.has_usable_password()
    browser.post("/accounts/logout/")
    r = browser.post("/accounts/password/login/", {"login": PHONE, "password": "ribbon-lantern-42", "next": "/gifts/"})
    assert r.status_code == 302, r.content.decode()[:2000]


def test_merchant_site_keeps_username_and_password(browser):
    page = browser.get("/merchant/login/")
    assert page.status_code == 200 and 'name="username"' in page.content.decode()


def test_deleting_the_account_frees_the_number_and_exports_it_first(browser, sms):
    import json

    from django.core.cache import cache

    browser.post("/accounts/login/", {"action": "phone_code", "phone": PHONE})
    browser.post("/accounts/login/", {"action": "phone_login", "code": last_code(sms, PHONE)})
    user = Phone.objects.get(number=PHONE).user
    exported = browser.get("/account/data/?download=1")
    assert json.loads(exported.content)["account"]["phone"] == PHONE
    browser.post("/account/data/", {"action": "delete", "confirm": user.username})
    assert not Phone.objects.filter(number=PHONE).exists()
    # The number signs up again, as a new account.
    cache.delete(f"phone-code:resend:{PHONE}")
    browser.post("/accounts/login/", {"action": "phone_code", "phone": PHONE})
    browser.post("/accounts/login/", {"action": "phone_login", "code": last_code(sms, PHONE)})
    assert Phone.objects.get(number=PHONE).user != user


def test_the_data_page_shows_the_sign_in_methods(browser, sms):
    browser.post("/accounts/login/", {"action": "phone_code", "phone": PHONE})
    browser.post("/accounts/login/", {"action": "phone_login", "code": last_code(sms, PHONE)})
    html = browser.get("/account/data/").content.decode()
    assert "136****5678" in html and "设置密码（选填）" in html and "/accounts/3rdparty/" in html

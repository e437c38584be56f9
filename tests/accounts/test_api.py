"""POST /api/v1/auth/phone/code/ and /api/v1/auth/phone/login/ (API.md, version 1.1)."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import PhoneCode
from tests.conftest import last_code

PHONE = "13712345678"
CODE_URL, LOGIN_URL = "/api/v1/auth/phone/code/", "/api/v1/auth/phone/login/"


@pytest.fixture
def client(db, django_capture_on_commit_callbacks, sms):
    c = APIClient()
    original = c.post

    def post(*args, **kwargs):  # run the outbox's on-commit publishing, as a real request would
        with django_capture_on_commit_callbacks(execute=True):
            return original(*args, format="json", **kwargs)

    c.post = post
    return c


def test_code_then_login_creates_the_account_then_signs_into_it(client, sms):
    r = client.post(CODE_URL, {"phone": PHONE})
    assert r.status_code == 202, r.content
    assert r.json() == {"retry_after": 60}
    r = client.post(LOGIN_URL, {"phone": PHONE, "code": last_code(sms, PHONE)})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["created"] is True
    token = Token.objects.get(key=body["token"])
    assert token.user.phone.number == PHONE
    # The token works like the username + password one.
    authed = APIClient()
    authed.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert authed.get("/api/v1/gifts/").status_code == 200

    PhoneCode.objects.all().delete()
    from django.core.cache import cache

    cache.delete(f"phone-code:resend:{PHONE}")
    assert client.post(CODE_URL, {"phone": PHONE}).status_code == 202
    again = client.post(LOGIN_URL, {"phone": PHONE, "code": last_code(sms, PHONE)}).json()
    assert again == {"token": body["token"], "created": False}


@pytest.mark.parametrize("phone", ["12345", "02912345678", "", "1381234567x"])
def test_bad_phone_is_a_field_error(client, phone):
    r = client.post(CODE_URL, {"phone": phone})
    assert r.status_code == 400
    body = r.json()
    assert body["code"] in ("bad_phone", "invalid")  # blank fails the serializer first
    assert "phone" in body["fields"]
    if phone:
        assert body["code"] == "bad_phone"


def test_asking_again_too_soon_is_429_with_retry_after(client):
    assert client.post(CODE_URL, {"phone": PHONE}).status_code == 202
    r = client.post(CODE_URL, {"phone": PHONE})
    assert r.status_code == 429
    assert r.json()["code"] == "throttled"
    assert 1 <= int(r["Retry-After"]) <= 61


def test_wrong_code_then_too_many_tries(client, sms):
    client.post(CODE_URL, {"phone": PHONE})
    code = last_code(sms, PHONE)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        r = client.post(LOGIN_URL, {"phone": PHONE, "code": wrong})
        assert r.status_code == 400 and r.json()["code"] == "bad_code"
        assert "验证码不正确" in r.json()["detail"]
    r = client.post(LOGIN_URL, {"phone": PHONE, "code": code})
    assert r.status_code == 429
    assert r.json()["code"] == "throttled"
    assert int(r["Retry-After"]) >= 1
    assert not Token.objects.exists()


def test_expired_code(client, sms):
    from django.utils import timezone

    client.post(CODE_URL, {"phone": PHONE})
    PhoneCode.objects.update(expires_at=timezone.now())
    r = client.post(LOGIN_URL, {"phone": PHONE, "code": last_code(sms, PHONE)})
    assert r.status_code == 400
    assert r.json()["code"] == "code_expired"


def test_per_ip_limit_is_shared_with_the_pages(client, settings, django_capture_on_commit_callbacks):
    from django.test import Client

    settings.PHONE_CODE_PER_IP_PER_HOUR = 1
    with django_capture_on_commit_callbacks(execute=True):
        page = Client().post("/accounts/login/", {"action": "phone_code", "phone": "13700000001"})
    assert page.status_code == 200
    r = client.post(CODE_URL, {"phone": "13700000002"})
    assert r.status_code == 429 and r.json()["code"] == "throttled"


def test_demo_style_password_sign_in_still_answers_a_token(db, client):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("alice", password="giftshop-demo")
    r = client.post("/api/v1/auth/token/", {"username": "alice", "password": "giftshop-demo"})
    assert r.status_code == 200 and r.json()["token"]

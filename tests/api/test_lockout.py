"""Lockout after repeated wrong passwords (django-axes): on the token API, the shop's password page
and the merchant site, for one account from one address; other addresses are not affected; the
right password does not get through a lock; an operator can unlock."""

import pytest
from django.core.management import call_command
from django.test import Client

from tests.factories import ShopStaffFactory, UserFactory

pytestmark = pytest.mark.django_db

WRONG = "not-the-password"


def test_the_token_api_locks_the_account_for_that_address(api, sender, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        r = api.post("/api/v1/auth/token/", {"username": "alice", "password": WRONG}, format="json")
        assert r.status_code in (400, 429)
    locked = api.post("/api/v1/auth/token/", {"username": "alice", "password": "giftshop-demo"}, format="json")
    assert locked.status_code == 429
    assert locked.json()["code"] == "locked_out" and int(locked["Retry-After"]) == 15 * 60
    elsewhere = api.post(
        "/api/v1/auth/token/", {"username": "alice", "password": "giftshop-demo"}, format="json", REMOTE_ADDR="10.9.9.9"
    )
    assert elsewhere.status_code == 200

    call_command("axes_reset_username", "alice", verbosity=0)  # the operator unlocks
    again = api.post("/api/v1/auth/token/", {"username": "alice", "password": "giftshop-demo"}, format="json")
    assert again.status_code == 200


def test_the_shop_password_page_locks_and_says_so_in_chinese(sender, settings):
    client = Client()
    answers = [
        client.post("/accounts/password/login/", {"login": "alice", "password": WRONG})
        for _ in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert [r.status_code for r in answers][-1] == 429  # the failure that reaches the limit locks
    assert "登录失败次数过多" in answers[-1].content.decode()
    r = client.post("/accounts/password/login/", {"login": "alice", "password": "giftshop-demo"})
    assert r.status_code in (200, 429)  # refused (allauth's own per-account limit may answer first)
    assert "_auth_user_id" not in client.session


def test_the_merchant_login_locks_too(db, settings):
    staff = ShopStaffFactory(user=UserFactory(username="shopkeeper")).user
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/merchant/login/", {"username": staff.username, "password": WRONG})
    r = client.post("/merchant/login/", {"username": staff.username, "password": "giftshop-demo"})
    assert r.status_code == 429
    assert "_auth_user_id" not in client.session

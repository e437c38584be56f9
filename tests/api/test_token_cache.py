"""API token authentication from the shared cache (giftshop/token_auth.py): no database query once a
token is known, and never a stale answer after the token is deleted or the account deactivated."""

import logging
import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from giftshop.settings.base import BASE_DIR

User = get_user_model()
ME = "/api/v1/notifications/"


@pytest.fixture
def account(db):
    user = User.objects.create_user("tokened", password="x-long-password")
    return user, Token.objects.create(user=user).key


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _auth_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if "authtoken_token" in q["sql"]]


def test_a_known_token_costs_no_query(account):
    _, key = account
    assert _client(key).get(ME).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert _client(key).get(ME).status_code == 200
    assert _auth_queries(queries) == []


def test_a_deleted_token_is_refused_at_once(account):
    user, key = account
    assert _client(key).get(ME).status_code == 200
    Token.objects.filter(user=user).delete()  # sign-out, rotation, account deletion
    assert _client(key).get(ME).status_code == 401


def test_a_deactivated_account_is_refused_at_once(account):
    user, key = account
    assert _client(key).get(ME).status_code == 200
    user.is_active = False
    user.save()
    assert _client(key).get(ME).status_code == 401


def test_a_coded_refusal_writes_no_django_warning(account, make_gift, caplog):
    user, key = account
    gift = make_gift(mode="group", recipients=2)
    with caplog.at_level(logging.INFO, logger="django.request"):
        _client(key).post(f"/api/v1/claims/{gift.claim_token}/grab/")
        refused = _client(key).post(f"/api/v1/claims/{gift.claim_token}/grab/")
    assert refused.status_code == 409
    assert not [r for r in caplog.records if r.name == "django.request" and r.levelno >= logging.WARNING]


def test_drf_reads_our_settings_when_django_is_set_up_first():
    """The settings import the giftshop package (its Celery app); nothing on that path may read DRF's
    settings before ours exist, or DRF keeps its defaults (session and basic auth, no tokens)."""
    code = (
        "import django; django.setup();"
        "from rest_framework.settings import api_settings;"
        "print(api_settings.DEFAULT_AUTHENTICATION_CLASSES[0].__name__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env={"DJANGO_SETTINGS_MODULE": "giftshop.settings.test", "PATH": "/usr/bin:/bin", "HOME": "/tmp"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "CachedTokenAuthentication"


def test_the_cached_entry_is_plain_values_without_the_password_hash(account):
    from django.core.cache import cache

    from giftshop.token_auth import _cache_key

    user, key = account
    assert _client(key).get(ME).status_code == 200
    signature, values = cache.get(_cache_key(key))
    assert user.pk in values and user.username in values
    assert user.password not in values and all(not isinstance(v, User) for v in values)


def test_a_cached_account_is_the_database_row_and_reads_its_password_when_asked(account):
    from giftshop.token_auth import CachedTokenAuthentication

    user, key = account
    CachedTokenAuthentication().authenticate_credentials(key)  # fills the cache
    with CaptureQueriesContext(connection) as queries:
        cached, token = CachedTokenAuthentication().authenticate_credentials(key)
    assert queries.captured_queries == []
    assert (cached.pk, cached.username, cached.is_active, cached.date_joined) == (
        user.pk,
        user.username,
        user.is_active,
        user.date_joined,
    )
    assert token.key == key and token.user == cached
    assert cached.check_password("x-long-password")  # the hash comes from the database


def test_an_entry_written_for_other_columns_is_read_again_from_the_database(account):
    """A rolling deploy that changes the account model: the other version's entries are misses."""
    from django.core.cache import cache

    from giftshop.token_auth import _cache_key

    user, key = account
    cache.set(_cache_key(key), ("0ther", (user.pk, "someone-else")), 60)
    with CaptureQueriesContext(connection) as queries:
        assert _client(key).get(ME).status_code == 200
    assert _auth_queries(queries)
    assert cache.get(_cache_key(key))[0] != "0ther"


def test_signing_out_stops_the_token_at_once_and_the_next_sign_in_gets_a_new_one(account):
    user, key = account
    client = _client(key)
    assert client.get(ME).status_code == 200  # known, and cached
    assert client.delete("/api/v1/auth/token/").status_code == 204
    refused = client.get(ME)
    assert refused.status_code == 401 and refused.json()["code"] == "authentication_failed"
    assert client.delete("/api/v1/auth/token/").status_code == 401  # nothing left to sign out
    signed_in = APIClient().post(
        "/api/v1/auth/token/", {"username": user.username, "password": "x-long-password"}, format="json"
    )
    assert signed_in.status_code == 200
    fresh = signed_in.json()["token"]
    assert fresh != key and _client(fresh).get(ME).status_code == 200


def test_signing_out_needs_the_token(db):
    assert APIClient().delete("/api/v1/auth/token/").status_code == 401


def test_a_sign_out_between_the_check_and_the_cache_write_still_stops_the_token(account, monkeypatch):
    """The first request reads the token, a sign-out commits, then the request caches what it read."""
    from giftshop import token_auth

    _, key = account
    real = token_auth.tokens_remember

    def signed_out_meanwhile(accounts):
        Token.objects.filter(key=key).delete()
        real(accounts)

    monkeypatch.setattr(token_auth, "tokens_remember", signed_out_meanwhile)
    assert _client(key).get(ME).status_code == 401
    monkeypatch.setattr(token_auth, "tokens_remember", real)
    assert _client(key).get(ME).status_code == 401  # nothing cached was left behind

"""Rate limits: sign-up/sign-in per IP (scope `auth`); grab/accept/decline per account (`claim`) and per IP
(`claim_ip`). A throttled call is a 429 with `Retry-After` and the standard error body.

The test settings use huge rates, and DRF reads rates into the throttle class when it is defined, so
each test patches the class's `THROTTLE_RATES`; the autouse fixture clears the cache between tests.
"""

from __future__ import annotations

import pytest

from gifts.throttles import ClaimIpThrottle, ClaimThrottle
from giftshop.api_auth import AuthThrottle
from tests.conftest import ADDRESS, api_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(monkeypatch):
    def _set(**rates):
        for cls in (AuthThrottle, ClaimThrottle, ClaimIpThrottle):
            monkeypatch.setattr(
                cls, "THROTTLE_RATES", {"auth": "1000/min", "claim": "1000/min", "claim_ip": "1000/min", **rates}
            )

    return _set


def assert_throttled(response):
    assert response.status_code == 429, response.content
    assert int(response["Retry-After"]) > 0
    body = response.json()
    assert body["code"] == "throttled" and body["detail"] and "fields" not in body


def test_sign_in_is_throttled_per_ip_after_the_limit(rates, api, sender):
    rates(auth="3/min")
    creds = {"username": "alice", "password": "wrong-password"}
    for _ in range(3):
        assert api.post("/api/v1/auth/token/", creds, format="json").status_code == 400
    assert_throttled(api.post("/api/v1/auth/token/", {**creds, "password": "giftshop-demo"}, format="json"))
    elsewhere = api.post(
        "/api/v1/auth/token/", {**creds, "password": "giftshop-demo"}, format="json", REMOTE_ADDR="10.0.0.9"
    )
    assert elsewhere.status_code == 200


def test_a_forged_x_forwarded_for_does_not_reset_the_limit(rates, api, sender):
    """No trusted proxy configured (NUM_PROXIES=0): the header is ignored, the socket address counts."""
    rates(auth="3/min")
    creds = {"username": "alice", "password": "wrong-password"}
    for i in range(3):
        forged = {"HTTP_X_FORWARDED_FOR": f"203.0.113.{i}"}
        assert api.post("/api/v1/auth/token/", creds, format="json", **forged).status_code == 400
    assert_throttled(api.post("/api/v1/auth/token/", creds, format="json", HTTP_X_FORWARDED_FOR="198.51.100.7"))


def test_behind_one_trusted_proxy_the_address_it_saw_counts(rates, api, sender, monkeypatch):
    """NUM_PROXIES=1 (one nginx appending $remote_addr): a client's own X-Forwarded-For entries are
    ignored; the entry the proxy appended is the client."""
    from rest_framework.settings import api_settings

    from giftshop.client_ip import client_ip

    monkeypatch.setattr(api_settings, "NUM_PROXIES", 1)
    rates(auth="2/min")
    creds = {"username": "alice", "password": "wrong-password"}
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for forged in ("6.6.6.6", "7.7.7.7"):
        header = {"HTTP_X_FORWARDED_FOR": f"{forged}, 192.0.2.10"}
        assert api.post("/api/v1/auth/token/", creds, format="json", **proxy, **header).status_code == 400
    assert_throttled(
        api.post("/api/v1/auth/token/", creds, format="json", **proxy, HTTP_X_FORWARDED_FOR="8.8.8.8, 192.0.2.10")
    )
    other = api.post("/api/v1/auth/token/", creds, format="json", **proxy, HTTP_X_FORWARDED_FOR="192.0.2.11")
    assert other.status_code == 400

    from django.test import RequestFactory

    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 192.0.2.10")
    assert client_ip(request) == "192.0.2.10"


def test_register_shares_the_auth_limit(rates, api):
    rates(auth="2/min")
    assert (
        api.post(
            "/api/v1/auth/register/", {"username": "user1", "password": "a-long-passphrase"}, format="json"
        ).status_code
        == 201
    )
    assert (
        api.post(
            "/api/v1/auth/token/", {"username": "user1", "password": "a-long-passphrase"}, format="json"
        ).status_code
        == 200
    )
    assert_throttled(
        api.post("/api/v1/auth/register/", {"username": "user2", "password": "a-long-passphrase"}, format="json")
    )


def test_grab_is_throttled_per_account_not_for_other_accounts(rates, make_gift, recipient, other):
    rates(claim="2/min")
    gift = make_gift(mode="group", recipients=5)
    bob = api_for(recipient)
    assert bob.post(f"/api/v1/claims/{gift.claim_token}/grab/").status_code == 200
    assert bob.post(f"/api/v1/claims/{gift.claim_token}/grab/").status_code == 409
    assert_throttled(bob.post(f"/api/v1/claims/{gift.claim_token}/grab/"))
    assert api_for(other).post(f"/api/v1/claims/{gift.claim_token}/grab/").status_code == 200


def test_accept_is_throttled_per_account(rates, make_gift, recipient):
    rates(claim="1/min")
    gift = make_gift(mode="group", recipients=5)
    bob = api_for(recipient)
    bad = {"address": {**ADDRESS, "phone": "123"}}
    assert bob.post(f"/api/v1/claims/{gift.claim_token}/accept/", bad, format="json").status_code == 400
    assert_throttled(bob.post(f"/api/v1/claims/{gift.claim_token}/accept/", {"address": ADDRESS}, format="json"))


def test_grab_is_throttled_per_ip_across_accounts(rates, make_gift):
    rates(claim_ip="3/min")
    gift = make_gift(mode="group", recipients=10)
    accounts = [api_for(UserFactory()) for _ in range(4)]
    for client in accounts[:3]:
        assert client.post(f"/api/v1/claims/{gift.claim_token}/grab/").status_code == 200
    assert_throttled(accounts[3].post(f"/api/v1/claims/{gift.claim_token}/grab/"))
    other_ip = accounts[3].post(f"/api/v1/claims/{gift.claim_token}/grab/", REMOTE_ADDR="10.1.2.3")
    assert other_ip.status_code == 200


def test_reads_are_not_throttled_by_the_claim_limit(rates, make_gift, recipient):
    rates(claim="1/min", claim_ip="1/min")
    gift = make_gift(mode="group", recipients=5)
    bob = api_for(recipient)
    assert bob.post(f"/api/v1/claims/{gift.claim_token}/grab/").status_code == 200
    for _ in range(3):
        assert bob.get(f"/api/v1/claims/{gift.claim_token}/").status_code == 200


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "in-process"])
def test_a_limit_holds_when_many_requests_arrive_at_once(shared, rates, settings, tmp_path):
    """32 requests of one account at the same moment against a limit of 5: exactly 5 go through, in
    the shared Redis as in the in-process counts (DRF's read-then-write history let 10 through)."""
    import threading

    from django.test import RequestFactory
    from rest_framework.request import Request

    from giftshop.settings.base import cache_config
    from tests.servers import RedisServer

    server = None
    if shared:
        server = RedisServer(log_path=tmp_path / "redis.log").start()
        settings.CACHES = {"default": cache_config(server.url, socket_timeout=2)}
    try:
        rates(claim="5/min")
        user = UserFactory()
        start = threading.Barrier(32)
        allowed: list[bool] = []

        def hit():
            request = Request(RequestFactory().post("/api/v1/claims/x/grab/"))
            request.user = user
            throttle = ClaimThrottle()
            start.wait()
            allowed.append(throttle.allow_request(request, None))

        threads = [threading.Thread(target=hit) for _ in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert allowed.count(True) == 5 and len(allowed) == 32
        late = ClaimThrottle()
        request = Request(RequestFactory().post("/api/v1/claims/x/grab/"))
        request.user = user
        assert late.allow_request(request, None) is False and 0 < late.wait() <= 60
    finally:
        if server is not None:
            server.stop()


def test_the_claim_page_counts_against_the_api_s_limits(rates, make_gift, recipient, other):
    """The claim page's grab is no way around the limits: the same per-account count as the API's,
    and over it the page says when to try again (429, Retry-After) and takes nothing."""
    from django.test import Client

    from gifts.models import Slot

    rates(claim="2/min")
    warm, gift = make_gift(mode="group", recipients=5), make_gift(mode="group", recipients=5)
    assert api_for(recipient).post(f"/api/v1/claims/{warm.claim_token}/grab/").status_code == 200
    page = Client()
    page.force_login(recipient)
    assert page.post(warm.claim_path(), {"action": "grab"}).status_code == 200  # the second: already yours
    refused = page.post(gift.claim_path(), {"action": "grab"})
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "操作太频繁，请" in refused.content.decode()
    assert not Slot.objects.filter(gift=gift, recipient=recipient).exists()
    assert_throttled(api_for(recipient).post(f"/api/v1/claims/{gift.claim_token}/grab/"))
    others_page = Client()
    others_page.force_login(other)
    assert others_page.post(gift.claim_path(), {"action": "grab"}).status_code == 302  # grabbed: back to the card
    assert page.get(gift.claim_path()).status_code == 200  # looking is not counted

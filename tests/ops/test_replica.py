"""The database router (giftshop/replica.py): which alias served each query.

The `replica` alias here is a second connection to the test database (a test mirror), so the data
is the same and what is checked is the routing: read-heavy GETs read from it; a client who just
wrote reads from the primary; money, locks and transactions never touch it; a lagging or dead
replica hands every read to the primary without an error. The cluster drill
(`make drill-cluster`) runs the same code against a real streaming replica.
"""

from __future__ import annotations

import contextlib
import socket

import pytest
from django.db import connections
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from gifts.models import Slot
from giftshop import replica as router
from tests.conftest import ADDRESS, api_for, pay
from tests.factories import ShopStaffFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica"])


@pytest.fixture(autouse=True)
def replica_on(settings):
    settings.REPLICA_ENABLED = True
    settings.REPLICA_CHECK_SECONDS = 60  # one check per test, so the counts below are the pages' own
    router.forget_replica_health()
    yield
    router.forget_replica_health()
    connections["replica"].close()


class Served:
    def __init__(self):
        self.primary: list[str] = []
        self.replica: list[str] = []


@contextlib.contextmanager
def served():
    """The SQL each alias ran inside the block (wrappers, so a replica that is down is no error here)."""
    result = Served()

    def recorder(into):
        def wrapper(execute, sql, params, many, context):
            into.append(sql)
            return execute(sql, params, many, context)

        return wrapper

    with (
        connections["default"].execute_wrapper(recorder(result.primary)),
        connections["replica"].execute_wrapper(recorder(result.replica)),
    ):
        yield result
    result.replica = [sql for sql in result.replica if "pg_is_in_recovery" not in sql]


def token_client(user) -> APIClient:
    """An app: a token in the Authorization header and no cookie jar (cookies are dropped after each call)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def paid_gift(sender, sku, **body):
    body = {"sku_id": sku.pk, "mode": "single", "recipients": 1, **body}
    r = api_for(sender).post("/api/v1/gifts/", body, format="json")
    assert r.status_code == 201, r.content
    from gifts.models import Gift

    return pay(Gift.objects.get(pk=r.data["id"]))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def replica_down():
    """The replica's host stops answering: its alias points at a port nobody listens on."""
    conn = connections["replica"]
    saved = conn.settings_dict["PORT"]
    conn.close()
    conn.settings_dict["PORT"] = closed_port()
    try:
        yield
    finally:
        conn.close()
        conn.settings_dict["PORT"] = saved


def test_read_heavy_pages_read_from_the_replica(sku):
    client = Client()
    for url in ("/", f"/products/{sku.product_id}/", "/api/v1/products/", f"/api/v1/products/{sku.product_id}/"):
        with served() as q:
            r = client.get(url)
        assert r.status_code == 200, url
        assert q.replica, f"{url} read nothing from the replica"
        assert not [s for s in q.primary if s.lstrip().upper().startswith("SELECT")], url


def test_a_page_that_is_not_listed_reads_from_the_primary(sender, sku):
    gift = paid_gift(sender, sku)
    client = Client()
    client.force_login(sender)
    with served() as q:
        r = client.get(f"/gifts/{gift.pk}/card/")
    assert r.status_code == 200
    assert q.primary and not q.replica


def test_nothing_outside_a_request_reads_the_replica(sender, sku):
    """Workers, beat and commands have no request: a task reads what it will change from the primary."""
    from shops.models import Product

    with served() as q:
        assert Product.objects.count() == 1
        paid_gift(sender, sku)
    assert q.primary and not q.replica


def test_recipient_who_just_accepted_sees_it_on_the_primary(sender, recipient, sku):
    """Read-your-writes on the page: 已收下 right after the POST, the card read from the primary."""
    gift = paid_gift(sender, sku)
    bob = Client()
    bob.force_login(recipient)
    r = bob.get(f"/c/{gift.claim_token}/")
    assert r.status_code == 200
    # Opening the card is a write (an event): bob is pinned from here on; a fresh client is not.
    assert router.PIN_COOKIE in r.cookies
    form = {"action": "accept", **ADDRESS}
    r = bob.post(f"/c/{gift.claim_token}/", form)
    assert r.status_code == 302, r.content.decode()[:2000]
    with served() as q:
        r = bob.get(f"/c/{gift.claim_token}/")
    assert "已收下" in r.content.decode()
    assert q.primary and not q.replica

    stranger = Client()
    with served() as q:
        assert stranger.get(f"/c/{gift.claim_token}/").status_code == 200
    assert q.replica, "an anonymous visitor's card should come from the replica"


@pytest.mark.parametrize("kind", ["create", "grab", "accept", "decline", "ship", "withdraw"])
def test_an_app_that_just_wrote_reads_from_the_primary(kind, sender, recipient, sku):
    """Read-your-writes for token clients (no cookies): pinned through the shared cache.

    After each kind of write the same client's next list or card comes from the primary and shows
    the write; another client's identical read still comes from the replica.
    """
    merchant = ShopStaffFactory(shop=sku.product.shop, user=UserFactory(username="merchant")).user
    alice, bob, shop = token_client(sender), token_client(recipient), token_client(merchant)
    if kind == "create":
        writer, r = alice, alice.post("/api/v1/gifts/", {"sku_id": sku.pk, "recipients": 1}, format="json")
        gift_id = r.data["id"]
        read, seen = "/api/v1/gifts/", lambda data: data["results"][0]["id"] == gift_id
        other = token_client(UserFactory(username="dave"))
    else:
        group = {"mode": "group", "recipients": 2} if kind == "grab" else {}
        gift = paid_gift(sender, sku, **group)
        claim = f"/api/v1/claims/{gift.claim_token}/"
        other = token_client(UserFactory(username="dave"))
        if kind == "grab":
            writer, r = bob, bob.post(claim + "grab/")
            read, seen = claim, lambda data: data["your_slot"]["status"] == "unclaimed"
            other = None  # opening a card is itself a write (the first time): nothing to compare
        elif kind == "accept":
            writer, r = bob, bob.post(claim + "accept/", {"address": ADDRESS}, format="json")
            read, seen = "/api/v1/received/", lambda data: data["results"][0]["status"] == "to_ship"
        elif kind == "decline":
            writer, r = bob, bob.post(claim + "decline/")
            read, seen = claim, lambda data: data["your_slot"]["status"] in ("declined", "refunded")
            other = None
        elif kind == "ship":
            bob.post(claim + "accept/", {"address": ADDRESS}, format="json")
            slot = Slot.objects.get(gift=gift)
            slot.shipment.delete()  # the sandbox courier's waybill aside: the merchant ships by hand
            writer = shop
            r = shop.post(
                f"/api/v1/merchant/orders/{slot.pk}/ship/",
                {"carrier": "顺丰", "tracking_no": "SF1234567890"},
                format="json",
            )
            read, seen = "/api/v1/merchant/orders/", lambda data: data["results"][0]["status"] == "shipped"
            other = token_client(ShopStaffFactory(shop=sku.product.shop, user=UserFactory(username="m2")).user)
        else:  # withdraw
            writer, r = alice, alice.post(f"/api/v1/gifts/{gift.pk}/withdraw/")
            read, seen = f"/api/v1/gifts/{gift.pk}/", lambda data: data["status"] == "refunded"
            other = None
    assert r.status_code in (200, 201, 202), r.content
    writer.cookies.clear()  # an app that keeps no cookies: the pin must come from the shared cache
    with served() as q:
        r = writer.get(read)
    assert r.status_code == 200 and seen(r.data), r.data
    assert q.primary and not q.replica, f"after {kind} the writer read from the replica"
    if other is not None:
        with served() as q:
            assert other.get(read).status_code == 200
        assert q.replica, f"{read} should come from the replica for a client that did not write"


MONEY_TABLES = ('FROM "gifts_payment"', 'FROM "gifts_refund"')


def test_money_stock_and_locks_never_read_the_replica(sender, recipient, sku, settings):
    """A whole journey by pages (create, pay, open, accept; a second gift declined and refunded; a
    third withdrawn) with every GET view allowed to read from the replica, the worst configuration.
    Every POST (order, payment, grab, accept, decline, withdraw: stock, money and slots) reads
    nothing from the replica; on the GETs, payments and refunds are still read from the primary, and
    no lock or write goes near the replica."""
    from django.urls import get_resolver

    from gifts.models import Gift
    from payments.models import Refund

    settings.REPLICA_READ_VIEWS = [n for n in get_resolver().reverse_dict if isinstance(n, str)]
    on_replica: dict[str, list[str]] = {}

    def call(client, method, url, data=None):
        with served() as q:
            r = getattr(client, method)(url, data or {})
        on_replica[f"{method.upper()} {url}"] = q.replica
        client.cookies.pop(router.PIN_COOKIE, None)  # unpinned: each GET may use the replica
        return r

    alice, bob = Client(), Client()
    alice.force_login(sender)
    bob.force_login(recipient)
    for decline in (False, True):
        r = call(
            alice, "post", f"/products/{sku.product_id}/gift/", {"sku_id": sku.pk, "mode": "single", "quantity": 1}
        )
        assert r.status_code == 302
        gift = Gift.objects.latest("pk")
        for page in (
            f"/products/{sku.product_id}/",
            f"/gifts/{gift.pk}/",
            "/gifts/",
            f"/pay/{gift.payment.out_trade_no}/",
        ):
            call(alice, "get", page)
        assert call(alice, "post", f"/sandbox/pay/{gift.payment.out_trade_no}/").status_code in (200, 302)
        call(bob, "get", f"/c/{gift.claim_token}/")
        action = {"action": "decline"} if decline else {"action": "accept", **ADDRESS}
        assert call(bob, "post", f"/c/{gift.claim_token}/", action).status_code == 302
        call(bob, "get", "/received/")
        call(alice, "get", f"/gifts/{gift.pk}/")
    third = paid_gift(sender, sku)
    call(alice, "post", f"/gifts/{third.pk}/withdraw/")

    replica_sql = [sql for queries in on_replica.values() for sql in queries]
    assert replica_sql, "the pages above should have read something from the replica"
    posts = {request: queries for request, queries in on_replica.items() if request.startswith("POST")}
    assert posts and not any(posts.values()), [r for r, q in posts.items() if q]
    assert not [s for s in replica_sql if any(t in s for t in MONEY_TABLES)]
    assert not [s for s in replica_sql if "FOR UPDATE" in s or s.lstrip().upper().startswith(("UPDATE", "INSERT"))]
    assert Refund.objects.filter(status="succeeded").count() == 2  # the decline and the withdrawal
    sku.refresh_from_db()
    assert sku.stock == 100 - 1  # the accepted gift's unit; the declined and withdrawn came back


def test_a_lagging_replica_is_left_alone(monkeypatch, sku, settings):
    settings.REPLICA_MAX_LAG_SECONDS = 5
    monkeypatch.setattr(router, "replica_lag_seconds", lambda: 30.0)
    with served() as q:
        r = Client().get(f"/products/{sku.product_id}/")
    assert r.status_code == 200 and not q.replica and q.primary
    assert Client().get("/readyz").json()["checks"]["replica"] == "fallback"

    monkeypatch.setattr(router, "replica_lag_seconds", lambda: 1.0)
    router.forget_replica_health()
    with served() as q:
        Client().get(f"/products/{sku.product_id}/")
    assert q.replica


def test_the_lag_query_runs_on_postgresql():
    """On a server that is not a standby the query says 0 (the drill checks a real standby)."""
    assert router.replica_lag_seconds() == 0


def test_a_replica_that_is_down_costs_no_error(sku):
    with replica_down():
        with served() as q:
            r = Client().get(f"/products/{sku.product_id}/")
            api = Client().get("/api/v1/products/")
        assert r.status_code == 200 and api.status_code == 200
        assert not q.replica
        ready = Client().get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["replica"] == "fallback"


@pytest.mark.parametrize("url", ["/products/{pk}/", "/api/v1/products/"])
def test_a_replica_that_dies_mid_request_is_retried_on_the_primary(url, sku):
    """Checked healthy a moment ago, gone now: the GET runs again on the primary, not a 503."""
    assert router.replica_usable()
    with replica_down():
        with served() as q:
            r = Client().get(url.format(pk=sku.product_id))
        assert r.status_code == 200, r.content[:500]
        assert q.primary
        assert router.replica_status() == "fallback"

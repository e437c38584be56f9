"""Who may do what, endpoint by endpoint: anonymous, sender, recipient, another account, and the staff
of shop A (which sells the gifts) and of shop B. Not yours looks exactly like missing (404)."""

from __future__ import annotations

import pytest

from tests.api.conftest import ACTORS
from tests.conftest import ADDRESS

pytestmark = pytest.mark.django_db

ALL_OK = {actor: 200 for actor in ACTORS}
SIGNED_IN = {"anonymous": 401, **{actor: 200 for actor in ACTORS[1:]}}


def only(owner: str, ok: int = 200, others: int = 404) -> dict:
    return {"anonymous": 401, **{actor: ok if actor == owner else others for actor in ACTORS[1:]}}


# (name, method, path(world), body(world) or None, expected status per actor)
TABLE = [
    ("product-list", "get", lambda w: "/api/v1/products/", None, ALL_OK),
    ("product-detail", "get", lambda w: f"/api/v1/products/{w.sku_a.product_id}/", None, ALL_OK),
    (
        "gift-create",
        "post",
        lambda w: "/api/v1/gifts/",
        lambda w: {"sku_id": w.sku_a.pk, "mode": "single", "recipients": 1},
        {**SIGNED_IN, **{a: 201 for a in ACTORS[1:]}},
    ),
    ("gift-list", "get", lambda w: "/api/v1/gifts/", None, SIGNED_IN),
    ("gift-detail", "get", lambda w: f"/api/v1/gifts/{w.gift.pk}/", None, only("sender")),
    ("claim-card", "get", lambda w: f"/api/v1/claims/{w.group_gift.claim_token}/", None, SIGNED_IN),
    (
        "claim-grab",
        "post",
        lambda w: f"/api/v1/claims/{w.group_gift.claim_token}/grab/",
        None,
        {**SIGNED_IN, "sender": 403},
    ),
    (
        "claim-accept-group",
        "post",
        lambda w: f"/api/v1/claims/{w.group_gift.claim_token}/accept/",
        lambda w: {"address": ADDRESS},
        {"anonymous": 401, "sender": 403, **{a: 202 for a in ACTORS[2:]}},
    ),
    (
        "claim-accept-named",
        "post",
        lambda w: f"/api/v1/claims/{w.named_gift.claim_token}/accept/",
        lambda w: {"address": ADDRESS},
        only("recipient", ok=202, others=403),
    ),
    (
        "claim-decline-named",
        "post",
        lambda w: f"/api/v1/claims/{w.named_gift.claim_token}/decline/",
        None,
        only("recipient", others=403),
    ),
    ("received-list", "get", lambda w: "/api/v1/received/", None, SIGNED_IN),
    (
        "received-thanks",
        "post",
        lambda w: f"/api/v1/received/{w.slot.pk}/thanks/",
        lambda w: {"thanks": "谢谢！"},
        only("recipient"),
    ),
    ("address-list", "get", lambda w: "/api/v1/addresses/", None, SIGNED_IN),
    (
        "address-create",
        "post",
        lambda w: "/api/v1/addresses/",
        lambda w: ADDRESS,
        {**SIGNED_IN, **{a: 201 for a in ACTORS[1:]}},
    ),
    ("address-delete", "delete", lambda w: f"/api/v1/addresses/{w.saved_address.pk}/", None, only("recipient", 204)),
    ("notification-list", "get", lambda w: "/api/v1/notifications/", None, SIGNED_IN),
    ("notification-read", "post", lambda w: "/api/v1/notifications/read/", lambda w: {}, SIGNED_IN),
    ("merchant-shops", "get", lambda w: "/api/v1/merchant/shops/", None, SIGNED_IN),
    (
        "merchant-gifting",
        "post",
        lambda w: f"/api/v1/merchant/shops/{w.sku_a.product.shop_id}/gifting/",
        lambda w: {"gifting_enabled": False},
        only("merchant_a"),
    ),
    ("merchant-products", "get", lambda w: "/api/v1/merchant/products/", None, SIGNED_IN),
    (
        "merchant-sku-stock",
        "patch",
        lambda w: f"/api/v1/merchant/skus/{w.sku_a.pk}/",
        lambda w: {"stock": 7},
        only("merchant_a"),
    ),
    ("merchant-orders", "get", lambda w: "/api/v1/merchant/orders/", None, SIGNED_IN),
    (
        "merchant-ship",
        "post",
        lambda w: f"/api/v1/merchant/orders/{w.slot.pk}/ship/",
        lambda w: {"carrier": "顺丰", "tracking_no": "SF1001"},
        only("merchant_a"),
    ),
    (
        "merchant-refund",
        "post",
        lambda w: f"/api/v1/merchant/orders/{w.slot.pk}/refund/",
        lambda w: {"reason": "破损"},
        only("merchant_a", ok=202),
    ),
]


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize(("method", "path", "body", "expected"), [pytest.param(*row[1:], id=row[0]) for row in TABLE])
def test_endpoint_answers_each_actor_as_the_table_says(world, actor, method, path, body, expected):
    client = world.client(actor)
    kwargs = {"format": "json"} if body is None else {"data": body(world), "format": "json"}
    r = getattr(client, method)(path(world), **kwargs)
    assert r.status_code == expected[actor], r.content
    if r.status_code >= 400:
        assert set(r.json()) >= {"code", "detail"}


def _ids(response) -> set[int]:
    data = response.json()
    return {row["id"] for row in (data["results"] if isinstance(data, dict) else data)}


def test_each_sender_lists_only_their_own_gifts(world):
    assert _ids(world.client("sender").get("/api/v1/gifts/")) == {
        world.gift.pk,
        world.group_gift.pk,
        world.named_gift.pk,
    }
    assert _ids(world.client("other").get("/api/v1/gifts/")) == {world.b_gift.pk}
    assert _ids(world.client("recipient").get("/api/v1/gifts/")) == set()


def test_each_recipient_lists_only_their_own_received_slots(world):
    assert _ids(world.client("recipient").get("/api/v1/received/")) == {world.slot.pk, world.b_gift.slots.get().pk}
    for actor in ("sender", "other", "merchant_a", "merchant_b"):
        assert _ids(world.client(actor).get("/api/v1/received/")) == set()


def test_merchants_see_only_their_own_shops_orders_products_and_shops(world):
    b_slot = world.b_gift.slots.get()
    a, b = world.client("merchant_a"), world.client("merchant_b")
    shop_a_slots = {s.pk for g in (world.gift, world.group_gift, world.named_gift) for s in g.slots.all()}
    assert _ids(a.get("/api/v1/merchant/orders/")) == shop_a_slots
    assert _ids(b.get("/api/v1/merchant/orders/")) == {b_slot.pk}
    assert _ids(a.get("/api/v1/merchant/products/")) == {world.sku_a.product_id}
    assert _ids(b.get("/api/v1/merchant/products/")) == {world.sku_b.product_id}
    assert _ids(a.get("/api/v1/merchant/shops/")) == {world.sku_a.product.shop_id}
    for actor in ("sender", "recipient", "other"):
        client = world.client(actor)
        assert _ids(client.get("/api/v1/merchant/orders/")) == set()
        assert _ids(client.get("/api/v1/merchant/products/")) == set()


def test_merchant_b_cannot_ship_or_refund_shop_a_orders_and_nothing_changes(world):
    b = world.client("merchant_b")
    assert (
        b.post(f"/api/v1/merchant/orders/{world.slot.pk}/ship/", {"carrier": "x", "tracking_no": "y"}).status_code
        == 404
    )
    assert b.post(f"/api/v1/merchant/orders/{world.slot.pk}/refund/", {}).status_code == 404
    world.slot.refresh_from_db()
    assert world.slot.status == "to_ship" and not world.slot.refunds.exists()


def test_only_the_owner_reads_their_notifications(world):
    ids = {n.pk for n in world.sender.notifications.all()}
    assert ids and _ids(world.client("sender").get("/api/v1/notifications/")) == ids
    assert not ids & _ids(world.client("other").get("/api/v1/notifications/"))


def test_no_sender_facing_endpoint_ever_shows_the_recipients_name_phone_or_street(world):
    sender = world.client("sender")
    world.client("recipient").post(f"/api/v1/received/{world.slot.pk}/thanks/", {"thanks": "谢谢"}, format="json")
    pages = [
        sender.get(f"/api/v1/gifts/{world.gift.pk}/"),
        sender.get("/api/v1/gifts/"),
        sender.get("/api/v1/notifications/"),
        world.client("other").get(f"/api/v1/claims/{world.gift.claim_token}/"),
    ]
    for page in pages:
        assert page.status_code == 200
        body = page.content.decode()
        for secret in (ADDRESS["name"], ADDRESS["phone"], ADDRESS["detail"], "5678"):
            assert secret not in body, page.request["PATH_INFO"]


@pytest.mark.parametrize("actor", ACTORS)
def test_webhooks_need_only_a_valid_signature_whoever_calls(settings, world, actor):
    from sandbox import signing
    from sandbox.carrier import tracking_body

    client = world.client(actor)
    body = tracking_body(world.slot.shipment.waybill_no, "collected")
    unsigned = client.post("/api/v1/carriers/notify/sandbox/", body, content_type="application/json")
    assert unsigned.status_code == 401 and unsigned.json()["code"] == "bad_signature"
    signed = client.post(
        "/api/v1/carriers/notify/sandbox/",
        body,
        content_type="application/json",
        headers={signing.HEADER: signing.sign(body, settings.SANDBOX_CARRIER_SECRET)},
    )
    assert signed.status_code == 200

"""Page cost at small and large data: statements and server time of the product page, the claim page,
the sender's gift page and gift list, and the sender's gift API, with 10 and with 10,000 gifts behind
them (the group gift on the pages grows from 10 to 1,000 recipients). Through Django's test client
in-process, statements counted with CaptureQueriesContext. The count must not grow with the data."""

from __future__ import annotations

import time
from datetime import timedelta

from bench.common import SCALE, bulk_users, catalogue, log, median, paid_gift

SIZES = (10, max(100, int(10_000 * SCALE)))
REPEAT = 5


def _world(size: int) -> dict:
    """A sender with `size` gifts on one product; one of them a group gift with min(size, 1000) slots,
    half of them accepted with an address and a waybill."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from fulfilment.models import Shipment
    from gifts.models import Gift, ShippingAddress, Slot, SlotStatus
    from payments.models import Payment

    cat = catalogue(slug=f"pages-{size}", stock=10 * size + 10_000)
    sender = get_user_model().objects.create_user(f"pages-sender-{size}", password="bench-pass")
    slots = min(size, 1000)
    group = paid_gift(sender=sender, sku=cat.sku, mode="group", recipients=slots)
    now = timezone.now()
    others = Gift.objects.bulk_create(
        (
            Gift(
                sender=sender,
                shop=cat.shop,
                sku=cat.sku,
                unit_price_fen=cat.sku.price_fen,
                amount_fen=cat.sku.price_fen,
                status="sent",
                pay_deadline=now,
                paid_at=now,
                expires_at=now + timedelta(days=1),
            )
            for _ in range(size - 1)
        ),
        batch_size=2000,
    )
    Slot.objects.bulk_create((Slot(gift=g, number=1, sku=cat.sku, expires_at=g.expires_at) for g in others), 2000)
    Payment.objects.bulk_create(
        (
            Payment(gift=g, provider="sandbox", out_trade_no=f"PAGES{g.pk}", amount_fen=g.amount_fen, status="paid")
            for g in others
        ),
        batch_size=2000,
    )
    recipients = [uid for uid, _ in bulk_users(f"pages-{size}-r", slots)]
    taken = list(Slot.objects.filter(gift=group).order_by("number")[: slots // 2])
    for slot, uid in zip(taken, recipients, strict=False):
        slot.recipient_id, slot.status, slot.taken_at, slot.accepted_at = uid, SlotStatus.TO_SHIP, now, now
    Slot.objects.bulk_update(taken, ["recipient", "status", "taken_at", "accepted_at"], batch_size=1000)
    ShippingAddress.objects.bulk_create(
        ShippingAddress(
            slot=s,
            name="张三",
            phone="13812345678",
            province="广东省",
            city="深圳市",
            district="南山区",
            detail="科技园南路 88 号",
        )
        for s in taken
    )
    Shipment.objects.bulk_create(
        Shipment(slot=s, shop=cat.shop, carrier="sandbox", waybill_no=f"SBXPAGES{s.pk}", status="issued", issued_at=now)
        for s in taken
    )
    recipient = get_user_model().objects.get(pk=recipients[0])
    return {"cat": cat, "sender": sender, "group": group, "recipient": recipient, "slots": slots}


def _measure(path: str, user) -> dict:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    if user is not None:
        client.force_login(user)
    response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"{path}: HTTP {response.status_code}")
    times, counts = [], []
    for _ in range(REPEAT):
        with CaptureQueriesContext(connection) as queries:
            t0 = time.perf_counter()
            client.get(path)
            times.append((time.perf_counter() - t0) * 1000)
        counts.append(len(queries.captured_queries))
    return {"queries": max(counts), "ms": round(median(times), 1)}


def run(server) -> dict:
    worlds = {}
    for size in SIZES:
        log(f"page cost: building the {size:,}-gift world")
        worlds[size] = _world(size)
    small, large = (worlds[s] for s in SIZES)

    def pages(w: dict) -> dict:
        return {
            "product page": (f"/products/{w['cat'].product.pk}/", None),
            "claim page (recipient)": (f"/c/{w['group'].claim_token}/", w["recipient"]),
            "sender gift page": (f"/gifts/{w['group'].pk}/", w["sender"]),
            "sender gift list": ("/gifts/", w["sender"]),
            "API gift detail (sender)": (f"/api/v1/gifts/{w['group'].pk}/", w["sender"]),
        }

    results = []
    for name in pages(small):
        a = _measure(*pages(small)[name])
        b = _measure(*pages(large)[name])
        constant = a["queries"] == b["queries"]
        results.append({"name": name, "small": a, "large": b, "constant": constant})
        log(
            f"page cost: {name}: {a['queries']} vs {b['queries']} statements "
            f"({'constant' if constant else 'GROWS with data'}), {a['ms']} vs {b['ms']} ms"
        )
    return {
        "sizes": {
            "small": {"gifts": SIZES[0], "slots": small["slots"]},
            "large": {"gifts": SIZES[1], "slots": large["slots"]},
        },
        "pages": results,
        "all_constant": all(r["constant"] for r in results),
    }

"""The 1,000,000-order shop, written with INSERT … SELECT generate_series (minutes by the ORM, seconds here).

One paid single gift per row: gift, slot, payment and the sandbox gateway's order. Gift ids 1..N of
the big shop are in id order oldest first; the oldest `expired` of them are past their claim window.
Every other slot of the rest was accepted (recipient, address, `to_ship`), so the merchant's list
carries real addresses. A small shop's 100 orders sit below all of them in id order.
Columns the benchmark does not set take the model's default, so a new nullable or defaulted field
added to a model does not break the benchmark.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bench.common import SCALE, analyze, bulk_users, catalogue, log, sql

SENDERS = 1000


@dataclass
class Dataset:
    gifts: int
    expired: int
    first_id: int
    big: object
    small: object
    sender_ids: tuple[int, int]
    seconds: float


def _insert(model, exprs: dict[str, str | tuple[str, list]], series: str) -> None:
    """INSERT INTO model's table (…) SELECT … FROM <series>. An expression is SQL text or (SQL, params);
    columns not given take the field's default (nullable ones stay NULL)."""
    from django.db import connection
    from django.db.models.fields import NOT_PROVIDED

    columns, values, params = [], [], []
    for f in model._meta.concrete_fields:
        if f.column in exprs:
            expr = exprs[f.column]
            text, args = expr if isinstance(expr, tuple) else (expr, [])
        elif f.null or f.primary_key:
            continue
        elif f.default is not NOT_PROVIDED:
            default = f.default() if callable(f.default) else f.default
            text, args = "%s", [f.get_db_prep_save(default, connection=connection)]
        else:
            raise RuntimeError(f"{model.__name__}.{f.name} needs a value in bench/dataset.py")
        columns.append(f'"{f.column}"')
        values.append(text)
        params.extend(args)
    sql(f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT {', '.join(values)} FROM {series}", params)


def build(*, gifts: int, expired: int) -> Dataset:
    from gifts.models import Gift, ShippingAddress, Slot
    from giftshop.crypto import encrypt
    from payments.models import Payment
    from sandbox.models import SandboxPayOrder

    t0 = time.monotonic()
    small = catalogue(slug="small-shop", merchant_username="merchant-small")
    big = catalogue(slug="big-shop", merchant_username="merchant-big")
    senders = [uid for uid, _ in bulk_users("sender", SENDERS)]
    s0 = senders[0]
    # Gift and slot share ids here (one slot per gift): start above both tables' ids.
    (row,) = sql("SELECT greatest((SELECT max(id) FROM gifts_gift), (SELECT max(id) FROM gifts_slot), 0)")
    base = row[0]

    def chunk(shop, sku, lo: int, hi: int, expired_below: int) -> None:
        series = f"generate_series({lo}, {hi}) AS g"
        gift_exprs = {
            "id": "g",
            "sender_id": f"{s0} + mod(g, {SENDERS})",
            "shop_id": str(shop.pk),
            "sku_id": str(sku.pk),
            "mode": "'single'",
            "recipients_count": "1",
            "quantity": "1",
            "unit_price_fen": "9900",
            "amount_fen": "9900",
            "message": "'生日快乐'",
            "allow_sku_choice": "false",
            "status": "'sent'",
            "claim_token": "md5('bench' || g)",
            "created_at": f"now() - interval '2 days' + g * interval '1 ms' - {hi} * interval '1 ms'",
            "pay_deadline": "now() - interval '1 day'",
            "paid_at": "now() - interval '2 days'",
            "expires_at": f"CASE WHEN g < {expired_below} THEN now() - interval '1 hour' ELSE now() + interval '1 day' END",
            "status_changed_at": "now() - interval '2 days'",
        }
        _insert(Gift, gift_exprs, series)
        accepted = f"(g >= {expired_below} AND mod(g, 2) = 0)"
        _insert(
            Slot,
            {
                "id": "g",
                "gift_id": "g",
                "number": "1",
                "recipient_id": f"CASE WHEN {accepted} THEN {s0} + mod(g + 1, {SENDERS}) END",
                "sku_id": str(sku.pk),
                "status": f"CASE WHEN {accepted} THEN 'to_ship' ELSE 'unclaimed' END",
                "expires_at": gift_exprs["expires_at"],
                "taken_at": f"CASE WHEN {accepted} THEN now() - interval '1 day' END",
                "accepted_at": f"CASE WHEN {accepted} THEN now() - interval '1 day' END",
                "status_changed_at": "now() - interval '1 day'",
                "thanks": "''",
            },
            series,
        )
        _insert(
            Payment,
            {
                "gift_id": "g",
                "provider": "'sandbox'",
                "out_trade_no": "'BENCH' || g",
                "amount_fen": "9900",
                "status": "'paid'",
                "transaction_id": "'TX' || g",
                "cashier_url": "''",
                "created_at": "now() - interval '2 days'",
                "paid_at": "now() - interval '2 days'",
            },
            series,
        )
        _insert(
            SandboxPayOrder,
            {
                "out_trade_no": "'BENCH' || g",
                "transaction_id": "'TX' || g",
                "amount_fen": "9900",
                "description": "''",
                "status": "'paid'",
                "paid_at": "now() - interval '2 days'",
                "created_at": "now() - interval '2 days'",
            },
            series,
        )
        # Every address row carries the same ciphertexts: valid Fernet tokens, decrypted per row as usual.
        _insert(
            ShippingAddress,
            {
                "slot_id": "g",
                "name": ("%s", [encrypt("张三")]),
                "phone": ("%s", [encrypt("13812345678")]),
                "province": "'广东省'",
                "city": "'深圳市'",
                "district": "'南山区'",
                "detail": ("%s", [encrypt("科技园南路 88 号 3 栋 1201")]),
                "created_at": "now() - interval '1 day'",
            },
            f"generate_series({lo}, {hi}) AS g WHERE {accepted}",
        )

    chunk(small.shop, small.sku, base + 1, base + 100, base + 1)
    first = base + 101
    step = 100_000
    for lo in range(first, first + gifts, step):
        chunk(big.shop, big.sku, lo, min(lo + step - 1, first + gifts - 1), first + expired)
        log(f"dataset: {lo - first + min(step, first + gifts - lo):,} of {gifts:,} gifts written")
    for table in ("gifts_gift", "gifts_slot", "gifts_payment"):
        sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    analyze("gifts_gift", "gifts_slot", "gifts_payment", "gifts_sandboxpayorder", "gifts_shippingaddress")
    return Dataset(
        gifts=gifts,
        expired=expired,
        first_id=first,
        big=big,
        small=small,
        sender_ids=(s0, s0 + SENDERS - 1),
        seconds=round(time.monotonic() - t0, 1),
    )


_built: Dataset | None = None
_failed: Exception | None = None


def get(*, gifts: int = int(1_000_000 * SCALE), expired: int = int(10_000 * SCALE)) -> Dataset:
    """Built once per run, shared by the merchant list and the expiry sweep."""
    global _built, _failed
    if _failed is not None:
        raise RuntimeError(f"the data set could not be built: {_failed}")
    if _built is None:
        log(f"dataset: writing {gifts:,} gifts with slots, payments, gateway orders and addresses")
        try:
            _built = build(gifts=gifts, expired=expired)
        except Exception as exc:
            _failed = exc
            raise
        log(f"dataset: done in {_built.seconds} s")
    return _built

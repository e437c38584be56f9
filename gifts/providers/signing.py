"""Webhook signatures the way Stripe signs them: HMAC-SHA256 over "<timestamp>.<body>", with a
tolerance window so a captured callback cannot be replayed days later."""

from __future__ import annotations

import hashlib
import hmac
import time

from django.conf import settings

from giftshop.errors import AppError

HEADER = "Sandbox-Signature"


def sign(body: bytes, secret: str, *, timestamp: int | None = None) -> str:
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def verify(body: bytes, header: str | None, secret: str) -> None:
    if not header:
        raise AppError("bad_signature", "Missing signature.", status_code=401)
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        ts = int(parts["t"])
        given = parts["v1"]
    except (ValueError, KeyError) as exc:
        raise AppError("bad_signature", "Malformed signature header.", status_code=401) from exc
    expected = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    if not given.isascii() or not hmac.compare_digest(expected, given):
        raise AppError("bad_signature", "Signature does not match.", status_code=401)
    if abs(time.time() - ts) > settings.SANDBOX_SIGNATURE_TOLERANCE.total_seconds():
        raise AppError("bad_signature", "Signature timestamp outside the tolerance window.", status_code=401)

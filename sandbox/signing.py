"""Webhook signatures the way Stripe signs them: HMAC-SHA256 over "<timestamp>.<body>", with a
tolerance window so a captured callback cannot be replayed days later."""

from __future__ import annotations

import hashlib
import hmac
import time

from django.conf import settings

from giftshop.errors import AppError
from sandbox import error_codes as E

HEADER = "Sandbox-Signature"


def sign(body: bytes, secret: str, *, timestamp: int | None = None) -> str:
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def verify(body: bytes, header: str | None, secret: str) -> None:
    if not header:
        raise AppError(E.BAD_SIGNATURE, "Missing signature.")
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        ts = int(parts["t"])
        given = parts["v1"]
    except (ValueError, KeyError) as exc:
        raise AppError(E.BAD_SIGNATURE, "Malformed signature header.") from exc
    expected = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    if not given.isascii() or not hmac.compare_digest(expected, given):
        raise AppError(E.BAD_SIGNATURE, "Signature does not match.")
    if abs(time.time() - ts) > settings.SANDBOX_SIGNATURE_TOLERANCE.total_seconds():
        raise AppError(E.BAD_SIGNATURE, "Signature timestamp outside the tolerance window.")

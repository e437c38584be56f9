"""What a payment gateway must offer, and the registry that picks one by name.

A real gateway (WeChat Pay v3, Alipay) implements `PaymentProvider`; the sandbox does too, signed
callbacks included. Providers are named by dotted path, so this app never imports one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from giftshop.errors import NotFound


@dataclass(frozen=True)
class PaymentNotice:
    kind: str  # "payment.succeeded" or "refund.succeeded"
    out_trade_no: str
    amount_fen: int
    transaction_id: str = ""
    out_refund_no: str = ""


@dataclass(frozen=True)
class OrderQuery:
    status: str  # "created", "paid", "closed", "unknown"
    amount_fen: int = 0
    transaction_id: str = ""


class PaymentProvider(Protocol):
    name: str

    @classmethod
    def available(cls) -> bool:
        """Whether this site is configured for it; its webhook answers 404 otherwise."""

    def prepay(self, *, out_trade_no: str, amount_fen: int, description: str) -> str:
        """Create a prepay order; return the cashier URL where the payer confirms."""

    def query(self, *, out_trade_no: str) -> OrderQuery: ...

    def close(self, *, out_trade_no: str) -> bool:
        """Close an unpaid order so it can no longer be paid. False if it was paid meanwhile."""

    def refund(self, *, out_refund_no: str, out_trade_no: str, amount_fen: int) -> None:
        """Ask for a refund; the outcome arrives later as a signed notification. Idempotent per out_refund_no."""

    def parse_notification(self, *, body: bytes, headers) -> PaymentNotice:
        """Verify the signature and decode; raise AppError("bad_signature") when it does not verify."""


PAYMENT_PROVIDERS = {"sandbox": "sandbox.payment.SandboxPaymentProvider"}


def payment_provider(name: str = "") -> PaymentProvider:
    """The provider called `name` (a payment's own, or by default `PAYMENT_PROVIDER` for new orders).
    One that is unknown or not configured on this site is not found, like a missing page."""
    name = name or settings.PAYMENT_PROVIDER
    if name not in PAYMENT_PROVIDERS:
        raise NotFound("Unknown payment provider.")
    provider = import_string(PAYMENT_PROVIDERS[name])
    if not provider.available():
        raise NotFound("This payment provider is not enabled here.")
    return provider()

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
    kind: str  # "payment.succeeded", "refund.succeeded", or "ignored" (a notice that asks nothing of us)
    out_trade_no: str
    amount_fen: int
    transaction_id: str = ""
    out_refund_no: str = ""


@dataclass(frozen=True)
class OrderQuery:
    status: str  # "created", "paid", "closed", "unknown"
    amount_fen: int = 0
    transaction_id: str = ""


@dataclass(frozen=True)
class BillLine:
    """One line of a gateway's daily trade bill: a payment or a refund it made that day."""

    kind: str  # "payment" or "refund"
    out_trade_no: str
    amount_fen: int
    out_refund_no: str = ""
    transaction_id: str = ""


@dataclass
class Bill:
    lines: list[BillLine]
    bad_lines: list[str]  # "line 12: why" for lines that could not be read; the rest are matched


def yuan_to_fen(text: str) -> int:
    """A gateway's "12.34" (or "12", "12.3") as 1234 fen, by integer arithmetic; ValueError otherwise."""
    text = text.strip()
    whole, _, cents = text.partition(".")
    if not whole.isdigit() or (cents and (not cents.isdigit() or len(cents) > 2)):
        raise ValueError(f"not an amount in yuan: {text!r}")
    return int(whole) * 100 + int((cents + "00")[:2])


# Where the payer is, as the cashier page tells it from the user agent.
CHANNEL_WECHAT, CHANNEL_PHONE, CHANNEL_DESKTOP = "wechat", "phone", "desktop"


@dataclass(frozen=True)
class Checkout:
    """What the cashier page shows to take the money: send the payer to `url` (a phone's pay page),
    draw `url` as a QR code (a desktop), or invoke the in-app pay sheet with `params` (WeChat JSAPI)."""

    kind: str  # "redirect", "qr" or "jsapi"
    url: str = ""
    params: dict | None = None


class PaymentProvider(Protocol):
    name: str
    label: str  # shown on the cashier page, e.g. "微信支付"

    @classmethod
    def available(cls) -> bool:
        """Whether this site is configured for it; its webhook answers 404 otherwise."""

    @classmethod
    def configuration_errors(cls) -> list[str]:
        """What is wrong with its settings (keys that do not load), checked at start-up."""

    def prepay(self, *, out_trade_no: str, amount_fen: int, description: str) -> str:
        """Record the order with the provider when it needs it up front; return the cashier URL."""

    def checkout(
        self, *, out_trade_no: str, amount_fen: int, description: str, channel: str, client_ip: str, openid: str = ""
    ) -> Checkout:
        """Start paying in the way that fits the payer's `channel` (a gateway timeout raises
        ProviderUnavailable; the order is unchanged and the page can be reloaded)."""

    def query(self, *, out_trade_no: str) -> OrderQuery: ...

    def close(self, *, out_trade_no: str) -> bool:
        """Close an unpaid order so it can no longer be paid. False if it was paid meanwhile."""

    def refund(self, *, out_refund_no: str, out_trade_no: str, amount_fen: int, total_fen: int = 0) -> bool:
        """Ask for a refund, idempotent per out_refund_no. True when the gateway says it succeeded
        already (Alipay refunds at once); False when its outcome comes later as a notification."""

    def refund_query(self, *, out_refund_no: str, out_trade_no: str) -> str:
        """Where a refund stands at the gateway: "succeeded", "pending", or "unknown"."""

    def bill(self, *, bill_date) -> Bill:
        """The gateway's trade bill for one day (China time), downloaded and parsed."""

    def parse_notification(self, *, body: bytes, headers) -> PaymentNotice:
        """Verify the signature and decode; raise AppError("bad_signature") when it does not verify."""

    def notification_answer(self, *, ok: bool, detail: str, status: int = 200):
        """The HttpResponse the provider expects back from our webhook (its own success / failure)."""


PAYMENT_PROVIDERS = {
    "sandbox": "sandbox.payment.SandboxPaymentProvider",
    "wechatpay": "payments.wechatpay.WeChatPayProvider",
    "alipay": "payments.alipay.AlipayProvider",
}


def payment_providers_enabled() -> list[str]:
    """The providers a payer may choose from on this site, the default (`PAYMENT_PROVIDER`) first."""
    names = [settings.PAYMENT_PROVIDER, *(n for n in PAYMENT_PROVIDERS if n != settings.PAYMENT_PROVIDER)]
    return [n for n in names if import_string(PAYMENT_PROVIDERS[n]).available()]


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

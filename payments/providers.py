"""What a payment gateway must offer, and the registry that picks one by name.

A real gateway (WeChat Pay v3, Alipay) implements `PaymentProvider`; the sandbox does too, signed
callbacks included. Providers are named by dotted path, so this app never imports one."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from django.conf import settings

from giftshop import inputs
from giftshop.registry import available_names, registered


@dataclass(frozen=True)
class PaymentNotice:
    kind: str  # "payment.succeeded", "refund.succeeded", or "ignored" (a notice that asks nothing of us)
    out_trade_no: str
    amount_fen: int
    transaction_id: str = ""
    out_refund_no: str = ""

    def __post_init__(self):
        """What a gateway may tell us, checked once for every gateway: ValueError otherwise."""
        inputs.text(self.kind, max_length=40, name="kind")
        inputs.text(self.out_trade_no, max_length=64, name="out_trade_no", required=self.kind != "ignored")
        inputs.fen(self.amount_fen, name="amount_fen")
        inputs.text(self.transaction_id, max_length=64, name="transaction_id", required=False)
        inputs.text(self.out_refund_no, max_length=64, name="out_refund_no", required=False)


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


_YUAN = re.compile(r"(0|[1-9][0-9]{0,9})(?:\.([0-9]{1,2}))?")


def yuan_to_fen(text: str) -> int:
    """A gateway's "99.00" (or "99", "99.5") as 9900 fen exactly; anything else (signs, exponents,
    spaces, a third decimal) raises ValueError. Integer arithmetic only."""
    match = _YUAN.fullmatch(text)
    if match is None:
        raise ValueError(f"not an amount in yuan: {text!r}")
    return int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))


def fen_to_yuan(fen: int) -> str:
    """9900 → "99.00", as the gateways write amounts."""
    if isinstance(fen, bool) or not isinstance(fen, int) or fen < 0:
        raise ValueError("an amount in fen is a non-negative integer")
    return f"{fen // 100}.{fen % 100:02d}"


def pem_setting(value: str) -> str:
    """Key settings hold PEM text (its newlines possibly escaped, as env files do) or a path to a PEM file."""
    value = value.strip()
    if value and not value.startswith("-----") and Path(value).is_file():
        return Path(value).read_text()
    return value.replace("\\n", "\n")


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
    return available_names(PAYMENT_PROVIDERS, first=settings.PAYMENT_PROVIDER)


def payment_provider(name: str = "") -> PaymentProvider:
    """The provider called `name` (a payment's own, or by default `PAYMENT_PROVIDER` for new orders).
    One that is unknown or not configured on this site is not found, like a missing page."""
    return registered(PAYMENT_PROVIDERS, name or settings.PAYMENT_PROVIDER, what="payment provider")()

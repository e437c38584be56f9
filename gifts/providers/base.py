"""What a payment gateway and a courier must offer. A real one (WeChat Pay v3, an e-waybill API)
implements these; the sandbox implementations behave the same way, signed callbacks included."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class ProviderUnavailable(Exception):
    """A temporary failure (timeout, 5xx): worth retrying with backoff."""


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

    def prepay(self, *, out_trade_no: str, amount_fen: int, description: str) -> str:
        """Create a prepay order; return the cashier URL where the payer confirms."""

    def query(self, *, out_trade_no: str) -> OrderQuery: ...

    def close(self, *, out_trade_no: str) -> bool:
        """Close an unpaid order so it can no longer be paid. False if it was paid meanwhile."""

    def refund(self, *, out_refund_no: str, out_trade_no: str, amount_fen: int) -> None:
        """Ask for a refund; the outcome arrives later as a signed notification. Idempotent per out_refund_no."""

    def parse_notification(self, *, body: bytes, headers) -> PaymentNotice:
        """Verify the signature and decode; raise AppError("bad_signature") when it does not verify."""


@dataclass(frozen=True)
class Parcel:
    request_key: str  # idempotency key: the same key always yields the same waybill
    receiver_name: str
    receiver_phone: str
    receiver_address: str
    receiver_region: str
    sender_name: str
    description: str


@dataclass(frozen=True)
class TrackingNotice:
    event_id: str
    waybill_no: str
    status: str  # collected, in_transit, delivered, exception
    description: str
    occurred_at: str


class Carrier(Protocol):
    name: str

    def create_waybill(self, parcel: Parcel) -> str: ...

    def parse_notification(self, *, body: bytes, headers) -> TrackingNotice: ...

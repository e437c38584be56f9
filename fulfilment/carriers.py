"""What a courier must offer, and the registry that picks one by name.

A real e-waybill API (Kuaidi100) implements `Carrier`; the sandbox courier does too. Carriers are
named by dotted path, so this app never imports one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from giftshop.errors import NotFound


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

    @classmethod
    def available(cls) -> bool:
        """Whether this site is configured for it; its webhook answers 404 otherwise."""

    def create_waybill(self, parcel: Parcel) -> str: ...

    def parse_notification(self, *, body: bytes, headers) -> TrackingNotice: ...


CARRIERS = {"sandbox": "sandbox.carrier.SandboxCarrier"}


def carrier(name: str = "") -> Carrier:
    """The carrier called `name` (by default `CARRIER_PROVIDER`, the one that issues new waybills).
    One that is unknown or not configured on this site is not found, like a missing page."""
    name = name or settings.CARRIER_PROVIDER
    if name not in CARRIERS:
        raise NotFound("Unknown carrier.")
    courier = import_string(CARRIERS[name])
    if not courier.available():
        raise NotFound("This carrier is not enabled here.")
    return courier()

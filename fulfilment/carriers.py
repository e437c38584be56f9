"""What a courier must offer, and the registry that picks one by name.

The Kuaidi100 e-waybill API (`fulfilment/kuaidi100.py`) implements `Carrier`; the sandbox courier does too. Carriers are
named by dotted path, so this app never imports one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from giftshop import inputs
from giftshop.errors import NotFound
from giftshop.registry import available_names, registered


@dataclass(frozen=True)
class Parcel:
    request_key: str  # idempotency key: the same key always yields the same waybill
    receiver_name: str
    receiver_phone: str
    receiver_address: str
    receiver_region: str
    sender_name: str
    description: str
    # What a real e-waybill needs besides (the sandbox ignores them): the courier company (a
    # Kuaidi100 company code) and the shop's ship-from phone and address.
    company: str = ""
    sender_phone: str = ""
    sender_address: str = ""


@dataclass(frozen=True)
class Waybill:
    """What a carrier may answer instead of a bare number: the label to print, the company, and
    the courier's own order number (its cancel call wants it back)."""

    number: str
    label_url: str = ""
    company: str = ""
    order_no: str = ""


@dataclass(frozen=True)
class TrackingNotice:
    event_id: str
    waybill_no: str
    status: str  # collected, in_transit, delivered, exception
    description: str
    occurred_at: str
    # The parcel the push is for, as the courier was told it (`parcel_reference`): the request key
    # of the waybill (the sandbox courier) or the subscription's callback URL (Kuaidi100). A waybill
    # number alone does not name one parcel: two shops may use the same one. Empty: none.
    reference: str = ""

    def __post_init__(self):
        """What a courier may tell us, checked once for every courier: ValueError otherwise."""
        inputs.text(self.event_id, max_length=64, name="event_id")
        inputs.text(self.waybill_no, max_length=64, name="waybill_no")
        inputs.text(self.status, max_length=20, name="status")
        inputs.text(self.description, max_length=200, name="description", required=False)
        inputs.moment(self.occurred_at, name="occurred_at")
        inputs.text(self.reference, max_length=80, name="reference", required=False)


def parcel_reference(slot_id: int) -> str:
    """What a courier knows one parcel by: the idempotency key of its waybill request, and what its
    tracking pushes carry back so that they reach this parcel and no other."""
    return f"slot-{slot_id}"


def parcel_reference_slot(reference: str) -> int | None:
    """The slot a `parcel_reference` names, or None when it names none."""
    prefix, _, number = reference.partition("-")
    if prefix != "slot" or not number.isascii() or not number.isdigit() or len(number) > 18:
        return None
    return int(number)


# Our tracking statuses (what every carrier's scans are mapped to), named for people.
SCAN_LABELS = {
    "collected": _("揽收"),
    "in_transit": _("运输中"),
    "delivered": _("签收"),
    "exception": _("异常"),
}


class Carrier(Protocol):
    name: str

    @classmethod
    def available(cls) -> bool:
        """Whether this site is configured for it; its webhook answers 404 otherwise."""

    @classmethod
    def configuration_errors(cls) -> list[str]:
        """What is wrong with its settings, checked at start-up (giftshop.E003)."""

    def create_waybill(self, parcel: Parcel) -> str | Waybill: ...

    def parse_notification(self, *, body: bytes, headers, query) -> TrackingNotice:
        """A push, verified. `query`: the parameters of the URL it was posted to."""


# A carrier may also offer `subscribe_tracking(*, waybill_no, company, phone, reference)` (push
# tracking, subscribed by an outbox task after the waybill; its pushes carry `reference` back) and
# `notification_answer(*, ok, detail)` (its webhook answers in its own format).
#
# A courier a person may move by hand (the sandbox courier, only while the sandbox is enabled) also
# offers `drive_statuses` (the scans it can make, in order) and `drive(*, waybill_no, status,
# reference)`: it scans the parcel it issued that waybill for (`reference`; another parcel that
# carries the same number is refused) and sends us the same signed notification as its own scans. The workbench and
# the operator admin show their buttons only for such a courier (`carrier_drivable`), so nothing
# here knows the sandbox, and a site without it has no buttons at all.
#
# A courier that can take back an e-waybill it issued (a parcel refunded before it left the shop)
# offers `cancel_waybill(*, waybill_no, company, reference, order_no="") -> str`: `reference` is
# the parcel's `parcel_reference(slot_id)`, `order_no` the courier's order number from the waybill
# (`Waybill.order_no`, empty when it answered none). It answers "cancelled", or "already" (cancelled
# before, or a number it does not know: nothing left to cancel); it raises
# `giftshop.errors.ProviderUnavailable` when it cannot answer now (a timeout, a 5xx: asked again
# later) and an `AppError` when it refuses for good (the courier has collected the parcel): the
# shop's staff stop the parcel by hand then. A courier without it cannot cancel (`carrier_cancelling`).
CARRIERS = {"sandbox": "sandbox.carrier.SandboxCarrier", "kuaidi100": "fulfilment.kuaidi100.Kuaidi100Carrier"}
# How people see each registered carrier (a waybill typed by hand keeps the courier name typed).
CARRIER_NAMES = {"sandbox": _("沙箱快递"), "kuaidi100": _("快递100")}


def carriers_enabled() -> list[str]:
    """The carriers configured on this site (their webhooks answer; their keys are checked)."""
    return available_names(CARRIERS)


def carrier(name: str = "") -> Carrier:
    """The carrier called `name` (by default `CARRIER_PROVIDER`, the one that issues new waybills).
    One that is unknown or not configured on this site is not found, like a missing page."""
    return registered(CARRIERS, name or settings.CARRIER_PROVIDER, what="carrier")()


def carrier_cancelling(name: str):
    """The carrier called `name` if it can cancel a waybill it issued on this site, else None."""
    if not name:
        return None
    try:
        courier = carrier(name)
    except NotFound:  # a courier typed by hand, or one no longer enabled here
        return None
    return courier if callable(getattr(courier, "cancel_waybill", None)) else None


def carrier_drivable(name: str):
    """The carrier called `name` if a person may move its parcels by hand on this site, else None."""
    if not name:
        return None
    try:
        courier = carrier(name)
    except NotFound:  # unknown (a courier typed by hand) or not enabled here
        return None
    return courier if callable(getattr(courier, "drive", None)) else None

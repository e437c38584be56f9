"""A sandbox courier that behaves like an e-waybill (电子面单) API: it issues one waybill per request
key however often it is asked, and later sends signed tracking updates (collected, in transit,
delivered, sometimes an exception) to our notify endpoint. A waybill not yet collected can be
cancelled; it is never scanned after that, and one collected cannot be cancelled."""

from __future__ import annotations

import json
import random
import secrets
import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fulfilment.carriers import Parcel, TrackingNotice
from giftshop.errors import AppError
from outbox.jobs import ProviderUnavailable, enqueue
from sandbox import error_codes as E
from sandbox import signing
from sandbox.delivery import post_callback
from sandbox.models import SandboxWaybill

NOTIFY_PATH = "/api/v1/carriers/notify/sandbox/"
SCAN_TEXT = {
    "collected": "快递员已揽收",
    "in_transit": "运输中，已到达转运中心",
    "exception": "派送异常：联系不上收件人，将再次派送",
    "delivered": "已签收，感谢使用",
}


class SandboxCarrier:
    name = "sandbox"
    # The scans a person may make by hand (workbench and operator buttons, the scan endpoint).
    drive_statuses = ("collected", "in_transit", "delivered", "exception")

    @classmethod
    def available(cls) -> bool:
        return settings.SANDBOX_ENABLED

    @classmethod
    def configuration_errors(cls) -> list[str]:
        return []  # its secret is checked with the sandbox itself (giftshop.E002)

    def create_waybill(self, parcel: Parcel) -> str:
        if random.random() < settings.SANDBOX_CARRIER_FAILURE_RATE:  # noqa: S311 (simulated outage)
            raise ProviderUnavailable("sandbox courier timed out")
        existing = SandboxWaybill.objects.filter(request_key=parcel.request_key).first()
        if existing:
            return existing.waybill_no
        try:
            with transaction.atomic():
                waybill = SandboxWaybill.objects.create(
                    request_key=parcel.request_key,
                    waybill_no="SBX" + "".join(secrets.choice("0123456789") for _ in range(12)),
                    receiver_region=parcel.receiver_region[:100],
                )
                # The courier's scans later on, recorded with the waybill so a broker outage loses none.
                delays = settings.SANDBOX_CARRIER_SCAN_DELAYS
                for status, delay in zip(("collected", "in_transit", "delivered"), delays, strict=False):
                    enqueue("sandbox.tasks.sandbox_carrier_scan", waybill.waybill_no, status, countdown=delay)
        except IntegrityError:
            waybill = SandboxWaybill.objects.get(request_key=parcel.request_key)
        # A slow courier (worker drills only): the waybill exists here but the caller has not recorded it yet.
        pause = getattr(settings, "SANDBOX_CARRIER_DELAY_SECONDS", 0)
        if pause:
            time.sleep(pause)
        return waybill.waybill_no

    def drive(self, *, waybill_no: str, status: str, reference: str) -> str:
        """Scan a parcel by hand: the same signed notification as the courier's own scans. Only the
        parcel this courier issued the waybill for (`reference`): a shop that typed another shop's
        number on its own parcel cannot move theirs."""
        return str(gateway_scan(waybill_no, status, reference=reference).get("message", ""))

    def cancel_waybill(self, *, waybill_no: str, company: str, reference: str, order_no: str = "") -> str:
        """Take back a waybill not yet collected. A number it never issued for this parcel, or
        cancelled before, is 'already'; one its courier has collected is refused for good."""
        if random.random() < settings.SANDBOX_CARRIER_FAILURE_RATE:  # noqa: S311 (simulated outage)
            raise ProviderUnavailable("sandbox courier timed out")
        with transaction.atomic():
            waybill = SandboxWaybill.objects.select_for_update().filter(waybill_no=waybill_no).first()
            if waybill is None or waybill.request_key != reference or waybill.cancelled_at:
                return "already"
            if waybill.collected_at:
                raise AppError(E.ALREADY_COLLECTED, _("快递员已揽收，不能取消面单"))
            waybill.cancelled_at = timezone.now()
            waybill.save(update_fields=["cancelled_at"])
        return "cancelled"

    def parse_notification(self, *, body: bytes, headers, query=None) -> TrackingNotice:
        signing.verify(body, headers.get(signing.HEADER), settings.SANDBOX_CARRIER_SECRET)
        try:
            data = json.loads(body)
            return TrackingNotice(
                event_id=str(data["event_id"]),
                waybill_no=str(data["waybill_no"]),
                status=str(data["status"]),
                description=str(data.get("description", ""))[:200],
                occurred_at=str(data["occurred_at"]),
                reference=str(data.get("reference", "")),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise AppError(E.BAD_NOTIFICATION, "Notification body is malformed.") from exc


def tracking_body(waybill_no: str, status: str, *, occurred_at=None, reference: str | None = None) -> bytes:
    """A scan as the courier sends it, with the request key it issued the waybill for (looked up in
    its books unless given; empty for a number it never issued)."""
    if reference is None:
        reference = (
            SandboxWaybill.objects.filter(waybill_no=waybill_no).values_list("request_key", flat=True).first() or ""
        )
    data = {
        "event_id": f"{waybill_no}-{status}",
        "waybill_no": waybill_no,
        "reference": reference,
        "status": status,
        "description": SCAN_TEXT.get(status, status),
        "occurred_at": (occurred_at or timezone.now()).isoformat(),
    }
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


# The scans that mean the courier has the parcel (no cancel after one of them).
PICKED_UP = ("collected", "in_transit", "delivered")


def gateway_scan(waybill_no: str, status: str, *, reference: str | None = None) -> dict:
    """The courier scans a parcel and tells us, signed. `reference`: only if it issued the waybill
    for that parcel; a cancelled waybill is not scanned. Raises ProviderUnavailable if we did not
    take it."""
    with transaction.atomic():
        waybill = SandboxWaybill.objects.select_for_update().filter(waybill_no=waybill_no).first()
        if waybill is None or (reference is not None and waybill.request_key != reference):
            raise AppError(E.UNKNOWN_WAYBILL, "The sandbox courier never issued this waybill.")
        if waybill.cancelled_at:
            raise AppError(E.WAYBILL_CANCELLED, _("这张面单已取消，快递不会再扫描"))
        if status in PICKED_UP and not waybill.collected_at:
            waybill.collected_at = timezone.now()
            waybill.save(update_fields=["collected_at"])
    body = tracking_body(waybill_no, status, reference=waybill.request_key)
    headers = {signing.HEADER: signing.sign(body, settings.SANDBOX_CARRIER_SECRET)}
    return post_callback(NOTIFY_PATH, body, headers)


def scheduled_scan(waybill_no: str, status: str) -> dict:
    """One of the courier's own scans, planned when it issued the waybill: none for a waybill
    cancelled since (the job is done, not retried)."""
    if SandboxWaybill.objects.filter(waybill_no=waybill_no, cancelled_at__isnull=False).exists():
        return {"message": "cancelled"}
    return gateway_scan(waybill_no, status)

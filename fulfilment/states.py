"""The one place where a shipment's status changes: requested → issued → handed over (to the
courier), or failed for good (and issued after all when a replayed dispatch succeeds). Callers hold
the row lock."""

from __future__ import annotations

from django.utils import timezone

from giftshop.errors import AppError

from .models import Shipment

S = Shipment.Status
SHIPMENT_TRANSITIONS = {
    S.REQUESTED: {S.ISSUED, S.FAILED},
    S.FAILED: {S.ISSUED},
    S.ISSUED: {S.HANDED_OVER},
    S.HANDED_OVER: set(),
}
ILLEGAL = "illegal_transition"


def _check(shipment: Shipment, target: str) -> bool:
    if shipment.status == target:
        return False
    if target not in SHIPMENT_TRANSITIONS[shipment.status]:
        raise AppError(ILLEGAL, f"shipment {shipment.pk} cannot move from {shipment.status} to {target}.")
    return True


def shipment_issue(
    shipment: Shipment,
    *,
    waybill_no: str,
    carrier: str | None = None,
    replace: bool = False,
    company: str = "",
    label_url: str = "",
) -> bool:
    """Record the waybill; False when the shipment already has one (a dispatch run twice).

    `replace`: the merchant ships by hand with their own courier and number, replacing any waybill
    requested before (and its label). `company` and `label_url`: the courier company and the
    printable label an e-waybill API answered."""
    if shipment.waybill_no and not replace:
        return False
    if shipment.status != S.ISSUED:
        _check(shipment, S.ISSUED)
    shipment.waybill_no, shipment.status, shipment.issued_at, shipment.last_error = (
        waybill_no,
        S.ISSUED,
        timezone.now(),
        "",
    )
    shipment.company, shipment.label_url = company, label_url
    fields = ["waybill_no", "status", "issued_at", "last_error", "company", "label_url"]
    if carrier:
        shipment.carrier = carrier
        fields.append("carrier")
    shipment.save(update_fields=fields)
    return True


def shipment_fail(shipment: Shipment, *, error: str, final: bool) -> None:
    """A dispatch attempt failed: keep the error; a final failure is shown to merchant and operator."""
    shipment.last_error = error[:300]
    fields = ["last_error"]
    if final and not shipment.waybill_no and _check(shipment, S.FAILED):
        shipment.status = S.FAILED
        fields.append("status")
    shipment.save(update_fields=fields)


def shipment_hand_over(shipment: Shipment, *, by=None, at=None) -> bool:
    """The parcel is with the courier now; False when it already was (idempotent). `by`: the staff
    member who tapped 交给快递 (None: the courier's own scan said so, at `at`)."""
    if not _check(shipment, S.HANDED_OVER):
        return False
    shipment.status, shipment.handed_over_at, shipment.handed_over_by = S.HANDED_OVER, at or timezone.now(), by
    shipment.save(update_fields=["status", "handed_over_at", "handed_over_by"])
    return True

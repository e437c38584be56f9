"""The one place where a shipment's status changes: requested → issued → handed over (to the
courier), or failed for good (and issued after all when a replayed dispatch succeeds), or cancelled
(the parcel was refunded before it left the shop: its e-waybill taken back, or none asked for).
Cancelled is final, and a parcel the courier has cannot be cancelled. Callers hold the row lock."""

from __future__ import annotations

from django.db import connection
from django.utils import timezone

from giftshop.errors import AppError

from .carriers import Waybill
from .models import Shipment

S = Shipment.Status
SHIPMENT_TRANSITIONS = {
    S.REQUESTED: {S.ISSUED, S.FAILED, S.CANCELLED},
    S.FAILED: {S.ISSUED, S.CANCELLED},
    S.ISSUED: {S.HANDED_OVER, S.CANCELLED},
    S.HANDED_OVER: set(),
    S.CANCELLED: set(),
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
    order_no: str = "",
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
    shipment.company, shipment.label_url, shipment.courier_order_no = company, label_url, order_no[:64]
    fields = ["waybill_no", "status", "issued_at", "last_error", "company", "label_url", "courier_order_no"]
    if carrier:
        shipment.carrier = carrier
        fields.append("carrier")
    shipment.save(update_fields=fields)
    return True


def shipments_issue_bulk(issued: list[tuple[Shipment, Waybill]]) -> list[Shipment]:
    """`shipment_issue` for a batch, in one statement. Only a shipment without a number gets one (in
    the statement itself), so a batch that runs twice records each waybill once. Returns the
    shipments that got theirs now."""
    waiting = [(sh, wb) for sh, wb in issued if not sh.waybill_no]
    for shipment, _ in waiting:
        if shipment.status != S.ISSUED:
            _check(shipment, S.ISSUED)
    if not waiting:
        return []
    now = timezone.now()
    if connection.vendor != "postgresql":  # the demo's SQLite: one update per shipment
        updated = {
            sh.pk
            for sh, wb in waiting
            if Shipment.objects.filter(pk=sh.pk, waybill_no="").update(
                waybill_no=wb.number,
                company=wb.company,
                label_url=wb.label_url,
                courier_order_no=wb.order_no[:64],
                status=S.ISSUED,
                issued_at=now,
                last_error="",
            )
        }
        return _issued(waiting, updated, now)
    table = Shipment._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {table} AS s
                SET waybill_no = v.waybill_no, company = v.company, label_url = v.label_url,
                    courier_order_no = v.order_no, status = %s, issued_at = %s, last_error = ''
                FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[])
                    AS v(id, waybill_no, company, label_url, order_no)
                WHERE s.id = v.id AND s.waybill_no = ''
                RETURNING s.id""",  # noqa: S608 (the table name is ours; every value is a parameter)
            [
                S.ISSUED,
                now,
                [sh.pk for sh, _ in waiting],
                [wb.number for _, wb in waiting],
                [wb.company for _, wb in waiting],
                [wb.label_url for _, wb in waiting],
                [wb.order_no[:64] for _, wb in waiting],
            ],
        )
        updated = {row[0] for row in cursor.fetchall()}
    return _issued(waiting, updated, now)


def _issued(waiting: list[tuple[Shipment, Waybill]], updated: set[int], now) -> list[Shipment]:
    changed = []
    for shipment, waybill in waiting:
        if shipment.pk in updated:
            shipment.waybill_no, shipment.status, shipment.issued_at, shipment.last_error = (
                waybill.number,
                S.ISSUED,
                now,
                "",
            )
            shipment.company, shipment.label_url = waybill.company, waybill.label_url
            shipment.courier_order_no = waybill.order_no[:64]
            changed.append(shipment)
    return changed


def shipments_fail_bulk(failed: list[tuple[Shipment, str, bool]]) -> None:
    """`shipment_fail` for a batch of (shipment, error, final)."""
    changed = []
    for shipment, error, final in failed:
        shipment.last_error = error[:300]
        if final and not shipment.waybill_no and shipment.status != S.CANCELLED and _check(shipment, S.FAILED):
            shipment.status = S.FAILED
        changed.append(shipment)
    Shipment.objects.bulk_update(changed, ["last_error", "status"])


def shipment_fail(shipment: Shipment, *, error: str, final: bool) -> None:
    """A dispatch attempt failed: keep the error; a final failure is shown to merchant and operator."""
    shipment.last_error = error[:300]
    fields = ["last_error"]
    if final and not shipment.waybill_no and shipment.status != S.CANCELLED and _check(shipment, S.FAILED):
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


def shipment_cancel_fail(shipment: Shipment, *, error: str) -> bool:
    """The courier did not take the e-waybill back, for good (it refused, or never answered before
    the retries ran out): the status stays (the waybill may still be live at the courier), the error
    and the moment are kept. True the first time only, so the staff are told once."""
    shipment.last_error = error[:300]
    fields = ["last_error"]
    first = shipment.cancel_failed_at is None
    if first:
        shipment.cancel_failed_at = timezone.now()
        fields.append("cancel_failed_at")
    shipment.save(update_fields=fields)
    return first


def shipment_cancel(shipment: Shipment) -> bool:
    """The parcel will not ship: its e-waybill is cancelled (the courier said so, or none was
    issued). False when it already was (idempotent); a handed-over parcel is refused."""
    if not _check(shipment, S.CANCELLED):
        return False
    shipment.status, shipment.cancelled_at, shipment.last_error = S.CANCELLED, timezone.now(), ""
    shipment.save(update_fields=["status", "cancelled_at", "last_error"])
    return True

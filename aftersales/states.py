"""The one place where an after-sales request's status changes.

    requested ──approve──▶ approved ──(refund_only: refund settles)──────────────▶ refunded
        │                     └──(return_refund: recipient sends it back)──▶ returning
        ├──refuse──▶ refused                                                     │ receive
        └──cancel──▶ cancelled                                received ◀─────────┘
                                                                  └──(refund settles)──▶ refunded

A refund that settles for the parcel by another path (the merchant refunded it directly) closes
any open request as `refunded`. Each move locks the row, refuses an illegal move with a coded
error, returns quietly when the row is already there, and stamps the step's time.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from giftshop.errors import AppError

from . import error_codes as E
from .models import AfterSalesRequest

S = AfterSalesRequest.Status

TRANSITIONS: dict[str, set[str]] = {
    S.REQUESTED: {S.APPROVED, S.REFUSED, S.CANCELLED, S.REFUNDED},
    S.APPROVED: {S.RETURNING, S.REFUNDED, S.CANCELLED},
    S.RETURNING: {S.RECEIVED, S.REFUNDED},
    S.RECEIVED: {S.REFUNDED},
    S.REFUSED: set(),
    S.REFUNDED: set(),
    S.CANCELLED: set(),
}

# Status -> the timestamp stamped on entering it.
_STAMPS = {
    S.APPROVED: "answered_at",
    S.REFUSED: "answered_at",
    S.RETURNING: "return_shipped_at",
    S.RECEIVED: "received_at",
    S.REFUNDED: "refunded_at",
    S.CANCELLED: "cancelled_at",
}


def after_sales_transition(
    request: AfterSalesRequest | int, target: str, *, expect=None, **fields
) -> tuple[AfterSalesRequest, bool]:
    """Move one request to `target`, setting `fields` with it. Returns (request, changed).

    `expect` narrows the statuses the move may start from, on top of the table."""
    pk = request if isinstance(request, int) else request.pk
    with transaction.atomic():
        locked = AfterSalesRequest.objects.select_for_update().get(pk=pk)
        current = locked.status
        if current == target:
            return locked, False
        if target not in TRANSITIONS[current] or (expect is not None and current not in set(expect)):
            raise AppError(
                E.ILLEGAL_TRANSITION,
                _("这个售后申请当前是“%(status)s”，不能这样操作") % {"status": locked.get_status_display()},
            )
        now = timezone.now()
        locked.status, locked.status_changed_at = target, now
        update = ["status", "status_changed_at", *fields]
        for name, value in fields.items():
            setattr(locked, name, value)
        stamp = _STAMPS.get(target)
        if stamp and getattr(locked, stamp) is None:
            setattr(locked, stamp, now)
            update.append(stamp)
        locked.save(update_fields=update)
    return locked, True

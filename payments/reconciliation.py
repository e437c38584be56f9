"""Daily reconciliation (对账): each gateway's trade bill for a day, matched line by line against
our payments and refunds by `out_trade_no` / `out_refund_no` and amount.

What the gateway took and we never recorded is settled here as its notification would have been
(a cancelled order paid late is then refunded by the usual rule); every difference is a row an
operator sees and resolves in /admin/. One run per gateway and day; a failed run is run again.
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from .models import Payment, ReconciliationMismatch, ReconciliationRun, Refund
from .providers import Bill, PaymentNotice, payment_provider
from .services import payment_settle, refund_settle

log = logging.getLogger(__name__)

CHINA = ZoneInfo("Asia/Shanghai")  # the gateways' bills run from midnight to midnight, China time
K = ReconciliationMismatch.Kind


def bill_day_bounds(bill_date: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(bill_date, dt.time.min, tzinfo=CHINA)
    return start, start + dt.timedelta(days=1)


def reconciliation_run(*, provider: str, bill_date: dt.date) -> ReconciliationRun:
    """Reconcile one gateway's day. Safe to run twice: a finished day is not run again."""
    run, _ = ReconciliationRun.objects.get_or_create(provider=provider, bill_date=bill_date)
    if run.status == ReconciliationRun.Status.DONE:
        return run
    bill = payment_provider(provider).bill(bill_date=bill_date)  # a gateway timeout raises: the task retries
    differences, matched = _match(provider=provider, bill_date=bill_date, bill=bill)
    with transaction.atomic():
        run.differences.all().delete()  # a run that failed half-way starts its rows again
        for difference in differences:
            difference.run = run
        ReconciliationMismatch.objects.bulk_create(differences)
        run.status = ReconciliationRun.Status.DONE
        run.lines, run.matched, run.mismatches = len(bill.lines), matched, len(differences)
        run.bad_lines, run.error, run.finished_at = bill.bad_lines[:200], "", timezone.now()
        run.save()
    log.info(
        "reconciled %s %s: %s lines, %s matched, %s differences",
        provider,
        bill_date,
        run.lines,
        matched,
        len(differences),
    )
    return run


def _match(*, provider: str, bill_date: dt.date, bill: Bill) -> tuple[list[ReconciliationMismatch], int]:
    start, end = bill_day_bounds(bill_date)
    ours_paid = {
        p.out_trade_no: p
        for p in Payment.objects.filter(
            provider=provider, status=Payment.Status.PAID, paid_at__gte=start, paid_at__lt=end
        )
    }
    ours_refunded = {
        r.out_refund_no: r
        for r in Refund.objects.filter(
            payment__provider=provider, status=Refund.Status.SUCCEEDED, succeeded_at__gte=start, succeeded_at__lt=end
        )
    }
    differences: list[ReconciliationMismatch] = []
    matched = 0
    seen_payments, seen_refunds = set(), set()
    for line in bill.lines:
        if line.kind == "payment":
            seen_payments.add(line.out_trade_no)
            outcome = _match_payment(provider, line, ours_paid.get(line.out_trade_no))
        else:
            seen_refunds.add(line.out_refund_no)
            outcome = _match_refund(line, ours_refunded.get(line.out_refund_no))
        if outcome is None:
            matched += 1
        else:
            differences.append(outcome)
    for no, payment in ours_paid.items():
        if no not in seen_payments:
            differences.append(
                ReconciliationMismatch(kind=K.PAID_HERE_NOT_THERE, out_trade_no=no, ours_fen=payment.amount_fen)
            )
    for no, refund in ours_refunded.items():
        if no not in seen_refunds:
            differences.append(
                ReconciliationMismatch(
                    kind=K.REFUND_MISSING_THERE,
                    out_trade_no=refund.payment.out_trade_no,
                    out_refund_no=no,
                    ours_fen=refund.amount_fen,
                )
            )
    return differences, matched


def _match_payment(provider: str, line, ours: Payment | None) -> ReconciliationMismatch | None:
    if ours is None:
        ours = Payment.objects.filter(out_trade_no=line.out_trade_no).first()
        if ours is not None and ours.status == Payment.Status.PAID and ours.amount_fen == line.amount_fen:
            return None  # paid here just across midnight: the same payment
    if ours is not None and ours.status == Payment.Status.PAID:
        if ours.amount_fen == line.amount_fen:
            return None
        return ReconciliationMismatch(
            kind=K.AMOUNT_DIFFERS, out_trade_no=line.out_trade_no, ours_fen=ours.amount_fen, theirs_fen=line.amount_fen
        )
    action = ""
    if ours is not None and ours.amount_fen == line.amount_fen:
        notice = PaymentNotice(
            kind="payment.succeeded",
            out_trade_no=line.out_trade_no,
            amount_fen=line.amount_fen,
            transaction_id=line.transaction_id,
        )
        action = "settled: " + payment_settle(notice=notice, provider=provider)
    return ReconciliationMismatch(
        kind=K.PAID_THERE_NOT_HERE,
        out_trade_no=line.out_trade_no,
        ours_fen=ours.amount_fen if ours else None,
        theirs_fen=line.amount_fen,
        action=action,
    )


def _match_refund(line, ours: Refund | None) -> ReconciliationMismatch | None:
    if ours is None:
        ours = Refund.objects.filter(out_refund_no=line.out_refund_no).first()
        if ours is not None and ours.status == Refund.Status.SUCCEEDED and ours.amount_fen == line.amount_fen:
            return None  # settled here on another day
    if ours is not None and ours.status == Refund.Status.SUCCEEDED:
        if ours.amount_fen == line.amount_fen:
            return None
        return ReconciliationMismatch(
            kind=K.AMOUNT_DIFFERS,
            out_trade_no=line.out_trade_no,
            out_refund_no=line.out_refund_no,
            ours_fen=ours.amount_fen,
            theirs_fen=line.amount_fen,
        )
    action = ""
    if ours is not None and ours.amount_fen == line.amount_fen:
        action = "settled: " + refund_settle(out_refund_no=line.out_refund_no, amount_fen=line.amount_fen)
    return ReconciliationMismatch(
        kind=K.REFUND_MISSING_HERE,
        out_trade_no=line.out_trade_no,
        out_refund_no=line.out_refund_no,
        ours_fen=ours.amount_fen if ours else None,
        theirs_fen=line.amount_fen,
        action=action,
    )


def reconciliation_days_due(*, today: dt.date | None = None) -> dt.date:
    """The day whose bills are ready: yesterday, China time (gateways publish them the next morning)."""
    today = today or timezone.now().astimezone(CHINA).date()
    return today - dt.timedelta(days=1)


def mismatch_resolve(*, mismatch: ReconciliationMismatch, note: str) -> ReconciliationMismatch:
    """An operator looked at it and says what was done."""
    ReconciliationMismatch.objects.filter(pk=mismatch.pk, resolved_at__isnull=True).update(
        resolved_at=timezone.now(), resolution=note[:300]
    )
    mismatch.refresh_from_db()
    return mismatch


def reconciliation_figures() -> list[tuple[str, str, int]]:
    """(provider, figure, value) of each gateway's latest run, and the differences still open: the
    gauges on /metrics."""
    figures = []
    latest = {}
    for run in ReconciliationRun.objects.filter(status=ReconciliationRun.Status.DONE).order_by(
        "provider", "-bill_date"
    ):
        latest.setdefault(run.provider, run)
    for provider, run in latest.items():
        figures += [
            (provider, "lines", run.lines),
            (provider, "matched", run.matched),
            (provider, "differences", run.mismatches),
        ]
    for provider in {*latest, *ReconciliationMismatch.objects.values_list("run__provider", flat=True).distinct()}:
        open_count = ReconciliationMismatch.objects.filter(run__provider=provider, resolved_at__isnull=True).count()
        figures.append((provider, "open_differences", open_count))
    return figures

"""A sandbox payment gateway that behaves like a real one (think WeChat Pay v3 or Stripe).

Two halves live here. `SandboxPaymentProvider` is our client of the gateway. The `gateway_*`
functions are the gateway itself: its own books (SandboxPayOrder, SandboxRefund), its cashier
page, and asynchronous signed notifications sent by a Celery task with retries, which may arrive
late, twice or out of order, exactly as a real gateway's do.
"""

from __future__ import annotations

import json
import secrets

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.http import JsonResponse
from django.urls import reverse
from django.utils import timezone

from giftshop.errors import AppError
from outbox.jobs import enqueue
from payments.providers import Bill, BillLine, Checkout, OrderQuery, PaymentNotice
from payments.reconciliation import bill_day_bounds
from sandbox import error_codes as E
from sandbox import signing
from sandbox.delivery import post_callback
from sandbox.models import SandboxPayOrder, SandboxRefund

NOTIFY_PATH = "/api/v1/payments/notify/sandbox/"


class SandboxPaymentProvider:
    name = "sandbox"
    label = "沙箱支付"

    def checkout(
        self, *, out_trade_no: str, amount_fen: int, description: str, channel: str, client_ip: str, openid: str = ""
    ) -> Checkout:
        return Checkout(kind="redirect", url=reverse("sandbox-cashier", args=[out_trade_no]))

    def notification_answer(self, *, ok: bool, detail: str, status: int = 200):
        return JsonResponse({"code": "SUCCESS" if ok else "FAIL", "message": detail}, status=200 if ok else status)

    @classmethod
    def available(cls) -> bool:
        return settings.SANDBOX_ENABLED

    @classmethod
    def configuration_errors(cls) -> list[str]:
        return []  # its secrets are checked with the sandbox itself (giftshop.E002)

    def prepay(self, *, out_trade_no: str, amount_fen: int, description: str) -> str:
        gateway_create_order(out_trade_no=out_trade_no, amount_fen=amount_fen, description=description)
        return reverse("sandbox-cashier", args=[out_trade_no])

    def query(self, *, out_trade_no: str) -> OrderQuery:
        order = SandboxPayOrder.objects.filter(out_trade_no=out_trade_no).first()
        if order is None:
            return OrderQuery(status="unknown")
        return OrderQuery(status=order.status, amount_fen=order.amount_fen, transaction_id=order.transaction_id)

    def close(self, *, out_trade_no: str) -> bool:
        return gateway_close(out_trade_no=out_trade_no)

    def refund(self, *, out_refund_no: str, out_trade_no: str, amount_fen: int, total_fen: int = 0) -> bool:
        gateway_refund(out_refund_no=out_refund_no, out_trade_no=out_trade_no, amount_fen=amount_fen)
        return False  # the sandbox notifies the outcome, as WeChat Pay does

    def bill(self, *, bill_date) -> Bill:
        """The sandbox gateway's trade bill for a day, from its own books."""
        start, end = bill_day_bounds(bill_date)
        lines = [
            BillLine(
                kind="payment", out_trade_no=o.out_trade_no, amount_fen=o.amount_fen, transaction_id=o.transaction_id
            )
            for o in SandboxPayOrder.objects.filter(status="paid", paid_at__gte=start, paid_at__lt=end).order_by("pk")
        ]
        lines += [
            BillLine(kind="refund", out_trade_no=r.out_trade_no, out_refund_no=r.out_refund_no, amount_fen=r.amount_fen)
            for r in SandboxRefund.objects.filter(created_at__gte=start, created_at__lt=end).order_by("pk")
        ]
        return Bill(lines=lines, bad_lines=[])

    def refund_query(self, *, out_refund_no: str, out_trade_no: str) -> str:
        """The sandbox gateway refunds when asked; its notification may come late or not at all."""
        return "succeeded" if SandboxRefund.objects.filter(out_refund_no=out_refund_no).exists() else "unknown"

    def parse_notification(self, *, body: bytes, headers) -> PaymentNotice:
        signing.verify(body, headers.get(signing.HEADER), settings.SANDBOX_PAYMENT_SECRET)
        try:
            data = json.loads(body)
            return PaymentNotice(
                kind=str(data["event_type"]),
                out_trade_no=str(data["out_trade_no"]),
                amount_fen=int(data["amount_fen"]),
                transaction_id=str(data.get("transaction_id", "")),
                out_refund_no=str(data.get("out_refund_no", "")),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise AppError(E.BAD_NOTIFICATION, "Notification body is malformed.") from exc


# ----- the gateway side -----


def gateway_create_order(*, out_trade_no: str, amount_fen: int, description: str) -> SandboxPayOrder:
    order, _ = SandboxPayOrder.objects.get_or_create(
        out_trade_no=out_trade_no,
        defaults={
            "amount_fen": amount_fen,
            "description": description[:200],
            "transaction_id": "SBX" + secrets.token_hex(12),
        },
    )
    return order


def gateway_pay(*, out_trade_no: str) -> SandboxPayOrder:
    """What the cashier page's pay button does: the payer confirms, the gateway notifies us later."""
    with transaction.atomic():
        order = SandboxPayOrder.objects.select_for_update().filter(out_trade_no=out_trade_no).first()
        if order is None:
            raise AppError(E.UNKNOWN_ORDER, "No such order at the sandbox gateway.")
        if order.status == "closed":
            raise AppError(E.ORDER_CLOSED, "This order was closed and can no longer be paid.")
        if order.status == "created":
            order.status = "paid"
            order.paid_at = timezone.now()
            order.save(update_fields=["status", "paid_at"])
        _schedule_callback("payment", out_trade_no)
    return order


def gateway_close(*, out_trade_no: str) -> bool:
    with transaction.atomic():
        order = SandboxPayOrder.objects.select_for_update().filter(out_trade_no=out_trade_no).first()
        if order is None or order.status == "closed":
            return True
        if order.status == "paid":
            return False
        order.status = "closed"
        order.save(update_fields=["status"])
        return True


def gateway_refund(*, out_refund_no: str, out_trade_no: str, amount_fen: int) -> SandboxRefund:
    with transaction.atomic():
        order = SandboxPayOrder.objects.select_for_update().filter(out_trade_no=out_trade_no).first()
        if order is None or order.status != "paid":
            raise AppError(E.REFUND_REFUSED, "Only a paid order can be refunded.")
        refund = SandboxRefund.objects.filter(out_refund_no=out_refund_no).first()
        if refund is None:
            refunded = SandboxRefund.objects.filter(out_trade_no=out_trade_no).aggregate(s=Sum("amount_fen"))["s"] or 0
            if refunded + amount_fen > order.amount_fen:
                raise AppError(E.REFUND_EXCEEDS_PAYMENT, "Refunds would exceed the amount paid.")
            refund = SandboxRefund.objects.create(
                out_refund_no=out_refund_no, out_trade_no=out_trade_no, amount_fen=amount_fen
            )
        _schedule_callback("refund", out_refund_no)
    return refund


def _schedule_callback(kind: str, key: str) -> None:
    """The gateway's signed notifications, recorded in its own transaction (copies and delays on demand)."""
    for _ in range(max(1, settings.SANDBOX_CALLBACK_COPIES)):
        enqueue("sandbox.tasks.sandbox_payment_callback", kind, key, countdown=settings.SANDBOX_CALLBACK_DELAY)


def callback_body(kind: str, key: str) -> bytes:
    if kind == "payment":
        order = SandboxPayOrder.objects.get(out_trade_no=key)
        data = {
            "event_type": "payment.succeeded",
            "out_trade_no": order.out_trade_no,
            "transaction_id": order.transaction_id,
            "amount_fen": order.amount_fen,
            "paid_at": order.paid_at.isoformat(),
        }
    else:
        refund = SandboxRefund.objects.get(out_refund_no=key)
        data = {
            "event_type": "refund.succeeded",
            "out_trade_no": refund.out_trade_no,
            "out_refund_no": refund.out_refund_no,
            "amount_fen": refund.amount_fen,
        }
    return json.dumps(data, separators=(",", ":")).encode()


def gateway_send_callback(kind: str, key: str) -> dict:
    """Sign and deliver one notification. Raises ProviderUnavailable when our side did not take it."""
    body = callback_body(kind, key)
    headers = {signing.HEADER: signing.sign(body, settings.SANDBOX_PAYMENT_SECRET)}
    return post_callback(NOTIFY_PATH, body, headers)

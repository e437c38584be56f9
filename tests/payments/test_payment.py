"""Payment and refund notifications through the real webhook, unpaid cancellation, the query fallback."""

import json
import logging
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from gifts.models import Gift, GiftEvent, Notification
from gifts.services.unpaid import gifts_unpaid_close_due
from payments.models import Payment, Refund
from payments.services import payments_settle_from_gateway
from sandbox import payment as sandbox_payment
from sandbox import signing
from sandbox.models import SandboxPayOrder, SandboxRefund
from sandbox.payment import callback_body, gateway_pay
from shops.models import Sku
from tests.conftest import api_for

pytestmark = pytest.mark.django_db

NOTIFY = "/api/v1/payments/notify/sandbox/"


@pytest.fixture
def no_callbacks(monkeypatch):
    """The gateway takes payments and refunds but its notifications are not delivered on their own."""
    monkeypatch.setattr(sandbox_payment, "_schedule_callback", lambda kind, key: None)


def deliver(body: bytes, *, secret: str | None = None, timestamp: int | None = None):
    signature = signing.sign(body, secret or settings.SANDBOX_PAYMENT_SECRET, timestamp=timestamp)
    return Client().post(NOTIFY, data=body, content_type="application/json", HTTP_SANDBOX_SIGNATURE=signature)


def paid_at_gateway(gift) -> bytes:
    """The payer pays at the cashier; returns the notification body the gateway would send."""
    gateway_pay(out_trade_no=gift.payment.out_trade_no)
    return callback_body("payment", gift.payment.out_trade_no)


def _state(gift) -> tuple:
    gift.refresh_from_db()
    gift.payment.refresh_from_db()
    return gift.status, gift.payment.status, GiftEvent.objects.count(), Notification.objects.count()


def test_payment_notification_replayed_ten_times_moves_the_gift_once_and_notifies_once(
    make_gift, no_callbacks, sender, django_capture_on_commit_callbacks
):
    gift = make_gift(paid=False)
    body = paid_at_gateway(gift)
    answers = []
    for _ in range(10):
        with django_capture_on_commit_callbacks(execute=True):
            answers.append(deliver(body))
    assert [r.status_code for r in answers] == [200] * 10
    assert [r.json()["message"] for r in answers] == ["paid"] + ["duplicate"] * 9
    gift.refresh_from_db()
    assert gift.status == "sent" and gift.paid_at is not None and gift.expires_at is not None
    assert gift.payment.status == "paid" and gift.payment.transaction_id
    assert GiftEvent.objects.filter(gift=gift, kind="gift_status").count() == 1
    assert GiftEvent.objects.filter(gift=gift, kind="gift_status", to_status="sent").count() == 1
    assert Notification.objects.filter(user=sender).count() == 1
    assert Notification.objects.get(user=sender).kind == "gift_paid"
    assert set(gift.slots.values_list("expires_at", flat=True)) == {gift.expires_at}


def test_bad_signature_is_401_and_changes_nothing(make_gift, no_callbacks):
    gift = make_gift(paid=False)
    body = paid_at_gateway(gift)
    before = _state(gift)
    r = deliver(body, secret="not-the-gateway-secret")
    assert r.status_code == 401 and r.json()["code"] == "bad_signature"
    r = Client().post(NOTIFY, data=body, content_type="application/json")
    assert r.status_code == 401 and r.json()["code"] == "bad_signature"
    forged = body.replace(b'"amount_fen":9900', b'"amount_fen":1')
    r = Client().post(
        NOTIFY,
        data=forged,
        content_type="application/json",
        HTTP_SANDBOX_SIGNATURE=signing.sign(body, settings.SANDBOX_PAYMENT_SECRET),
    )
    assert r.status_code == 401 and r.json()["code"] == "bad_signature"
    assert _state(gift) == before == ("pending_payment", "pending", before[2], 0)


def test_signature_timestamp_outside_tolerance_is_rejected(make_gift, no_callbacks):
    gift = make_gift(paid=False)
    body = paid_at_gateway(gift)
    before = _state(gift)
    tolerance = int(settings.SANDBOX_SIGNATURE_TOLERANCE.total_seconds())
    for skew in (-tolerance - 60, tolerance + 60):
        r = deliver(body, timestamp=int(time.time()) + skew)
        assert r.status_code == 401 and r.json()["code"] == "bad_signature"
    assert _state(gift) == before
    assert deliver(body, timestamp=int(time.time()) - tolerance + 30).status_code == 200


def test_amount_mismatch_is_rejected_logged_and_changes_nothing(make_gift, no_callbacks, caplog):
    gift = make_gift(paid=False)
    paid_at_gateway(gift)
    data = json.loads(callback_body("payment", gift.payment.out_trade_no))
    data["amount_fen"] = gift.amount_fen - 1
    before = _state(gift)
    with caplog.at_level(logging.ERROR, logger="payments.services"):
        r = deliver(json.dumps(data).encode())
    assert r.status_code == 400 and r.json()["code"] == "amount_mismatch"
    assert _state(gift) == before
    errors = [rec for rec in caplog.records if rec.levelno == logging.ERROR and "amount mismatch" in rec.getMessage()]
    assert len(errors) == 1 and gift.payment.out_trade_no in errors[0].getMessage()


def test_unpaid_gift_past_its_window_is_cancelled_and_stock_released(make_gift, sku):
    gift = make_gift(paid=False, mode="group", recipients=3, quantity=2)
    assert Sku.objects.get(pk=sku.pk).stock == 94
    assert gifts_unpaid_close_due() == 0  # still inside the window
    Gift.objects.filter(pk=gift.pk).update(pay_deadline=timezone.now() - timedelta(seconds=1))
    assert gifts_unpaid_close_due() == 1
    gift.refresh_from_db()
    assert gift.status == "cancelled" and gift.payment.status == "closed"
    assert SandboxPayOrder.objects.get(out_trade_no=gift.payment.out_trade_no).status == "closed"
    assert Sku.objects.get(pk=sku.pk).stock == 100
    assert gifts_unpaid_close_due() == 0
    assert Sku.objects.get(pk=sku.pk).stock == 100
    assert GiftEvent.objects.filter(gift=gift, kind="gift_status", to_status="cancelled").count() == 1


def test_paid_gift_whose_notification_is_late_is_settled_not_cancelled_at_the_deadline(make_gift, no_callbacks, sku):
    gift = make_gift(paid=False)
    paid_at_gateway(gift)
    Gift.objects.filter(pk=gift.pk).update(pay_deadline=timezone.now() - timedelta(seconds=1))
    assert gifts_unpaid_close_due() == 0
    gift.refresh_from_db()
    assert gift.status == "sent" and gift.payment.status == "paid"
    assert Sku.objects.get(pk=sku.pk).stock == 99


def test_payment_arriving_after_cancellation_is_refunded_in_full_once(
    make_gift, sku, sender, django_capture_on_commit_callbacks
):
    gift = make_gift(paid=False, mode="group", recipients=2)
    Gift.objects.filter(pk=gift.pk).update(pay_deadline=timezone.now() - timedelta(seconds=1))
    assert gifts_unpaid_close_due() == 1
    # The payer's money reached the gateway anyway (a real gateway can settle after our close).
    SandboxPayOrder.objects.filter(out_trade_no=gift.payment.out_trade_no).update(status="paid", paid_at=timezone.now())
    body = callback_body("payment", gift.payment.out_trade_no)
    with django_capture_on_commit_callbacks(execute=True):
        first = deliver(body)
    with django_capture_on_commit_callbacks(execute=True):
        second = deliver(body)
    assert first.status_code == 200 and first.json()["message"] == "refunded_late_payment"
    assert second.status_code == 200
    gift.refresh_from_db()
    assert gift.status == "cancelled"
    refund = Refund.objects.get(payment__gift=gift)
    assert refund.reason == "late_payment" and refund.amount_fen == gift.amount_fen == 2 * sku.price_fen
    assert refund.slot is None and refund.status == "succeeded"
    assert SandboxRefund.objects.filter(out_trade_no=gift.payment.out_trade_no).count() == 1
    assert Sku.objects.get(pk=sku.pk).stock == 100  # released once, at cancellation
    assert Notification.objects.filter(user=sender, kind="refund").count() == 1
    assert not Notification.objects.filter(kind="gift_paid").exists()


def test_query_fallback_settles_a_paid_order_whose_notification_never_came(make_gift, no_callbacks, sender):
    gift = make_gift(paid=False)
    paid_at_gateway(gift)
    unpaid = make_gift(paid=False)
    gift.refresh_from_db()
    assert gift.status == "pending_payment"
    assert payments_settle_from_gateway() == 0  # too young: the notification may still come
    Payment.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    assert payments_settle_from_gateway() == 1
    gift.refresh_from_db()
    unpaid.refresh_from_db()
    assert gift.status == "sent" and gift.payment.status == "paid"
    assert unpaid.status == "pending_payment"
    assert payments_settle_from_gateway() == 0
    assert GiftEvent.objects.filter(gift=gift, kind="gift_status", to_status="sent").count() == 1
    assert Notification.objects.filter(user=sender, kind="gift_paid").count() == 1
    # The notification arrives after all: nothing more happens.
    r = deliver(callback_body("payment", gift.payment.out_trade_no))
    assert r.status_code == 200 and r.json()["message"] == "duplicate"


def test_refund_notification_replayed_refunds_once(
    make_gift, recipient, sender, monkeypatch, django_capture_on_commit_callbacks
):
    gift = make_gift()
    monkeypatch.setattr(sandbox_payment, "_schedule_callback", lambda kind, key: None)
    with django_capture_on_commit_callbacks(execute=True):
        r = api_for(recipient).post(f"/api/v1/claims/{gift.claim_token}/decline/")
    assert r.status_code == 200
    refund = Refund.objects.get(payment__gift=gift)
    assert refund.status == "pending" and refund.reason == "declined"
    assert SandboxRefund.objects.filter(out_refund_no=refund.out_refund_no).count() == 1
    body = callback_body("refund", refund.out_refund_no)
    answers = []
    for _ in range(5):
        with django_capture_on_commit_callbacks(execute=True):
            answers.append(deliver(body).json()["message"])
    assert answers == ["refunded"] + ["duplicate"] * 4
    refund.refresh_from_db()
    gift.refresh_from_db()
    assert refund.status == "succeeded" and refund.succeeded_at is not None
    assert gift.slots.get().status == "refunded" and gift.status == "refunded"
    assert GiftEvent.objects.filter(gift=gift, kind="slot_status", to_status="refunded").count() == 1
    assert Notification.objects.filter(user=sender, kind="refund").count() == 1
    assert Refund.objects.filter(payment__gift=gift).count() == 1


def test_refund_notification_with_a_wrong_amount_is_rejected(
    make_gift, recipient, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    gift = make_gift()
    monkeypatch.setattr(sandbox_payment, "_schedule_callback", lambda kind, key: None)
    with django_capture_on_commit_callbacks(execute=True):
        api_for(recipient).post(f"/api/v1/claims/{gift.claim_token}/decline/")
    refund = Refund.objects.get(payment__gift=gift)
    data = json.loads(callback_body("refund", refund.out_refund_no))
    data["amount_fen"] = refund.amount_fen + 1
    with caplog.at_level(logging.ERROR, logger="payments.services"):
        r = deliver(json.dumps(data).encode())
    assert r.status_code == 400 and r.json()["code"] == "amount_mismatch"
    refund.refresh_from_db()
    assert refund.status == "pending" and gift.slots.get().status == "declined"
    assert any("refund amount mismatch" in rec.getMessage() for rec in caplog.records)


def test_a_sandbox_refund_whose_callback_never_came_is_settled_by_the_query_sweep(
    make_gift, recipient, no_callbacks, django_capture_on_commit_callbacks
):
    from gifts.services.claim import slot_decline
    from payments.services import refunds_settle_from_gateway

    gift = make_gift()
    with django_capture_on_commit_callbacks(execute=True):
        slot_decline(gift=gift, user=recipient)  # the gateway refunds; its notice is not delivered
    refund = Refund.objects.get(payment__gift=gift)
    assert refund.status == Refund.Status.PENDING and SandboxRefund.objects.filter(out_refund_no=refund.out_refund_no)
    assert refunds_settle_from_gateway() == 0  # too recent to ask about

    Refund.objects.filter(pk=refund.pk).update(created_at=timezone.now() - timedelta(minutes=10))
    assert refunds_settle_from_gateway() == 1
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED

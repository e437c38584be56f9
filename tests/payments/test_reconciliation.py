"""Daily reconciliation (payments/reconciliation.py): each gateway's bill against our books, with one
injected difference of each kind, through the sandbox's bill and WeChat Pay's downloaded trade bill."""

import pytest
from django.test import Client
from django.utils import timezone

from gifts.models import GiftStatus
from gifts.services.claim import slot_decline
from giftshop.errors import ProviderUnavailable
from outbox.models import Job
from payments import wechatpay
from payments.models import Payment, ReconciliationMismatch, ReconciliationRun, Refund
from payments.reconciliation import CHINA, mismatch_resolve, reconciliation_figures, reconciliation_run
from payments.tasks import reconcile_yesterday
from sandbox.models import SandboxPayOrder, SandboxRefund
from sandbox.payment import gateway_create_order
from tests.payments.wechatpay_double import WeChatPayDouble

pytestmark = pytest.mark.django_db

K = ReconciliationMismatch.Kind


def today():
    return timezone.now().astimezone(CHINA).date()


def kinds(run) -> list[str]:
    return sorted(run.differences.values_list("kind", flat=True))


def test_a_day_where_both_sides_agree_has_no_differences(make_gift, recipient, django_capture_on_commit_callbacks):
    make_gift()
    declined = make_gift()
    with django_capture_on_commit_callbacks(execute=True):
        slot_decline(gift=declined, user=recipient)
    assert Refund.objects.get(payment__gift=declined).status == Refund.Status.SUCCEEDED

    run = reconciliation_run(provider="sandbox", bill_date=today())

    assert run.status == ReconciliationRun.Status.DONE
    assert (run.lines, run.matched, run.mismatches) == (3, 3, 0)


def test_one_difference_of_each_kind_is_found_and_what_the_gateway_took_is_settled(
    make_gift, recipient, django_capture_on_commit_callbacks
):
    # paid at the gateway, never recorded here (the notification was lost): settled by the run
    unsettled = make_gift(paid=False)
    gateway_create_order(out_trade_no=unsettled.payment.out_trade_no, amount_fen=unsettled.amount_fen, description="")
    SandboxPayOrder.objects.filter(out_trade_no=unsettled.payment.out_trade_no).update(
        status="paid", paid_at=timezone.now()
    )
    # paid here, not in the gateway's bill
    missing_there = make_gift()
    SandboxPayOrder.objects.filter(out_trade_no=missing_there.payment.out_trade_no).delete()
    # the amounts disagree
    differs = make_gift()
    SandboxPayOrder.objects.filter(out_trade_no=differs.payment.out_trade_no).update(amount_fen=1)
    # refunded at the gateway, still pending here: settled by the run
    refund_pending = make_gift()
    with django_capture_on_commit_callbacks(execute=False):  # its callback is never delivered
        slot_decline(gift=refund_pending, user=recipient)
    from payments.services import refund_submit

    pending_refund = Refund.objects.get(payment__gift=refund_pending)
    refund_submit(refund_id=pending_refund.pk)
    Job.objects.all().delete()
    # refunded here, not in the gateway's bill
    refunded_here = make_gift()
    with django_capture_on_commit_callbacks(execute=True):
        slot_decline(gift=refunded_here, user=recipient)
    SandboxRefund.objects.filter(out_trade_no=refunded_here.payment.out_trade_no).delete()
    # a refund the gateway made that we never asked for
    SandboxRefund.objects.create(out_refund_no="X-UNKNOWN", out_trade_no=differs.payment.out_trade_no, amount_fen=5)

    run = reconciliation_run(provider="sandbox", bill_date=today())

    assert kinds(run) == sorted(
        [
            K.PAID_THERE_NOT_HERE,
            K.PAID_HERE_NOT_THERE,
            K.AMOUNT_DIFFERS,
            K.REFUND_MISSING_HERE,
            K.REFUND_MISSING_HERE,
            K.REFUND_MISSING_THERE,
        ]
    )
    settled = run.differences.get(kind=K.PAID_THERE_NOT_HERE)
    assert settled.out_trade_no == unsettled.payment.out_trade_no and settled.action == "settled: paid"
    unsettled.refresh_from_db()
    assert unsettled.status == GiftStatus.SENT
    assert run.differences.get(out_refund_no=pending_refund.out_refund_no).action == "settled: refunded"
    assert Refund.objects.get(pk=pending_refund.pk).status == Refund.Status.SUCCEEDED
    assert run.differences.get(out_refund_no="X-UNKNOWN").action == ""
    assert run.differences.get(kind=K.AMOUNT_DIFFERS).theirs_fen == 1

    again = reconciliation_run(provider="sandbox", bill_date=today())
    assert again.pk == run.pk and again.differences.count() == 6  # a finished day is not run twice


def test_an_operator_resolves_a_difference_and_the_gauges_count_what_is_open(make_gift):
    paid = make_gift()
    SandboxPayOrder.objects.filter(out_trade_no=paid.payment.out_trade_no).delete()
    run = reconciliation_run(provider="sandbox", bill_date=today())
    difference = run.differences.get()
    assert ("sandbox", "open_differences", 1) in reconciliation_figures()

    mismatch_resolve(mismatch=difference, note="the gateway's support confirmed the payment")

    difference.refresh_from_db()
    assert difference.resolved_at is not None and "confirmed" in difference.resolution
    assert ("sandbox", "open_differences", 0) in reconciliation_figures()
    metrics = Client().get("/metrics").content.decode()
    assert 'giftshop_reconciliation{figure="differences",provider="sandbox"} 1.0' in metrics


def test_beat_asks_for_yesterdays_bill_from_every_enabled_gateway(settings):
    assert reconcile_yesterday() == 1  # the sandbox only, here
    assert list(Job.objects.values_list("task", flat=True)) == ["payments.tasks.reconcile_bill"]


@pytest.fixture
def wx(settings):
    double = WeChatPayDouble().start()
    for name, value in double.settings().items():
        setattr(settings, name, value)
    settings.PAYMENT_PROVIDER = "wechatpay"
    wechatpay._client.cache_clear()
    yield double
    double.stop()
    wechatpay._client.cache_clear()


def _paid_with_wechat(wx, make_gift, django_capture_on_commit_callbacks):
    gift = make_gift(paid=False)
    Client().get(f"/pay/{gift.payment.out_trade_no}/")
    wx.pay(gift.payment.out_trade_no)
    body, headers = wx.payment_notification(gift.payment.out_trade_no)
    with django_capture_on_commit_callbacks(execute=True):
        answer = Client().post(
            "/api/v1/payments/notify/wechatpay/", body.encode(), content_type="application/json", headers=headers
        )
    assert answer.status_code == 204
    return gift


def test_wechat_pay_trade_bill_is_downloaded_checked_and_matched(wx, make_gift, django_capture_on_commit_callbacks):
    gift = _paid_with_wechat(wx, make_gift, django_capture_on_commit_callbacks)
    wx.bill_extra_lines = [
        wx.bill_line(out_trade_no="GS-NEVER-OURS", state="SUCCESS", amount_fen=990),
        "`2026-12-03 10:00:00,`broken line",
        wx.bill_line(out_trade_no="GS-BAD-AMOUNT", state="SUCCESS", amount_fen=100).replace("`1.00", "`1.0.0"),
    ]

    run = reconciliation_run(provider="wechatpay", bill_date=today())

    assert run.status == ReconciliationRun.Status.DONE and run.matched == 1
    assert [(d.kind, d.out_trade_no, d.action) for d in run.differences.all()] == [
        (K.PAID_THERE_NOT_HERE, "GS-NEVER-OURS", "")
    ]
    assert len(run.bad_lines) == 2 and all(line.startswith("line ") for line in run.bad_lines)
    assert any("/v3/bill/tradebill?bill_date=" in r["path"] for r in wx.requests) and wx.refused == []
    assert Payment.objects.get(pk=gift.payment.pk).status == Payment.Status.PAID


def test_a_bill_that_does_not_match_its_hash_is_not_used(
    wx, make_gift, django_capture_on_commit_callbacks, monkeypatch
):
    _paid_with_wechat(wx, make_gift, django_capture_on_commit_callbacks)
    monkeypatch.setattr(wx, "bill_text", lambda: "tampered")
    real = wx._route

    def tampered(method, path, data):
        status, answer = real(method, path, data)
        if path.startswith("/v3/bill/tradebill"):
            answer["hash_value"] = "0" * 40
        return status, answer

    monkeypatch.setattr(wx, "_route", tampered)
    with pytest.raises(ProviderUnavailable):
        reconciliation_run(provider="wechatpay", bill_date=today())
    run = ReconciliationRun.objects.get(provider="wechatpay")
    assert run.status == ReconciliationRun.Status.RUNNING and not run.differences.exists()


@pytest.fixture
def ali(settings):
    from payments import alipay
    from tests.payments.alipay_double import AlipayDouble

    double = AlipayDouble().start()
    for name, value in double.settings().items():
        setattr(settings, name, value)
    settings.PAYMENT_PROVIDER = "alipay"
    alipay._client.cache_clear()
    yield double
    double.stop()
    alipay._client.cache_clear()


def test_alipay_trade_bill_is_downloaded_and_matched_refunds_included(
    ali, make_gift, recipient, django_capture_on_commit_callbacks
):
    from payments.services import payments_settle_from_gateway

    paid = make_gift(paid=False)
    declined = make_gift(paid=False)
    for gift in (paid, declined):
        ali.pay(gift.payment.out_trade_no, f"{gift.amount_fen // 100}.{gift.amount_fen % 100:02d}")
    Payment.objects.update(created_at=timezone.now() - timezone.timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        assert payments_settle_from_gateway() == 2  # settled as their notifications would have
    declined.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        slot_decline(gift=declined, user=recipient)  # Alipay refunds at once
    ali.bill_extra_lines = [
        ali.bill_line(trade_no="2026" + "9" * 20, out_trade_no="GS-NOT-OURS", kind="交易", amount="9.90"),
        "not,a,bill,line",
    ]

    run = reconciliation_run(provider="alipay", bill_date=today())

    assert run.matched == 3  # two payments and the refund
    assert [(d.kind, d.out_trade_no) for d in run.differences.all()] == [(K.PAID_THERE_NOT_HERE, "GS-NOT-OURS")]
    assert len(run.bad_lines) == 1

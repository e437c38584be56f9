"""Alipay through the `python-alipay-sdk` against a local double of its gateway
(tests/payments/alipay_double.py): our requests are RSA2-signed and checked there, its answers and
notifications are signed with its own key and checked here, through our real endpoints and services."""

from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit
from urllib.request import urlopen

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone

from gifts.models import Gift, GiftEvent, GiftStatus, Notification, Slot, SlotStatus
from gifts.services.claim import slot_decline
from gifts.services.unpaid import gifts_unpaid_close_due
from giftshop.errors import AppError, ProviderUnavailable
from payments import alipay
from payments.alipay import AlipayProvider
from payments.models import Payment, Refund
from payments.providers import fen_to_yuan as yuan
from payments.providers import yuan_to_fen as fen
from payments.services import payment_notification_handle, payments_settle_from_gateway, refund_submit
from payments.tasks import send_refund
from tests.conftest import api_for
from tests.payments.alipay_double import AlipayDouble, new_key, private_pem, to_yuan

pytestmark = pytest.mark.django_db

NOTIFY = "/api/v1/payments/notify/alipay/"
DESKTOP = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
IN_WECHAT = PHONE + " MicroMessenger/8.0.47"


@pytest.fixture
def ali(settings):
    double = AlipayDouble().start()
    for name, value in double.settings().items():
        setattr(settings, name, value)
    settings.PAYMENT_PROVIDER = "alipay"
    settings.ALIPAY_TIMEOUT_SECONDS = 2.0
    alipay._client.cache_clear()
    yield double
    double.stop()
    alipay._client.cache_clear()


def cashier(gift, user_agent=PHONE):
    return Client().get(f"/pay/{gift.payment.out_trade_no}/", HTTP_USER_AGENT=user_agent)


def open_pay_page(url: str) -> str:
    """The payer's browser follows our redirect to Alipay's pay page."""
    with urlopen(url, timeout=5) as page:  # noqa: S310 (the double, on 127.0.0.1)
        return page.read().decode()


def notify(body: bytes):
    return Client().post(NOTIFY, data=body, content_type="application/x-www-form-urlencoded")


def state(gift) -> tuple:
    gift.refresh_from_db()
    gift.payment.refresh_from_db()
    return (
        gift.status,
        gift.payment.status,
        gift.payment.transaction_id,
        GiftEvent.objects.count(),
        Notification.objects.count(),
    )


@pytest.fixture
def opened(ali, make_gift):
    """A gift whose payer opened the cashier on a phone and followed it to Alipay: the trade exists."""
    gift = make_gift(paid=False)
    open_pay_page(cashier(gift).context["checkout"].url)
    assert ali.trades[gift.payment.out_trade_no].status == "WAIT_BUYER_PAY"
    return gift


@pytest.fixture
def paid_gift(ali, opened, django_capture_on_commit_callbacks):
    ali.pay(opened.payment.out_trade_no, to_yuan(opened.amount_fen))
    with django_capture_on_commit_callbacks(execute=True):
        answer = notify(ali.notification(opened.payment.out_trade_no))
    assert answer.content == b"success"
    opened.refresh_from_db()
    assert opened.status == GiftStatus.SENT
    return opened


# ----- paying -----


def test_a_gift_created_with_alipay_sends_a_phone_to_a_signed_wap_pay_url(ali, sender, sku):
    r = api_for(sender).post("/api/v1/gifts/", {"sku_id": sku.pk, "mode": "single"}, format="json")
    assert r.status_code == 201, r.content
    gift = Gift.objects.get(pk=r.data["id"])
    no = gift.payment.out_trade_no
    assert gift.payment.provider == "alipay" and gift.payment.cashier_url == f"/pay/{no}/"
    assert ali.requests == []  # nothing at Alipay before the payer opens the cashier

    page = cashier(gift, PHONE)
    checkout = page.context["checkout"]
    assert page.status_code == 200 and checkout.kind == "redirect"
    assert checkout.url.startswith(ali.url + "?") and 'data-test="pay-redirect"' in page.content.decode()

    assert str(no) in open_pay_page(checkout.url)
    [request] = ali.requests
    site = django_settings.SITE_URL
    assert request["method"] == "alipay.trade.wap.pay" and ali.refused == []
    assert request["biz"]["out_trade_no"] == no and request["biz"]["total_amount"] == "99.00"
    assert request["biz"]["product_code"] == "QUICK_WAP_PAY" and request["biz"]["quit_url"] == site + f"/pay/{no}/"
    assert request["params"]["notify_url"] == site + NOTIFY
    assert request["params"]["return_url"] == site + f"/gifts/{gift.pk}/card/"
    deadline = timezone.localtime(gift.pay_deadline).strftime("%Y-%m-%d %H:%M:%S")
    assert request["biz"]["time_expire"] == deadline
    assert AlipayProvider().query(out_trade_no=no).status == "created"


@pytest.mark.parametrize(
    ("user_agent", "method"), [(DESKTOP, "alipay.trade.page.pay"), (IN_WECHAT, "alipay.trade.wap.pay")]
)
def test_desktops_get_page_pay_and_wechat_gets_wap_pay(ali, make_gift, user_agent, method):
    gift = make_gift(paid=False, quantity=3)
    open_pay_page(cashier(gift, user_agent).context["checkout"].url)
    [request] = ali.requests
    assert request["method"] == method and request["biz"]["total_amount"] == "297.00"
    assert ali.trades[gift.payment.out_trade_no].total_fen == gift.amount_fen == 29700


def test_a_checkout_url_altered_in_transit_is_refused_by_alipay(ali, make_gift):
    gift = make_gift(paid=False)
    url = cashier(gift).context["checkout"].url
    params = dict(parse_qsl(urlsplit(url).query))
    params["biz_content"] = params["biz_content"].replace('"99.00"', '"0.01"')
    open_pay_page(url.split("?")[0] + "?" + urlencode(params))
    assert ali.refused == [{"method": "alipay.trade.wap.pay", "sub_code": "isv.invalid-signature"}]
    assert ali.trades == {} and ali.requests == []


def test_a_payment_notification_delivered_four_times_sends_the_gift_once(
    ali, opened, sender, django_capture_on_commit_callbacks
):
    no = opened.payment.out_trade_no
    trade = ali.pay(no, "99.00")
    body = ali.notification(no)
    answers = []
    for _ in range(4):
        with django_capture_on_commit_callbacks(execute=True):
            answers.append(notify(body))

    assert [(a.status_code, a.content, a["Content-Type"]) for a in answers] == [(200, b"success", "text/plain")] * 4
    opened.refresh_from_db()
    assert opened.status == GiftStatus.SENT and opened.paid_at is not None
    assert opened.payment.status == Payment.Status.PAID and opened.payment.transaction_id == trade.trade_no
    assert GiftEvent.objects.filter(gift=opened, kind="gift_status").count() == 1
    assert GiftEvent.objects.filter(gift=opened, kind="gift_status", to_status=GiftStatus.SENT).count() == 1
    assert Notification.objects.filter(user=sender, kind="gift_paid").count() == 1
    assert Notification.objects.count() == 1


def test_trade_finished_also_settles_a_payment(ali, opened):
    no = opened.payment.out_trade_no
    ali.pay(no, "99.00")
    assert notify(ali.notification(no, trade_status="TRADE_FINISHED")).content == b"success"
    opened.refresh_from_db()
    assert opened.status == GiftStatus.SENT


BAD_NOTIFICATIONS = {
    "forged_signature": {"key": new_key()},
    "another_app_id": {"override": {"app_id": "2021000999999999", "auth_app_id": "2021000999999999"}},
    "wrong_amount": {"override": {"total_amount": "0.01"}},
    "amount_changed_in_transit": {"after_signing": {"total_amount": "0.01"}},
    "status_changed_in_transit": {"after_signing": {"trade_status": "TRADE_SUCCESS"}, "trade_status": "WAIT_BUYER_PAY"},
    "sign_removed": {"after_signing": {"sign": ""}},
    "sign_not_base64": {"after_signing": {"sign": "!!not-base64!!"}},
    "sign_type_rsa": {"after_signing": {"sign_type": "RSA"}},
    "no_trade_no": {"remove": ("trade_no",)},
    "no_total_amount": {"remove": ("total_amount",)},
    "no_out_trade_no": {"remove": ("out_trade_no",)},
    "amount_with_three_decimals": {"override": {"total_amount": "99.001"}},
    "amount_negative": {"override": {"total_amount": "-99.00"}},
    "amount_as_exponent": {"override": {"total_amount": "9.9e1"}},
    "amount_not_a_number": {"override": {"total_amount": "NaN"}},
}


@pytest.mark.parametrize("tamper", [*BAD_NOTIFICATIONS, "truncated", "repeated_field", "junk", "not_a_form", "empty"])
def test_a_bad_notification_is_answered_fail_and_changes_nothing(ali, opened, tamper, caplog):
    no = opened.payment.out_trade_no
    ali.pay(no, "99.00")
    before = state(opened)
    body = ali.notification(no, **BAD_NOTIFICATIONS.get(tamper, {}))
    body = {
        "truncated": body[: len(body) // 2],
        "repeated_field": body + b"&total_amount=0.01",
        "junk": b"\xff\xfe\x00<xml>\x81junk",
        "not_a_form": b"hello world",
        "empty": b"",
    }.get(tamper, body)

    answer = notify(body)

    assert (answer.status_code, answer.content) == (200, b"fail")
    assert state(opened) == before == (GiftStatus.PENDING_PAYMENT, Payment.Status.PENDING, "", before[3], 0)
    assert "sign=" not in caplog.text and "fund_bill_list" not in caplog.text  # no bodies in the logs


def test_a_signed_notice_for_an_order_we_do_not_know_is_answered_fail(ali, opened):
    ali.pay("GS20990101000000NOTOURS", "99.00")
    before = state(opened)
    assert notify(ali.notification("GS20990101000000NOTOURS")).content == b"fail"
    assert state(opened) == before


@pytest.mark.parametrize("trade_status", ["TRADE_CLOSED", "WAIT_BUYER_PAY"])
def test_a_notice_that_is_not_a_payment_is_answered_success_and_changes_nothing(ali, opened, trade_status):
    no = opened.payment.out_trade_no
    before = state(opened)
    body = ali.notification(no, trade_status=trade_status)
    assert payment_notification_handle(provider="alipay", body=body, headers={}) == "ignored"
    assert notify(body).content == b"success"
    assert state(opened) == before


def test_the_webhook_is_not_found_when_alipay_is_not_configured(settings, make_gift):
    settings.ALIPAY_APP_ID = ""
    assert not AlipayProvider.available()
    assert Client().post(NOTIFY, b"a=b", content_type="application/x-www-form-urlencoded").status_code == 404


# ----- refunds -----


def test_a_decline_refunds_through_alipay_and_is_settled_at_once(
    ali, paid_gift, recipient, sender, django_capture_on_commit_callbacks
):
    no = paid_gift.payment.out_trade_no
    with django_capture_on_commit_callbacks(execute=True):
        r = api_for(recipient).post(f"/api/v1/claims/{paid_gift.claim_token}/decline/")
    assert r.status_code == 200, r.content

    refund = Refund.objects.get(payment__gift=paid_gift)
    assert refund.status == Refund.Status.SUCCEEDED and refund.succeeded_at is not None
    assert Slot.objects.get(gift=paid_gift).status == SlotStatus.REFUNDED
    assert ali.trades[no].refunds == {refund.out_refund_no: paid_gift.amount_fen}
    assert ali.trades[no].status == "TRADE_CLOSED"  # all of it refunded
    [request] = [q for q in ali.requests if q["method"] == "alipay.trade.refund"]
    assert request["biz"] == {"out_trade_no": no, "refund_amount": "99.00", "out_request_no": refund.out_refund_no}
    assert Notification.objects.filter(user=sender, kind="refund").count() == 1

    send_refund(refund.pk)  # the task delivered again: settled already, Alipay is not asked
    assert len([q for q in ali.requests if q["method"] == "alipay.trade.refund"]) == 1
    # Asked again anyway with the same out_request_no: the same refund at Alipay, never a second.
    assert AlipayProvider().refund(out_refund_no=refund.out_refund_no, out_trade_no=no, amount_fen=9900) is True
    assert ali.trades[no].refunds == {refund.out_refund_no: 9900}
    assert Refund.objects.filter(payment__gift=paid_gift).count() == 1

    # Alipay's echo of the refund (a TRADE_CLOSED notice with refund fields) asks nothing of us.
    echo = ali.refund_notification(no, refund.out_refund_no)
    assert payment_notification_handle(provider="alipay", body=echo, headers={}) == "ignored"
    assert notify(echo).content == b"success"
    assert Notification.objects.filter(user=sender, kind="refund").count() == 1


def test_a_partial_refund_echo_with_trade_success_is_not_taken_for_a_payment(ali, paid_gift):
    no = paid_gift.payment.out_trade_no
    assert AlipayProvider().refund(out_refund_no=f"{no}-part", out_trade_no=no, amount_fen=100) is True
    assert ali.trades[no].status == "TRADE_SUCCESS"
    echo = ali.refund_notification(no, f"{no}-part")
    assert payment_notification_handle(provider="alipay", body=echo, headers={}) == "ignored"


def test_a_refund_beyond_what_was_paid_is_refused_with_a_clear_code(ali, paid_gift):
    no = paid_gift.payment.out_trade_no
    with pytest.raises(AppError) as refused:
        AlipayProvider().refund(out_refund_no=f"{no}-too-much", out_trade_no=no, amount_fen=9901)
    assert refused.value.code == "refund_exceeds_payment"
    assert ali.trades[no].refunds == {}


# ----- closing unpaid orders, the query fallback -----


def test_an_unpaid_gift_past_its_window_is_closed_at_alipay(ali, opened, make_gift, sku):
    never_opened = make_gift(paid=False)
    Gift.objects.filter(pk__in=[opened.pk, never_opened.pk]).update(pay_deadline=timezone.now() - timedelta(minutes=1))

    assert gifts_unpaid_close_due() == 2

    assert ali.trades[opened.payment.out_trade_no].status == "TRADE_CLOSED"
    assert never_opened.payment.out_trade_no not in ali.trades
    for gift in (opened, never_opened):
        gift.refresh_from_db()
        assert gift.status == GiftStatus.CANCELLED and gift.payment.status == Payment.Status.CLOSED
    with pytest.raises(ValueError, match="closed"):
        ali.pay(opened.payment.out_trade_no, "99.00")
    assert gifts_unpaid_close_due() == 0


def test_an_order_paid_at_the_last_second_is_settled_not_cancelled(ali, opened):
    ali.pay(opened.payment.out_trade_no, "99.00")
    Gift.objects.filter(pk=opened.pk).update(pay_deadline=timezone.now() - timedelta(minutes=1))
    assert gifts_unpaid_close_due() == 0
    opened.refresh_from_db()
    assert opened.status == GiftStatus.SENT and opened.payment.status == Payment.Status.PAID


def test_close_says_false_for_a_trade_paid_meanwhile_and_true_for_one_closed_already(ali, opened, make_gift):
    provider = AlipayProvider()
    other = make_gift(paid=False)
    open_pay_page(cashier(other).context["checkout"].url)
    assert provider.close(out_trade_no=other.payment.out_trade_no) is True
    assert provider.close(out_trade_no=other.payment.out_trade_no) is True  # ACQ.TRADE_STATUS_ERROR, closed
    ali.pay(opened.payment.out_trade_no, "99.00")
    assert provider.close(out_trade_no=opened.payment.out_trade_no) is False
    assert ali.trades[opened.payment.out_trade_no].status == "TRADE_SUCCESS"


def test_the_query_fallback_settles_a_paid_order_whose_notice_never_came(ali, opened, make_gift, sender):
    trade = ali.pay(opened.payment.out_trade_no, "99.00")
    unpaid = make_gift(paid=False)
    assert payments_settle_from_gateway() == 0  # too young: the notice may still come
    Payment.objects.update(created_at=timezone.now() - timedelta(minutes=5))

    assert payments_settle_from_gateway() == 1

    opened.refresh_from_db()
    unpaid.refresh_from_db()
    assert opened.status == GiftStatus.SENT and opened.payment.transaction_id == trade.trade_no
    assert unpaid.status == GiftStatus.PENDING_PAYMENT
    assert payments_settle_from_gateway() == 0
    assert Notification.objects.filter(user=sender, kind="gift_paid").count() == 1
    assert notify(ali.notification(opened.payment.out_trade_no)).content == b"success"  # late notice: no-op
    assert GiftEvent.objects.filter(gift=opened, kind="gift_status", to_status=GiftStatus.SENT).count() == 1


def test_a_query_answer_for_a_paid_trade_carries_the_amount_in_fen(ali, opened):
    trade = ali.pay(opened.payment.out_trade_no, "99.00")
    result = AlipayProvider().query(out_trade_no=opened.payment.out_trade_no)
    assert (result.status, result.amount_fen, result.transaction_id) == ("paid", 9900, trade.trade_no)
    assert AlipayProvider().query(out_trade_no="GS-NEVER-SEEN").status == "unknown"


# ----- the gateway in trouble -----


@pytest.mark.parametrize("trouble", ["stopped", "http_503", "too_slow"])
def test_the_gateway_in_trouble_raises_provider_unavailable_and_changes_nothing(ali, opened, settings, trouble):
    ali.pay(opened.payment.out_trade_no, "99.00")
    Payment.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    before = state(opened)
    if trouble == "stopped":
        ali.stop()
    elif trouble == "http_503":
        ali.http_status = 503
    else:
        settings.ALIPAY_TIMEOUT_SECONDS, ali.delay = 0.2, 1.0
    provider = AlipayProvider()

    with pytest.raises(ProviderUnavailable):
        payments_settle_from_gateway()
    with pytest.raises(ProviderUnavailable):
        provider.close(out_trade_no=opened.payment.out_trade_no)
    with pytest.raises(ProviderUnavailable):
        provider.refund(out_refund_no="R1", out_trade_no=opened.payment.out_trade_no, amount_fen=100)

    assert state(opened) == before and ali.trades[opened.payment.out_trade_no].refunds == {}


def test_with_the_gateway_down_a_refund_waits_pending_and_is_made_once_when_it_is_back(
    ali, paid_gift, recipient, django_capture_on_commit_callbacks
):
    no = paid_gift.payment.out_trade_no
    ali.http_status = 502
    with django_capture_on_commit_callbacks(execute=True):
        slot_decline(gift=paid_gift, user=recipient)  # its refund task runs and fails for now
    refund = Refund.objects.get(payment__gift=paid_gift)
    with pytest.raises(ProviderUnavailable):
        refund_submit(refund_id=refund.pk)
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PENDING and ali.trades[no].refunds == {}
    assert Slot.objects.get(gift=paid_gift).status == SlotStatus.DECLINED

    ali.http_status = 200
    send_refund(refund.pk)
    send_refund(refund.pk)
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED and ali.trades[no].refunds == {refund.out_refund_no: 9900}
    assert Slot.objects.get(gift=paid_gift).status == SlotStatus.REFUNDED


def test_an_answer_not_signed_by_alipay_is_refused(ali, opened):
    ali.alipay_key = new_key()  # someone else answers in Alipay's name
    with pytest.raises(AppError) as refused:
        AlipayProvider().query(out_trade_no=opened.payment.out_trade_no)
    assert refused.value.code == "provider_refused"


def test_a_request_signed_with_another_key_is_refused_by_alipay(ali, opened, settings):
    settings.ALIPAY_PRIVATE_KEY = private_pem(new_key())
    with pytest.raises(AppError) as refused:
        AlipayProvider().query(out_trade_no=opened.payment.out_trade_no)
    assert refused.value.code == "provider_refused" and "isv.invalid-signature" in refused.value.detail
    assert ali.refused == [{"method": "alipay.trade.query", "sub_code": "isv.invalid-signature"}]


# ----- configuration and amounts -----


def test_keys_may_be_given_as_paths_to_pem_files_or_with_escaped_newlines(ali, opened, settings, tmp_path):
    key_file = tmp_path / "app_private_key.pem"
    key_file.write_text(settings.ALIPAY_PRIVATE_KEY)
    settings.ALIPAY_PRIVATE_KEY = str(key_file)
    settings.ALIPAY_PUBLIC_KEY = settings.ALIPAY_PUBLIC_KEY.replace("\n", "\\n")
    assert AlipayProvider().query(out_trade_no=opened.payment.out_trade_no).status == "created"
    assert ali.refused == []


def test_alipay_is_available_only_with_an_app_id_and_both_keys(ali, settings):
    assert AlipayProvider.available()
    for name in ("ALIPAY_APP_ID", "ALIPAY_PRIVATE_KEY", "ALIPAY_PUBLIC_KEY"):
        saved = getattr(settings, name)
        setattr(settings, name, "")
        assert not AlipayProvider.available(), name
        setattr(settings, name, saved)


@pytest.mark.parametrize(
    ("amount_fen", "text"),
    [(0, "0.00"), (1, "0.01"), (10, "0.10"), (9900, "99.00"), (123456789, "1234567.89"), (10**11 + 7, "1000000000.07")],
)
def test_fen_and_yuan_convert_exactly_both_ways(amount_fen, text):
    assert yuan(amount_fen) == text
    assert fen(text) == amount_fen


@pytest.mark.parametrize("text", ["99", "99.5", "0.1"])
def test_yuan_with_fewer_decimals_is_read_exactly(text):
    assert fen(text) == {"99": 9900, "99.5": 9950, "0.1": 10}[text]


@pytest.mark.parametrize(
    "text",
    ["", "-1.00", "+1.00", "1e2", " 1.00", "1.00 ", "1.001", "01.00", "1,00", "1.", ".5", "NaN", "１.00", "0x10"],
)
def test_malformed_yuan_is_refused(text):
    with pytest.raises(ValueError):
        fen(text)


@pytest.mark.parametrize("value", [-1, 1.5, True, "100"])
def test_only_non_negative_integer_fen_become_yuan(value):
    with pytest.raises(ValueError):
        yuan(value)


def test_a_refund_alipay_took_but_we_never_recorded_is_settled_by_the_query_sweep(ali, paid_gift):
    from datetime import timedelta

    from django.utils import timezone

    from payments.models import Refund
    from payments.services import refund_request, refunds_settle_from_gateway

    payment = paid_gift.payment
    refund = refund_request(payment=payment, slot=None, amount_fen=100, reason=Refund.Reason.AFTER_SALES)
    # Alipay took the refund, but the worker died before it could record the answer.
    alipay.AlipayProvider().refund(
        out_refund_no=refund.out_refund_no, out_trade_no=payment.out_trade_no, amount_fen=100
    )
    Refund.objects.filter(pk=refund.pk).update(created_at=timezone.now() - timedelta(minutes=10))

    assert refunds_settle_from_gateway() == 1
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert refunds_settle_from_gateway() == 0

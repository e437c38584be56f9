"""WeChat Pay API v3 through the `wechatpayv3` SDK against a local double that speaks its wire
protocol (tests/payments/wechatpay_double.py): our requests are signed and checked, its answers and
notifications are signed with its platform key and encrypted with the APIv3 key."""

import base64
import json
import time
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from django.test import Client
from django.utils import timezone

from gifts.models import Gift, GiftEvent, GiftStatus, Notification, Slot, SlotStatus
from gifts.services.claim import slot_decline
from gifts.services.unpaid import gifts_unpaid_close_due
from giftshop.errors import ProviderUnavailable
from payments import wechatpay
from payments.models import Payment, Refund
from payments.services import payments_settle_from_gateway, refund_submit
from shops.models import Shop
from tests.payments.wechatpay_double import WeChatPayDouble, new_key

pytestmark = pytest.mark.django_db

NOTIFY = "/api/v1/payments/notify/wechatpay/"
DESKTOP = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
IN_WECHAT = PHONE + " MicroMessenger/8.0.47"


def _use(settings, double: WeChatPayDouble) -> WeChatPayDouble:
    for name, value in double.settings().items():
        setattr(settings, name, value)
    settings.PAYMENT_PROVIDER = "wechatpay"
    wechatpay._client.cache_clear()
    return double


@pytest.fixture
def wx(settings):
    double = _use(settings, WeChatPayDouble().start())
    yield double
    double.stop()
    wechatpay._client.cache_clear()


@pytest.fixture
def wx_certificates(settings):
    double = _use(settings, WeChatPayDouble(certificate_mode=True).start())
    yield double
    double.stop()
    wechatpay._client.cache_clear()


def cashier(gift, user_agent=DESKTOP, client=None):
    return (client or Client()).get(f"/pay/{gift.payment.out_trade_no}/", HTTP_USER_AGENT=user_agent)


def notify(body: str, headers: dict):
    return Client().post(NOTIFY, body.encode(), content_type="application/json", headers=headers)


@pytest.fixture
def opened(wx, make_gift):
    """A gift whose payer opened the cashier on a desktop: the order exists at WeChat Pay."""
    gift = make_gift(paid=False)
    assert cashier(gift).status_code == 200
    return gift


def test_a_desktop_payer_gets_a_native_qr_code_from_a_signed_request(wx, make_gift):
    gift = make_gift(paid=False)
    assert gift.payment.provider == "wechatpay" and gift.payment.cashier_url == f"/pay/{gift.payment.out_trade_no}/"

    page = cashier(gift)

    assert page.status_code == 200 and b"<svg" in page.content and 'data-test="pay-qr"' in page.content.decode()
    [request] = [r for r in wx.requests if r["path"] == "/v3/pay/transactions/native"]
    assert request["body"]["amount"] == {"total": gift.amount_fen, "currency": "CNY"}
    assert request["body"]["mchid"] == wx.mchid and request["body"]["notify_url"].endswith(NOTIFY)
    assert wx.refused == []


def test_a_phone_browser_is_sent_to_the_h5_page_with_its_ip(wx, make_gift):
    gift = make_gift(paid=False)
    page = cashier(gift, PHONE)
    assert page.status_code == 200 and "https://wx.tenpay.com/" in page.content.decode()
    [request] = [r for r in wx.requests if r["path"] == "/v3/pay/transactions/h5"]
    assert request["body"]["scene_info"]["payer_client_ip"] == "127.0.0.1"


def test_inside_wechat_the_pay_sheet_parameters_are_signed_with_the_merchant_key(wx, make_gift):
    gift = make_gift(paid=False)
    client = Client()
    session = client.session
    session["wechat_openid"] = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
    session.save()

    page = cashier(gift, IN_WECHAT, client)

    params = page.context["checkout"].params
    [request] = [r for r in wx.requests if r["path"] == "/v3/pay/transactions/jsapi"]
    assert request["body"]["payer"] == {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}
    assert params["package"].startswith("prepay_id=wx") and params["signType"] == "RSA"
    message = f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n".encode()
    wx.merchant_key.public_key().verify(
        base64.b64decode(params["paySign"]), message, padding.PKCS1v15(), hashes.SHA256()
    )  # raises if the signature is wrong


def test_a_payment_notification_delivered_four_times_sends_the_gift_once(wx, opened):
    wx.pay(opened.payment.out_trade_no)
    answers = [notify(*wx.payment_notification(opened.payment.out_trade_no)) for _ in range(4)]

    assert [a.status_code for a in answers] == [204] * 4
    opened.refresh_from_db()
    assert opened.status == GiftStatus.SENT
    assert opened.payment.status == Payment.Status.PAID and opened.payment.transaction_id.startswith("4200")
    assert GiftEvent.objects.filter(gift=opened, kind="gift_status", to_status=GiftStatus.SENT).count() == 1
    assert Notification.objects.filter(kind="gift_paid").count() == 1


@pytest.mark.parametrize(
    "tamper",
    [
        "forged_signature",
        "stale",
        "truncated",
        "another_apiv3_key",
        "another_merchant",
        "wrong_amount",
        "unknown_order",
        "not_json",
    ],
)
def test_a_bad_notification_gets_the_failure_answer_and_changes_nothing(wx, opened, tamper):
    no = opened.payment.out_trade_no
    wx.pay(no)
    options = {
        "forged_signature": {"key": new_key()},
        "stale": {"timestamp": int(time.time()) - 600},
        "another_apiv3_key": {"apiv3_key": "0" * 32},
        "another_merchant": {"override": {"mchid": "1900000999"}},
        "wrong_amount": {"override": {"amount": {"total": 1, "payer_total": 1, "currency": "CNY"}}},
        "unknown_order": {"override": {"out_trade_no": "GS-NOT-OURS"}},
    }.get(tamper, {})
    body, headers = wx.payment_notification(no, **options)
    if tamper == "truncated":
        body = body[: len(body) // 2]
    if tamper == "not_json":
        body = "<xml>not json</xml>"
        headers = wx.signed_headers(body)

    answer = notify(body, headers)

    assert 400 <= answer.status_code < 500
    assert answer.json()["code"] == "FAIL"
    opened.refresh_from_db()
    assert opened.status == GiftStatus.PENDING_PAYMENT and opened.payment.status == Payment.Status.PENDING
    assert not Notification.objects.exists()


def test_the_webhook_is_not_found_when_wechat_pay_is_not_configured(settings, make_gift):
    settings.WECHATPAY_MCHID = ""
    r = Client().post(NOTIFY, b"{}", content_type="application/json")
    assert r.status_code == 404


def _paid_gift(wx, make_gift, django_capture_on_commit_callbacks, **kwargs) -> Gift:
    gift = make_gift(paid=False, **kwargs)
    cashier(gift)
    wx.pay(gift.payment.out_trade_no)
    with django_capture_on_commit_callbacks(execute=True):
        assert notify(*wx.payment_notification(gift.payment.out_trade_no)).status_code == 204
    gift.refresh_from_db()
    assert gift.status == GiftStatus.SENT
    return gift


def test_a_decline_refunds_through_wechat_pay_once_and_settles_on_its_notice(
    wx, make_gift, recipient, django_capture_on_commit_callbacks
):
    gift = _paid_gift(wx, make_gift, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        slot_decline(gift=gift, user=recipient)
    refund = Refund.objects.get(payment__gift=gift)
    assert refund.status == Refund.Status.PENDING  # WeChat Pay answered PROCESSING
    assert wx.refunds[refund.out_refund_no]["amount"] == gift.slot_amount_fen
    assert wx.refunds[refund.out_refund_no]["total"] == gift.amount_fen
    refund_submit(refund_id=refund.pk)  # the task delivered twice: the same out_refund_no, no second refund
    assert len(wx.refunds) == 1

    with django_capture_on_commit_callbacks(execute=True):
        answers = [notify(*wx.refund_notification(refund.out_refund_no)) for _ in range(2)]

    assert [a.status_code for a in answers] == [204, 204]
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert Slot.objects.get(gift=gift).status == SlotStatus.REFUNDED
    assert Notification.objects.filter(kind="refund").count() == 1


def test_an_unpaid_order_past_its_window_is_closed_at_wechat_pay(wx, opened, make_gift):
    never_opened = make_gift(paid=False)
    Gift.objects.filter(pk__in=[opened.pk, never_opened.pk]).update(pay_deadline=timezone.now() - timedelta(minutes=1))

    assert gifts_unpaid_close_due() == 2

    assert wx.orders[opened.payment.out_trade_no]["trade_state"] == "CLOSED"
    for gift in (opened, never_opened):
        gift.refresh_from_db()
        assert gift.status == GiftStatus.CANCELLED and gift.payment.status == Payment.Status.CLOSED


def test_an_order_paid_at_the_last_second_is_settled_not_cancelled(wx, opened):
    wx.pay(opened.payment.out_trade_no)
    Gift.objects.filter(pk=opened.pk).update(pay_deadline=timezone.now() - timedelta(minutes=1))
    assert gifts_unpaid_close_due() == 0
    opened.refresh_from_db()
    assert opened.status == GiftStatus.SENT


def test_the_query_fallback_settles_a_payment_whose_notice_never_came(wx, opened):
    wx.pay(opened.payment.out_trade_no)
    Payment.objects.filter(pk=opened.payment.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert payments_settle_from_gateway() == 1
    opened.refresh_from_db()
    assert opened.status == GiftStatus.SENT


def test_with_the_gateway_down_the_cashier_says_so_and_refunds_wait_for_a_retry(
    wx, make_gift, recipient, django_capture_on_commit_callbacks
):
    gift = _paid_gift(wx, make_gift, django_capture_on_commit_callbacks)
    unpaid = make_gift(paid=False)
    wx.stop()

    page = cashier(unpaid)
    assert page.status_code == 503 and "暂时没有响应" in page.content.decode()
    slot_decline(gift=gift, user=recipient)  # its refund job is not run here
    refund = Refund.objects.get(payment__gift=gift)
    with pytest.raises(ProviderUnavailable):
        refund_submit(refund_id=refund.pk)
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PENDING


def test_certificate_mode_fetches_the_platform_certificate_and_a_new_one_after_rotation(wx_certificates, make_gift):
    gift = make_gift(paid=False)
    assert cashier(gift).status_code == 200  # answers verified against the fetched certificate
    fetched = [r for r in wx_certificates.requests if r["path"] == "/v3/certificates"]
    assert len(fetched) == 1

    wx_certificates.rotate_certificate()
    wx_certificates.pay(gift.payment.out_trade_no)
    answer = notify(*wx_certificates.payment_notification(gift.payment.out_trade_no))

    assert answer.status_code == 204
    assert len([r for r in wx_certificates.requests if r["path"] == "/v3/certificates"]) == 2
    gift.refresh_from_db()
    assert gift.status == GiftStatus.SENT


def test_service_provider_mode_settles_each_shop_to_its_own_sub_merchant(settings, make_gift, sku):
    double = _use(settings, WeChatPayDouble(partner_mode=True).start())
    try:
        gift = make_gift(paid=False)
        page = cashier(gift)
        assert page.status_code == 409 and "子商户号" in page.content.decode()  # the shop has none yet

        Shop.objects.filter(pk=sku.product.shop_id).update(wechatpay_sub_mchid="1900000888")
        assert cashier(gift).status_code == 200
        [request] = [r for r in double.requests if r["path"] == "/v3/pay/partner/transactions/native"]
        assert request["body"]["sp_mchid"] == double.mchid and request["body"]["sub_mchid"] == "1900000888"

        double.pay(gift.payment.out_trade_no)
        assert notify(*double.payment_notification(gift.payment.out_trade_no)).status_code == 204
        gift.refresh_from_db()
        assert gift.status == GiftStatus.SENT
    finally:
        double.stop()
        wechatpay._client.cache_clear()


def test_the_notification_body_is_never_logged(wx, opened, caplog):
    wx.pay(opened.payment.out_trade_no)
    body, headers = wx.payment_notification(opened.payment.out_trade_no, key=new_key())
    notify(body, headers)
    text = caplog.text
    assert json.loads(body)["resource"]["ciphertext"] not in text and headers["Wechatpay-Signature"] not in text


def test_keys_may_be_given_as_paths_to_pem_files(settings, wx, make_gift, tmp_path):
    key_file = tmp_path / "apiclient_key.pem"
    key_file.write_text(settings.WECHATPAY_PRIVATE_KEY)
    public_file = tmp_path / "pub_key.pem"
    public_file.write_text(settings.WECHATPAY_PUBLIC_KEY)
    settings.WECHATPAY_PRIVATE_KEY, settings.WECHATPAY_PUBLIC_KEY = str(key_file), str(public_file)
    wechatpay._client.cache_clear()
    assert cashier(make_gift(paid=False)).status_code == 200
    assert wx.refused == []


def test_the_api_says_which_provider_the_payment_uses(wx, sku, sender):
    from tests.conftest import api_for

    r = api_for(sender).post("/api/v1/gifts/", {"sku_id": sku.pk, "mode": "single"}, format="json")
    assert r.status_code == 201, r.content
    assert r.data["payment"]["provider"] == "wechatpay"
    assert r.data["payment"]["cashier_url"].endswith(f"/pay/{r.data['payment']['out_trade_no']}/")


def test_a_refund_whose_notification_was_lost_is_settled_by_the_query_sweep(
    wx, make_gift, recipient, django_capture_on_commit_callbacks
):
    from payments.services import refunds_settle_from_gateway

    gift = _paid_gift(wx, make_gift, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        slot_decline(gift=gift, user=recipient)
    refund = Refund.objects.get(payment__gift=gift)
    Refund.objects.filter(pk=refund.pk).update(created_at=timezone.now() - timedelta(minutes=10))
    assert refunds_settle_from_gateway() == 0  # WeChat Pay still says PROCESSING

    wx.refunds[refund.out_refund_no]["status"] = "SUCCESS"  # done there; its notice never reached us
    with django_capture_on_commit_callbacks(execute=True):
        assert refunds_settle_from_gateway() == 1
        assert refunds_settle_from_gateway() == 0

    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert Slot.objects.get(gift=gift).status == SlotStatus.REFUNDED
    assert Notification.objects.filter(kind="refund").count() == 1


def test_inside_wechat_a_silent_oauth_round_trip_finds_the_openid_for_the_pay_sheet(settings, wx, make_gift):
    from urllib.parse import parse_qs, urlsplit

    settings.WECHAT_APP_SECRET, settings.WECHAT_API_BASE = wx.app_secret, wx.url
    gift = make_gift(paid=False)
    client = Client()

    first = cashier(gift, IN_WECHAT, client)

    assert first.status_code == 302 and first["Location"].startswith("https://open.weixin.qq.com/connect/oauth2/")
    asked = {k: v[0] for k, v in parse_qs(urlsplit(first["Location"]).query).items()}
    assert asked["scope"] == "snsapi_base" and asked["appid"] == wx.appid
    assert asked["redirect_uri"].endswith(f"/pay/{gift.payment.out_trade_no}/wechat/")
    assert wx.app_secret not in first["Location"]

    forged = client.get(f"/pay/{gift.payment.out_trade_no}/wechat/", {"code": "x", "state": "not-ours"})
    assert forged.status_code == 400  # the state we sent is gone with the failed try: a fresh round trip
    first = cashier(gift, IN_WECHAT, client)
    asked = {k: v[0] for k, v in parse_qs(urlsplit(first["Location"]).query).items()}
    back = client.get(
        f"/pay/{gift.payment.out_trade_no}/wechat/", {"code": wx.oauth_code("o-payer-openid"), "state": asked["state"]}
    )
    assert back.status_code == 302 and back["Location"] == f"/pay/{gift.payment.out_trade_no}/"

    page = cashier(gift, IN_WECHAT, client)
    assert page.status_code == 200 and page.context["checkout"].kind == "jsapi"
    [request] = [r for r in wx.requests if r["path"] == "/v3/pay/transactions/jsapi"]
    assert request["body"]["payer"] == {"openid": "o-payer-openid"}


def test_without_the_app_secret_wechat_browser_payers_get_the_h5_page(wx, make_gift):
    page = cashier(make_gift(paid=False), IN_WECHAT)
    assert page.status_code == 200 and page.context["checkout"].kind == "redirect"


def test_a_native_client_gets_what_it_shows_or_invokes_from_the_api(wx, make_gift, sender, other):
    from rest_framework.test import APIClient

    from tests.conftest import api_for

    gift = make_gift(paid=False)
    url = f"/api/v1/payments/{gift.payment.out_trade_no}/checkout/"

    qr = api_for(sender).post(url, {"provider": "wechatpay", "channel": "desktop"}, format="json")
    assert qr.status_code == 200, qr.content
    assert (
        qr.data["kind"] == "qr" and qr.data["url"].startswith("weixin://wxpay/") and qr.data["provider"] == "wechatpay"
    )
    sheet = api_for(sender).post(url, {"provider": "wechatpay", "channel": "wechat", "openid": "o-app"}, format="json")
    assert sheet.data["kind"] == "jsapi" and sheet.data["params"]["package"].startswith("prepay_id=")

    assert api_for(other).post(url, {"provider": "wechatpay", "channel": "desktop"}, format="json").status_code == 404
    assert APIClient().post(url, {"provider": "wechatpay", "channel": "desktop"}, format="json").status_code == 401
    bad = api_for(sender).post(url, {"provider": "paypal", "channel": "desktop"}, format="json")
    assert bad.status_code == 400 and bad.data["code"] == "invalid"

    wx.stop()
    down = api_for(sender).post(url, {"provider": "wechatpay", "channel": "phone"}, format="json")
    assert down.status_code == 503 and down.data["code"] == "provider_unavailable"


def test_unclaimed_slots_expire_and_are_refunded_through_wechat_pay(wx, make_gift, django_capture_on_commit_callbacks):
    from gifts.services.expiry import expire_batch

    gift = _paid_gift(wx, make_gift, django_capture_on_commit_callbacks, mode="group", recipients=3)
    Slot.objects.filter(gift=gift).update(expires_at=timezone.now() - timedelta(minutes=1))

    with django_capture_on_commit_callbacks(execute=True):
        assert expire_batch() == 3

    asked = sorted(r["body"]["out_refund_no"] for r in wx.requests if r["path"] == "/v3/refund/domestic/refunds")
    assert asked == sorted(Refund.objects.filter(payment__gift=gift).values_list("out_refund_no", flat=True))
    assert sum(wx.refunds[no]["amount"] for no in asked) == gift.amount_fen


def test_a_payment_notice_after_the_order_was_cancelled_is_refunded_in_full(
    wx, opened, django_capture_on_commit_callbacks
):
    Gift.objects.filter(pk=opened.pk).update(pay_deadline=timezone.now() - timedelta(minutes=1))
    assert gifts_unpaid_close_due() == 1  # closed at WeChat Pay, cancelled here
    wx.pay(opened.payment.out_trade_no)  # the payer's bank was a moment faster than the close

    with django_capture_on_commit_callbacks(execute=True):
        answer = notify(*wx.payment_notification(opened.payment.out_trade_no))

    assert answer.status_code == 204
    opened.refresh_from_db()
    assert opened.status == GiftStatus.CANCELLED
    refund = Refund.objects.get(payment=opened.payment)
    assert refund.reason == Refund.Reason.LATE_PAYMENT and refund.amount_fen == opened.amount_fen
    assert wx.refunds[refund.out_refund_no]["amount"] == opened.amount_fen

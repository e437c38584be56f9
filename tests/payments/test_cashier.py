"""Our cashier page with both real gateways enabled: the payer chooses, and the order stays payable
at one gateway only."""

import pytest
from django.test import Client

from payments import alipay, wechatpay
from payments.models import Payment
from tests.payments.alipay_double import AlipayDouble
from tests.payments.wechatpay_double import WeChatPayDouble

pytestmark = pytest.mark.django_db

DESKTOP = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"
IN_WECHAT = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 MicroMessenger/8.0.47"


@pytest.fixture
def both(settings):
    wx, ali = WeChatPayDouble().start(), AlipayDouble().start()
    for name, value in {**wx.settings(), **ali.settings()}.items():
        setattr(settings, name, value)
    settings.PAYMENT_PROVIDER = "wechatpay"
    wechatpay._client.cache_clear()
    alipay._client.cache_clear()
    yield wx, ali
    wx.stop()
    ali.stop()
    wechatpay._client.cache_clear()
    alipay._client.cache_clear()


def page(gift, query="", user_agent=DESKTOP):
    return Client().get(f"/pay/{gift.payment.out_trade_no}/{query}", HTTP_USER_AGENT=user_agent)


def test_the_payer_chooses_and_the_order_is_closed_at_the_gateway_left_behind(both, make_gift):
    wx, _ = both
    gift = make_gift(paid=False)

    first = page(gift)
    text = first.content.decode()
    assert 'data-test="provider-wechatpay"' in text and 'data-test="provider-alipay"' in text
    assert 'data-test="pay-qr"' in text and wx.orders[gift.payment.out_trade_no]["trade_state"] == "NOTPAY"

    second = page(gift, "?provider=alipay")

    assert second.status_code == 200 and 'data-test="pay-redirect"' in second.content.decode()
    assert wx.orders[gift.payment.out_trade_no]["trade_state"] == "CLOSED"  # no longer payable there
    assert Payment.objects.get(pk=gift.payment.pk).provider == "alipay"


def test_a_payer_who_already_paid_with_wechat_cannot_switch_and_pay_again(both, make_gift):
    wx, _ = both
    gift = make_gift(paid=False)
    page(gift)
    wx.pay(gift.payment.out_trade_no)

    answer = page(gift, "?provider=alipay")

    assert answer.status_code == 409 and "已经支付" in answer.content.decode()
    gift.refresh_from_db()
    assert gift.status == "sent" and gift.payment.provider == "wechatpay"


def test_alipay_inside_wechat_says_to_open_the_page_in_a_browser(both, make_gift):
    gift = make_gift(paid=False)
    answer = page(gift, "?provider=alipay", user_agent=IN_WECHAT)
    assert answer.status_code == 200 and "在浏览器中打开" in answer.content.decode()

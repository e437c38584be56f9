"""The payment gateways' webhook routes (each 404 unless its provider is enabled on this site)."""

from django.urls import path

import giftshop.inputs  # noqa: F401  (registers the <key:...> converter)

from . import views

urlpatterns = [
    path("payments/notify/sandbox/", views.PaymentNotify.as_view(), name="api-payment-notify"),
    path(
        "payments/notify/wechatpay/",
        views.GatewayNotify.as_view(provider="wechatpay"),
        name="api-payment-notify-wechatpay",
    ),
    path("payments/notify/alipay/", views.GatewayNotify.as_view(provider="alipay"), name="api-payment-notify-alipay"),
    path("payments/<key:out_trade_no>/checkout/", views.PaymentCheckout.as_view(), name="api-payment-checkout"),
]

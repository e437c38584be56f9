"""Our cashier page for the real gateways."""

from django.urls import path

import giftshop.inputs  # noqa: F401  (registers the <key:...> converter)

from . import views

urlpatterns = [
    path("pay/<key:out_trade_no>/", views.cashier, name="payment-cashier"),
    path("pay/<key:out_trade_no>/wechat/", views.wechat_return, name="payment-wechat-return"),
]

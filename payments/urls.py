"""Our cashier page for the real gateways."""

from django.urls import path

from . import views

urlpatterns = [
    path("pay/<str:out_trade_no>/", views.cashier, name="payment-cashier"),
    path("pay/<str:out_trade_no>/wechat/", views.wechat_return, name="payment-wechat-return"),
]

"""The sandbox cashier and courier (served only while the sandbox is enabled)."""

from django.urls import path

import giftshop.inputs  # noqa: F401  (registers the <key:...> converter)

from . import views

urlpatterns = [
    path("sandbox/cashier/<key:out_trade_no>/", views.sandbox_cashier, name="sandbox-cashier"),
    path("sandbox/pay/<key:out_trade_no>/", views.sandbox_pay, name="sandbox-pay"),
    path("sandbox/courier/<key:waybill_no>/scan/", views.courier_scan, name="sandbox-courier-scan"),
]

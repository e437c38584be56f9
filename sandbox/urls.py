"""The sandbox cashier and courier (served only while the sandbox is enabled)."""

from django.urls import path

from . import views

urlpatterns = [
    path("sandbox/cashier/<str:out_trade_no>/", views.sandbox_cashier, name="sandbox-cashier"),
    path("sandbox/pay/<str:out_trade_no>/", views.sandbox_pay, name="sandbox-pay"),
    path("sandbox/courier/<str:waybill_no>/scan/", views.courier_scan, name="sandbox-courier-scan"),
]

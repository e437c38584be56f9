"""Our cashier page for the real gateways."""

from django.urls import path

from . import views

urlpatterns = [path("pay/<str:out_trade_no>/", views.cashier, name="payment-cashier")]

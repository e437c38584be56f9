"""The payment gateway's webhook route."""

from django.urls import path

from . import views

urlpatterns = [
    path("payments/notify/sandbox/", views.PaymentNotify.as_view(), name="api-payment-notify"),
]

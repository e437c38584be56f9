"""The payments app: money in and money back, behind the provider interface."""

from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "支付"

"""The fulfilment app: waybills, tracking, shipping tools and after-sales refunds."""

from django.apps import AppConfig


class FulfilmentConfig(AppConfig):
    name = "fulfilment"
    verbose_name = "发货"

"""The fulfilment app: waybills, tracking, shipping tools and after-sales refunds."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class FulfilmentConfig(AppConfig):
    name = "fulfilment"
    verbose_name = gettext_lazy("发货")

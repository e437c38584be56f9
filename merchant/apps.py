"""The merchant app: the /merchant/ site, its API, the dashboard and its daily rollups."""

from django.apps import AppConfig


class MerchantConfig(AppConfig):
    name = "merchant"
    verbose_name = "商家后台"

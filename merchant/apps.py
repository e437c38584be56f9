"""The merchant app: the /merchant/ site, its API, the dashboard and its daily rollups."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class MerchantConfig(AppConfig):
    name = "merchant"
    verbose_name = gettext_lazy("商家后台")

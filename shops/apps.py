"""The shops app: shops, categories, products, SKUs, stock and the gifting rules."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class ShopsConfig(AppConfig):
    name = "shops"
    verbose_name = gettext_lazy("店铺")

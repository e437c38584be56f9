"""The shops app: shops, categories, products, SKUs, stock and the gifting rules."""

from django.apps import AppConfig


class ShopsConfig(AppConfig):
    name = "shops"
    verbose_name = "店铺"

from django.apps import AppConfig


class MerchantConfig(AppConfig):
    name = "merchant"
    verbose_name = "商家后台"

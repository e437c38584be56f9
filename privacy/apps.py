"""The privacy app: address access log, key rotation, retention, export and deletion."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class PrivacyConfig(AppConfig):
    name = "privacy"
    verbose_name = gettext_lazy("个人信息")

"""The privacy app: address access log, key rotation, retention, export and deletion."""

from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "privacy"
    verbose_name = "个人信息"

"""Accounts: phone numbers, one-time sign-in codes and WeChat sign-in, on top of django-allauth."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class AccountsConfig(AppConfig):
    name = "accounts"
    label = "phone_accounts"  # allauth's own app is labelled `account`
    verbose_name = gettext_lazy("账号")

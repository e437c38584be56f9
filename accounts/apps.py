"""Accounts: phone numbers, one-time sign-in codes and WeChat sign-in, on top of django-allauth."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    label = "phone_accounts"  # allauth's own app is labelled `account`
    verbose_name = "账号"

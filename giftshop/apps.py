"""The project as an app: its operator commands (stuck_work) and its system checks."""

from django.apps import AppConfig


class GiftshopConfig(AppConfig):
    name = "giftshop"
    verbose_name = "Giftshop"

    def ready(self):
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_save
        from rest_framework.authtoken.models import Token

        from . import checks  # noqa: F401  (registers the system checks; Django's place for it)
        from .token_auth import account_forget, token_forget

        post_delete.connect(token_forget, sender=Token, dispatch_uid="api-token-forget")
        post_save.connect(token_forget, sender=Token, dispatch_uid="api-token-forget-save")
        post_save.connect(account_forget, sender=get_user_model(), dispatch_uid="api-account-forget")

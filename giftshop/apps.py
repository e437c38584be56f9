"""The project as an app: its operator commands (stuck_work) and its system checks."""

from django.apps import AppConfig


class GiftshopConfig(AppConfig):
    name = "giftshop"
    verbose_name = "Giftshop"

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks; Django's place for it)

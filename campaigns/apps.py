"""The campaigns app: group lotteries and bulk gifts, registered with the gift core as modes."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = gettext_lazy("群礼物与批量送礼")

    def ready(self):
        from . import modes  # noqa: F401  (registers the lottery and bulk modes with the gift core)

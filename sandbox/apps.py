"""The sandbox app: stand-ins for the payment gateway and the courier, and the demo data."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class SandboxConfig(AppConfig):
    name = "sandbox"
    verbose_name = gettext_lazy("沙箱")

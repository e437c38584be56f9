"""The sandbox app: stand-ins for the payment gateway and the courier, and the demo data."""

from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "sandbox"
    verbose_name = "沙箱"

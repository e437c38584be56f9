"""After-sales (售后): requests opened by the recipient, answered by the merchant, refunded to the sender."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class AftersalesConfig(AppConfig):
    name = "aftersales"
    verbose_name = gettext_lazy("售后")

    def ready(self):
        # Imported once the app registry is ready (receivers load models): Django's rule for signals.
        from payments.signals import refund_succeeded

        from . import receivers

        refund_succeeded.connect(receivers.after_sales_on_refund_succeeded, dispatch_uid="aftersales-on-refund")

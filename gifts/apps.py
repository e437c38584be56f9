"""The gift core. It listens to the payments app's signals; it never imports the apps above it."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class GiftsConfig(AppConfig):
    name = "gifts"
    verbose_name = gettext_lazy("礼物")

    def ready(self):
        # Imported once the app registry is ready (receivers load models): Django's rule for signals.
        from payments.signals import payment_paid, refund_succeeded, refunds_requested

        from . import receivers

        payment_paid.connect(receivers.gift_on_paid, dispatch_uid="gifts-on-paid")
        refunds_requested.connect(receivers.gift_on_refunds_requested, dispatch_uid="gifts-on-refunds-requested")
        refund_succeeded.connect(receivers.gift_on_refund_succeeded, dispatch_uid="gifts-on-refund-succeeded")

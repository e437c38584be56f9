"""Outside services behind interfaces: a payment provider and a carrier, each with a sandbox."""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

PAYMENT_PROVIDERS = {"sandbox": "gifts.providers.sandbox_payment.SandboxPaymentProvider"}
CARRIERS = {"sandbox": "gifts.providers.sandbox_carrier.SandboxCarrier"}


def payment_provider():
    return import_string(PAYMENT_PROVIDERS[settings.PAYMENT_PROVIDER])()


def carrier():
    return import_string(CARRIERS[settings.CARRIER_PROVIDER])()

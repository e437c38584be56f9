"""Production refuses the sandbox: its providers answer anyone who knows a public default secret,
and the console SMS provider only prints the messages (codes included) to the server's output.

A system check (so `check --deploy` fails), also run when a production web process, worker or beat
starts (`refuse_to_start_on_errors`), since gunicorn and Celery run no system checks of their own.
Staging may run the sandbox with `ALLOW_SANDBOX=True`, and then only with secrets of its own.
"""

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from fulfilment.carriers import carrier, carriers_enabled
from giftshop.sms import SANDBOX_SMS_PROVIDERS, sms_provider_class
from payments.providers import payment_provider, payment_providers_enabled

TAG = "giftshop"
SANDBOX_DEFAULT_SECRETS = {
    "SANDBOX_PAYMENT_SECRET": "sandbox-payment-secret",
    "SANDBOX_CARRIER_SECRET": "sandbox-carrier-secret",
}


@checks.register(TAG, checks.Tags.security)
def sandbox_refused_in_production(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    if not getattr(settings, "PRODUCTION", False):
        return []
    errors = []
    allowed = getattr(settings, "ALLOW_SANDBOX", False)
    uses = [name for name in ("PAYMENT_PROVIDER", "CARRIER_PROVIDER") if getattr(settings, name) == "sandbox"]
    if settings.SMS_PROVIDER in SANDBOX_SMS_PROVIDERS:
        uses.append("SMS_PROVIDER")
    if settings.SANDBOX_ENABLED:
        uses.append("SANDBOX_ENABLED")
    if uses and not allowed:
        errors.append(
            checks.Error(
                f"Production uses the sandbox ({', '.join(uses)}): it takes no real money and trusts public secrets.",
                hint="Configure a real payment provider, carrier and SMS provider (SMS_PROVIDER=tencent or aliyun), "
                "or set ALLOW_SANDBOX=True for a staging site.",
                id="giftshop.E001",
            )
        )
    if uses and allowed:
        for name, default in SANDBOX_DEFAULT_SECRETS.items():
            if getattr(settings, name) == default:
                errors.append(
                    checks.Error(
                        f"{name} is the public default.",
                        hint=f"Set {name} to a secret of this staging site's own.",
                        id="giftshop.E002",
                    )
                )
    return errors


IN_PROCESS_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
    "django.core.cache.backends.filebased.FileBasedCache",
}


@checks.register(TAG, checks.Tags.security)
def shared_cache_in_production(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The throttles, the sign-in code limits and the gift reminder interval count in the cache: an
    in-process cache counts per worker process, so each limit would be multiplied by the processes."""
    if not getattr(settings, "PRODUCTION", False):
        return []
    if settings.CACHES["default"]["BACKEND"] not in IN_PROCESS_CACHES:
        return []
    return [
        checks.Error(
            "Production has no shared cache: every rate limit would count per process.",
            hint="Set CACHE_URL to a Redis shared by every web process and host, e.g. redis://cache.internal:6379/1.",
            id="giftshop.E004",
        )
    ]


@checks.register(TAG)
def payment_providers_configured(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Every enabled gateway's keys load (a bad key would otherwise fail the first payer, or answer
    the gateway's notifications with 500s)."""
    errors = []
    for name in payment_providers_enabled():
        for problem in payment_provider(name).configuration_errors():
            errors.append(checks.Error(f"{name}: {problem}", id="giftshop.E003"))
    for name in carriers_enabled():
        for problem in carrier(name).configuration_errors():
            errors.append(checks.Error(f"{name}: {problem}", id="giftshop.E003"))
    errors += sms_configuration_errors()
    return errors


def sms_configuration_errors() -> list[checks.CheckMessage]:
    """The SMS provider exists, and a real one has its keys, signature name and a template id for
    each of our template keys (otherwise the first sign-in code would fail)."""
    try:
        provider = sms_provider_class(settings.SMS_PROVIDER)
    except ValueError as exc:
        return [checks.Error(str(exc), id="giftshop.E003")]
    return [checks.Error(f"sms {provider.name}: {p}", id="giftshop.E003") for p in provider.configuration_errors()]


def refuse_to_start_on_errors() -> None:
    """Raise when the project's own checks report an error (production web, worker and beat start)."""
    errors = [e for e in checks.run_checks(tags=[TAG]) if e.is_serious()]
    if errors:
        raise ImproperlyConfigured("; ".join(f"{e.id}: {e.msg} {e.hint or ''}".strip() for e in errors))

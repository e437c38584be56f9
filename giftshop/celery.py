"""The Celery application: queues, routing and the beat schedule live here."""

import os

# Before anything that reads settings (metrics, checks): `celery -A giftshop` alone must work.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "giftshop.settings.local")

from celery import Celery, signals  # noqa: E402
from django.core.exceptions import ImproperlyConfigured  # noqa: E402

from giftshop import logs, metrics  # noqa: E402

app = Celery("giftshop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Task metrics (counters, durations) and the backlog gauges read at scrape time: giftshop/metrics.py.
metrics.connect_celery_signals()
metrics.register_collectors()
# Each task run logs with its task name, id and the gift/slot ids among its arguments.
signals.task_prerun.connect(logs.task_context_open, weak=False)
signals.task_postrun.connect(logs.task_context_close, weak=False)


@signals.worker_init.connect(weak=False)
@signals.beat_init.connect(weak=False)
def _refuse_the_sandbox_in_production(**_):
    """Celery runs no system checks: a production worker or beat refuses the sandbox here. (Celery
    logs and ignores exceptions from signal handlers, so this one exits.)

    Imported here, not at the top: this module is imported while the settings load, and the checks
    import DRF, whose settings would then be read before ours exist (and kept)."""
    from giftshop.checks import refuse_to_start_on_errors

    try:
        refuse_to_start_on_errors()
    except ImproperlyConfigured as exc:
        raise SystemExit(f"giftshop refuses to start: {exc}") from exc


@signals.setup_logging.connect(weak=False)
def _django_logging(**_):
    """Workers log through Django's LOGGING (LOG_FORMAT=json|plain), not Celery's own format."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)

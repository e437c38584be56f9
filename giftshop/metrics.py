"""Prometheus metrics beyond django-prometheus's request metrics: Celery task runs, failures and
durations (from Celery's signals), and the work waiting, computed when /metrics is scraped.

Where each number lives:
- The web process's /metrics (django-prometheus's view over the default registry) shows the broker
  queue depth and the database backlog, computed at scrape time by `BacklogCollector`, plus the task
  counters of tasks run eagerly in that process (the demo).
- A prefork worker runs tasks in child processes, so their counters live there. Start the worker
  with PROMETHEUS_MULTIPROC_DIR (an empty directory) and WORKER_METRICS_PORT: children write their
  values to files in that directory (prometheus_client's multiprocess mode) and the worker's main
  process serves the sum on that port (`worker_metrics_serve`). See README "Operating it".
"""

from __future__ import annotations

import logging
import os
import time

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)

TASK_RUNS = Counter("giftshop_celery_task_runs", "Celery task runs that finished, by task and state", ["task", "state"])
TASK_FAILURES = Counter("giftshop_celery_task_failures", "Celery task runs that raised, by task", ["task"])
TASK_DURATION = Histogram(
    "giftshop_celery_task_duration_seconds",
    "Wall time of a Celery task run, by task",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)

_STARTED: dict[str, float] = {}


def task_started(sender=None, task_id=None, **_) -> None:
    _STARTED[task_id] = time.monotonic()


def task_finished(sender=None, task_id=None, task=None, state=None, **_) -> None:
    name = getattr(task or sender, "name", "unknown")
    if state is None:
        # An eager run whose exception propagates to the caller (the demo, tests) reaches postrun
        # without a state and without task_failure: count it as the failure it is.
        state = "FAILURE"
        TASK_FAILURES.labels(task=name).inc()
    TASK_RUNS.labels(task=name, state=state).inc()
    started = _STARTED.pop(task_id, None)
    if started is not None:
        TASK_DURATION.labels(task=name).observe(time.monotonic() - started)


def task_failed(sender=None, **_) -> None:
    TASK_FAILURES.labels(task=getattr(sender, "name", "unknown")).inc()


def worker_metrics_serve(**_) -> None:
    """Celery worker_init (main process): serve the children's summed metrics on WORKER_METRICS_PORT."""
    port = os.environ.get("WORKER_METRICS_PORT")
    if not port:
        return
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        log.warning("WORKER_METRICS_PORT set without PROMETHEUS_MULTIPROC_DIR: child processes' metrics not shared")
        start_http_server(int(port))
        return
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    start_http_server(int(port), registry=registry)
    log.info("worker metrics on port %s", port)


def worker_child_exit(pid=None, **_) -> None:
    """Celery worker_process_shutdown: let multiprocess mode drop the dead child's live gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())


# ----- work waiting, computed at scrape time -----


def broker_queue_depth(queue: str = "celery") -> int | None:
    """Messages waiting in the broker's queue: LLEN on Redis; None for other brokers or when unreachable."""
    from django.conf import settings

    url = settings.CELERY_BROKER_URL or ""
    if settings.CELERY_TASK_ALWAYS_EAGER or not url.startswith(("redis://", "rediss://")):
        return None
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        try:
            return int(client.llen(queue))
        finally:
            client.close()
    except redis.RedisError:
        return None


class BacklogCollector:
    """Gauges read at each scrape: the broker queue and the work waiting in the database."""

    def describe(self):
        return []  # computed at scrape time; nothing to query on registration

    def collect(self):
        depth = broker_queue_depth()
        if depth is not None:
            family = GaugeMetricFamily(
                "giftshop_broker_queue_depth", "Messages waiting in the broker queue", labels=["queue"]
            )
            family.add_metric(["celery"], depth)
            yield family
        try:
            # Imported at scrape time: this module loads with the Celery app, before Django's models.
            from giftshop.stuck_work import work_backlog
            from payments.reconciliation import reconciliation_figures

            counts = work_backlog()
        except Exception:  # noqa: BLE001 (a scrape during a database outage still answers)
            log.warning("backlog gauges unavailable", exc_info=True)
            return
        family = GaugeMetricFamily("giftshop_work_backlog", "Work waiting in the database, by kind", labels=["kind"])
        for kind, value in counts.items():
            family.add_metric([kind], value)
        yield family
        recon = GaugeMetricFamily(
            "giftshop_reconciliation", "Each gateway's latest daily reconciliation", labels=["provider", "figure"]
        )
        for provider, figure, value in reconciliation_figures():
            recon.add_metric([provider, figure], value)
        yield recon


_registered = False


def register_collectors(registry=REGISTRY) -> None:
    global _registered
    if not _registered:
        registry.register(BacklogCollector())
        _registered = True


def connect_celery_signals() -> None:
    from celery import signals

    signals.task_prerun.connect(task_started, weak=False)
    signals.task_postrun.connect(task_finished, weak=False)
    signals.task_failure.connect(task_failed, weak=False)
    signals.worker_init.connect(worker_metrics_serve, weak=False)
    signals.worker_process_shutdown.connect(worker_child_exit, weak=False)

"""The outbox app: connects the worker's task signals that finish or reschedule jobs."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class OutboxConfig(AppConfig):
    name = "outbox"
    verbose_name = gettext_lazy("待办任务")

    def ready(self):
        # Connected once the app registry is ready: the handlers load the Job model.
        from celery import signals

        from outbox import jobs

        signals.task_prerun.connect(jobs.on_task_prerun, weak=False, dispatch_uid="outbox-prerun")
        signals.task_retry.connect(jobs.on_task_retry, weak=False, dispatch_uid="outbox-retry")
        signals.task_postrun.connect(jobs.on_task_postrun, weak=False, dispatch_uid="outbox-postrun")

"""The outbox: work to do after a commit, written in the same transaction as the data it acts on.

A row lives until its task has run to the end, so a broker that is down or restarted empty, or a
worker killed mid-task, loses nothing: beat publishes again whatever is due and not yet done.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Job(models.Model):
    task = models.CharField(_("task"), max_length=120, help_text=_("Celery task name"))
    args = models.JSONField(_("arguments"), default=list, help_text=_("ids and plain values only, never personal data"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    due_at = models.DateTimeField(_("due at"), help_text=_("when beat publishes it again if it has not finished"))
    not_before = models.DateTimeField(
        _("not before"), null=True, blank=True, help_text=_("a batched job that failed waits until then")
    )
    publications = models.PositiveIntegerField(_("publications"), default=0)
    failed_at = models.DateTimeField(_("gave up at"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("outbox job")
        verbose_name_plural = _("outbox jobs")
        indexes = [
            models.Index(fields=["due_at"], condition=Q(failed_at__isnull=True), name="outbox_job_due_idx"),
            # A batch takes the oldest jobs of one task.
            models.Index(fields=["task", "id"], condition=Q(failed_at__isnull=True), name="outbox_job_task_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.task}{tuple(self.args)}"

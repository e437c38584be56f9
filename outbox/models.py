"""The outbox: work to do after a commit, written in the same transaction as the data it acts on.

A row lives until its task has run to the end, so a broker that is down or restarted empty, or a
worker killed mid-task, loses nothing: beat publishes again whatever is due and not yet done.
"""

from django.db import models
from django.db.models import Q


class Job(models.Model):
    task = models.CharField(max_length=120, help_text="Celery task name")
    args = models.JSONField(default=list, help_text="ids and plain values only, never personal data")
    created_at = models.DateTimeField(auto_now_add=True)
    due_at = models.DateTimeField(help_text="when beat publishes it (again) if it has not finished by then")
    publications = models.PositiveIntegerField(default=0)
    failed_at = models.DateTimeField(null=True, blank=True, help_text="gave up after its retries; see stuck_work")
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["due_at"], condition=Q(failed_at__isnull=True), name="outbox_job_due_idx")]

    def __str__(self) -> str:
        return f"{self.task}{tuple(self.args)}"

"""The operator sees unfinished and given-up jobs in /admin/ (read-only: replay with stuck_work)."""

from django.contrib import admin

from giftshop.readonly_admin import ReadOnlyAdmin
from outbox.models import Job


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = ["id", "task", "args", "created_at", "due_at", "publications", "failed_at", "last_error"]
    list_filter = ["task"]

"""The operator's admin shows money and status rows read-only: they change only through services."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Statuses change only through services; the admin shows them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

"""The operator searches who looked at recipients' addresses."""

from django.contrib import admin

from giftshop.readonly_admin import ReadOnlyAdmin
from privacy.models import PiiAccessLog


class PiiAccessLogAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "user", "shop", "slot", "channel"]
    list_filter = ["channel"]
    search_fields = ["user__username", "slot__id", "shop__name"]
    date_hierarchy = "created_at"
    list_select_related = ["user", "shop", "slot"]


admin.site.register(PiiAccessLog, PiiAccessLogAdmin)

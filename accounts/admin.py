"""The operator's view of phone numbers (masked). Codes are not shown: only their hashes exist."""

from django.contrib import admin

from accounts.models import Phone


@admin.register(Phone)
class PhoneAdmin(admin.ModelAdmin):
    list_display = ("masked", "user", "verified", "created_at")
    list_filter = ("verified",)
    search_fields = ("=number", "user__username")
    raw_id_fields = ("user",)
    readonly_fields = ("created_at",)

    @admin.display(description="手机号")
    def masked(self, obj):
        return str(obj)

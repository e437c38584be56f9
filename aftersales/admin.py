"""The operator's /admin/ for after-sales requests (read-only: they move only through services)."""

from django.contrib import admin

from aftersales.models import AfterSalesRequest
from giftshop.readonly_admin import ReadOnlyAdmin


@admin.register(AfterSalesRequest)
class AfterSalesRequestAdmin(ReadOnlyAdmin):
    list_display = ["id", "slot", "shop", "kind", "reason", "status", "amount_fen", "answer_by", "created_at"]
    list_filter = ["status", "kind", "reason"]
    search_fields = ["return_tracking_no"]
    exclude = ["detail"]  # the recipient's own words: the shop's queue shows them, the operator needs not

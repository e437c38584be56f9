"""The operator's /admin/ for payments, refunds and the daily reconciliation (money changes only
through services; a reconciliation difference is resolved here with a note)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from giftshop.readonly_admin import ReadOnlyAdmin
from payments.models import Payment, ReconciliationMismatch, ReconciliationRun, Refund
from payments.reconciliation import mismatch_resolve


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ["out_trade_no", "gift", "amount_fen", "status", "paid_at"]
    list_filter = ["status"]
    search_fields = ["out_trade_no", "transaction_id"]


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ["out_refund_no", "amount_fen", "reason", "status", "created_at", "succeeded_at"]
    list_filter = ["status", "reason"]
    search_fields = ["out_refund_no"]


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    list_display = ["bill_date", "provider", "status", "lines", "matched", "mismatches", "finished_at"]
    list_filter = ["provider", "status"]
    date_hierarchy = "bill_date"


@admin.register(ReconciliationMismatch)
class ReconciliationMismatchAdmin(admin.ModelAdmin):
    """The operator works through the differences: each is resolved with a note of what was done."""

    list_display = ["run", "kind", "out_trade_no", "out_refund_no", "ours_fen", "theirs_fen", "action", "resolved_at"]
    list_filter = ["kind", ("resolved_at", admin.EmptyFieldListFilter), "run__provider"]
    search_fields = ["out_trade_no", "out_refund_no"]
    readonly_fields = [
        "run",
        "kind",
        "out_trade_no",
        "out_refund_no",
        "ours_fen",
        "theirs_fen",
        "action",
        "resolved_at",
    ]
    fields = [*readonly_fields, "resolution"]
    actions = ["mark_resolved"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        mismatch_resolve(mismatch=obj, note=form.cleaned_data.get("resolution") or f"checked by {request.user}")

    @admin.action(description=_("标记为已核对"))
    def mark_resolved(self, request, queryset):
        for mismatch in queryset.filter(resolved_at__isnull=True):
            mismatch_resolve(mismatch=mismatch, note=f"checked by {request.user}")

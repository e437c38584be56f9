"""The operator's /admin/ for payments and refunds (read-only: money changes through services)."""

from django.contrib import admin

from giftshop.readonly_admin import ReadOnlyAdmin
from payments.models import Payment, Refund


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

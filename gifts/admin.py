"""The operator's /admin/ for gifts, slots, their event log and the inbox (read-only)."""

from django.contrib import admin

from gifts.models import Gift, GiftEvent, Notification, Slot
from giftshop.readonly_admin import ReadOnlyAdmin


class SlotInline(admin.TabularInline):
    model = Slot
    fields = ["number", "status", "recipient", "sku", "accepted_at", "delivered_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Gift)
class GiftAdmin(ReadOnlyAdmin):
    list_display = ["id", "sender", "shop", "mode", "status", "amount_fen", "created_at"]
    list_filter = ["status", "mode", "shop"]
    search_fields = ["id", "sender__username", "payment__out_trade_no"]
    inlines = [SlotInline]
    exclude = ["claim_token"]


@admin.register(Slot)
class SlotAdmin(ReadOnlyAdmin):
    list_display = ["id", "gift", "status", "recipient", "sku", "expires_at"]
    list_filter = ["status"]
    search_fields = ["id", "gift__id"]
    raw_id_fields = ["gift", "recipient", "sku"]


@admin.register(GiftEvent)
class GiftEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "gift", "slot", "kind", "from_status", "to_status", "actor"]
    list_filter = ["kind"]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "user", "kind", "title", "read_at", "emailed_at"]
    list_filter = ["kind"]

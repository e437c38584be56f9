"""The operator sees everything in /admin/; merchants see their shop's recipient orders in /merchant/."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from shops.admin import ShopScopedAdmin, merchant_site

from .models import (
    Gift,
    GiftEvent,
    Notification,
    Payment,
    Refund,
    Shipment,
    Slot,
    TrackingEvent,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Statuses change only through services; the admin shows them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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


@admin.register(Shipment)
class ShipmentAdmin(ReadOnlyAdmin):
    list_display = ["slot", "carrier", "waybill_no", "status", "attempts", "last_error"]
    list_filter = ["status", "carrier"]
    search_fields = ["waybill_no"]


@admin.register(GiftEvent)
class GiftEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "gift", "slot", "kind", "from_status", "to_status", "actor"]
    list_filter = ["kind"]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "user", "kind", "title", "read_at", "emailed_at"]
    list_filter = ["kind"]


admin.site.register(TrackingEvent, ReadOnlyAdmin)


# ----- merchant orders -----


class MerchantOrderAdmin(ShopScopedAdmin):
    """The shop's recipient orders. The full address appears here, for shipping only."""

    shop_path = "gift__shop"
    list_display = [
        "id",
        "product",
        "sku_label",
        "quantity",
        "status",
        "region",
        "masked_phone",
        "accepted_at",
        "waybill",
    ]
    list_filter = ["status"]
    search_fields = ["id", "shipment__waybill_no"]
    list_select_related = ["gift", "sku__product", "address", "shipment"]
    fields = [
        "gift_id_display",
        "product",
        "sku_label",
        "quantity",
        "status",
        "full_address",
        "blessing",
        "waybill",
        "accepted_at",
        "shipped_at",
        "delivered_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).exclude(gift__status__in=["pending_payment", "cancelled"])

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("礼物单号"))
    def gift_id_display(self, obj):
        return obj.gift_id

    @admin.display(description=_("商品"))
    def product(self, obj):
        return obj.sku.product.title

    @admin.display(description=_("款式"))
    def sku_label(self, obj):
        return obj.sku.label

    @admin.display(description=_("数量"))
    def quantity(self, obj):
        return obj.gift.quantity

    @admin.display(description=_("地区"))
    def region(self, obj):
        a = getattr(obj, "address", None)
        return f"{a.province}{a.city}{a.district}" if a else "—"

    @admin.display(description=_("手机"))
    def masked_phone(self, obj):
        a = getattr(obj, "address", None)
        return a.masked_phone if a else "—"

    @admin.display(description=_("收货地址"))
    def full_address(self, obj):
        a = getattr(obj, "address", None)
        return a.full() if a else "—"

    @admin.display(description=_("贺卡祝福"))
    def blessing(self, obj):
        return obj.gift.message if obj.gift.shop.print_blessing_card else "（本店未开启贺卡）"

    @admin.display(description=_("运单"))
    def waybill(self, obj):
        s = getattr(obj, "shipment", None)
        if s is None:
            return "—"
        return f"{s.carrier} {s.waybill_no}" if s.waybill_no else f"{s.get_status_display()} {s.last_error}"


merchant_site.register(Slot, MerchantOrderAdmin)

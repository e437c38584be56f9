"""What a merchant works with at /merchant/: the shop and its gifting switch, products and SKUs,
the recipient orders with their shipping tools, and who in the shop looked at an address."""

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from fulfilment.models import Shipment
from gifts.models import GIFT_UNPAID, Slot, SlotStatus
from merchant import views as v
from merchant.site import ShopScopedAdmin, merchant_site
from privacy.models import PiiAccessLog
from privacy.services import pii_access_record
from shops.admin import SkuInline
from shops.models import Product, Shop, Sku
from shops.permissions import Action, staff_may, staff_may_in_all, staff_require

PRICE_FIELDS = ("price_fen", "original_price_fen")


def _local_time(value) -> str:
    """A moment as people read it: the site's time zone, to the minute; "—" when it has not happened."""
    if value is None:
        return "—"
    return date_format(timezone.localtime(value), "Y-m-d H:i")


def _may_price(request, shop_id: int | None) -> bool:
    """Only an owner or a manager edits prices (shops.permissions); a new SKU has a price too."""
    if shop_id is None:
        return staff_may_in_all(user=request.user, action=Action.EDIT_PRICES)
    return staff_may(user=request.user, shop_id=shop_id, action=Action.EDIT_PRICES)


def _require_price_right(request, form, shop_id: int) -> None:
    """Backstop behind the read-only fields: a changed price by someone who may not is refused."""
    if set(PRICE_FIELDS) & set(form.changed_data):
        staff_require(user=request.user, shop_id=shop_id, action=Action.EDIT_PRICES)


class MerchantShopAdmin(ShopScopedAdmin):
    shop_path = "pk"
    list_display = ["name", "gifting_enabled", "print_blessing_card"]
    fields = [
        "name",
        "description",
        "gifting_enabled",
        "print_blessing_card",
        "wechatpay_sub_mchid",
        "courier_company",
        "ship_from_name",
        "ship_from_phone",
        "ship_from_address",
    ]
    list_editable = ["gifting_enabled"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        """Shop settings and the gifting switch: owners and managers (a shipper sees them read-only)."""
        if obj is None:
            return staff_may_in_all(user=request.user, action=Action.MANAGE_SHOP)
        return staff_may(user=request.user, shop_id=obj.pk, action=Action.MANAGE_SHOP)


class MerchantSkuInline(SkuInline):
    """Inline permissions follow the scoped parent, not Django's per-model permission rows; prices
    (and so new SKUs) only for owners and managers."""

    def has_view_permission(self, request, obj=None):
        return True

    def has_add_permission(self, request, obj=None):
        return _may_price(request, obj.shop_id if obj else None)

    def get_readonly_fields(self, request, obj=None):
        if _may_price(request, obj.shop_id if obj else None):
            return super().get_readonly_fields(request, obj)
        return (*PRICE_FIELDS, "stock")

    def has_change_permission(self, request, obj=None):
        return True

    def has_delete_permission(self, request, obj=None):
        return False


class MerchantProductAdmin(ShopScopedAdmin):
    list_display = ["title", "category", "on_sale", "sku_count"]
    list_filter = ["on_sale"]
    search_fields = ["title"]
    fields = ["shop", "category", "title", "description", "image", "photo_preview", "on_sale"]
    readonly_fields = ["photo_preview"]
    inlines = [MerchantSkuInline]

    @admin.display(description=_("照片预览"))
    def photo_preview(self, obj):
        if obj is None or not obj.image:
            return "—"
        return format_html('<img src="{}" alt="" width="160" height="160" class="photo-preview">', obj.tile_url)

    @admin.display(description=_("SKUs"))
    def sku_count(self, obj) -> int:
        return obj.skus.count()

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("category__parent").prefetch_related("skus")

    def save_formset(self, request, form, formset, change):
        for sku_form in formset.forms:
            if sku_form.has_changed() and hasattr(sku_form, "cleaned_data"):
                _require_price_right(request, sku_form, form.instance.shop_id)
        super().save_formset(request, form, formset, change)


class MerchantSkuAdmin(ShopScopedAdmin):
    shop_path = "product__shop"
    list_display = ["__str__", "price_fen", "original_price_fen", "stock"]
    list_editable = ["stock"]
    search_fields = ["product__title"]
    fields = ["product", "attributes", "price_fen", "original_price_fen", "stock", "image"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product")

    def has_add_permission(self, request):
        return super().has_add_permission(request) and _may_price(request, None)

    def get_readonly_fields(self, request, obj=None):
        if obj is None or _may_price(request, obj.product.shop_id):
            return super().get_readonly_fields(request, obj)
        return (*PRICE_FIELDS, "stock")

    def save_model(self, request, obj, form, change):
        _require_price_right(request, form, obj.product.shop_id)
        if "stock" in form.changed_data:  # the stock column is editable in the list too
            staff_require(user=request.user, shop_id=obj.product.shop_id, action=Action.EDIT_STOCK)
        super().save_model(request, obj, form, change)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "product":
            kwargs["queryset"] = Product.objects.filter(shop_id__in=self.shop_ids(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


merchant_site.register(Shop, MerchantShopAdmin)
merchant_site.register(Product, MerchantProductAdmin)
merchant_site.register(Sku, MerchantSkuAdmin)


# ----- merchant orders -----


class OrderStatusFilter(admin.SimpleListFilter):
    """Opens on the to-ship queue; "全部" is an explicit choice, so the default never hides it."""

    title = _("订单状态")
    parameter_name = "status"
    default = SlotStatus.TO_SHIP
    ALL = "all"

    def lookups(self, request, model_admin):
        return [*SlotStatus.choices, (self.ALL, _("全部"))]

    def value(self):
        return super().value() or self.default

    def queryset(self, request, queryset):
        value = self.value()
        if value in SlotStatus.values:
            return queryset.filter(status=value)
        return queryset

    def choices(self, changelist):
        add_facets = changelist.add_facets
        counts = self.get_facet_queryset(changelist) if add_facets else {}
        for i, (lookup, title) in enumerate(self.lookup_choices):
            if add_facets and f"{i}__c" in counts:
                title = f"{title} ({counts[f'{i}__c']})"
            yield {
                "selected": self.value() == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


class WaybillFilter(admin.SimpleListFilter):
    title = _("面单")
    parameter_name = "waybill"

    def lookups(self, request, model_admin):
        return [
            ("failed", _("面单失败")),
            ("retrying", _("申请中（有报错）")),
            ("requested", _("申请中")),
            ("issued", _("已出面单")),
            ("cancelled", _("面单已取消")),
            ("none", _("未申请")),
        ]

    def queryset(self, request, queryset):
        match self.value():
            case "failed":
                return queryset.filter(shipment__status=Shipment.Status.FAILED)
            case "retrying":
                return queryset.filter(shipment__status=Shipment.Status.REQUESTED).exclude(shipment__last_error="")
            case "requested":
                return queryset.filter(shipment__status=Shipment.Status.REQUESTED)
            case "issued":
                return queryset.filter(shipment__status=Shipment.Status.ISSUED)
            case "cancelled":
                return queryset.filter(shipment__status=Shipment.Status.CANCELLED)
            case "none":
                return queryset.filter(shipment__isnull=True)
        return queryset


class AcceptedAtFilter(admin.DateFieldListFilter):
    """When the recipient accepted (the workbench's 今日收下 links to its "today")."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        self.title = _("收下时间")


class MerchantOrderAdmin(ShopScopedAdmin):
    """The shop's recipient orders. The full address appears on the order and the packing slip,
    for shipping only; lists show the region and a masked phone."""

    shop_path = "gift__shop"
    list_display = [
        "id",
        "row_actions",
        "product",
        "sku_label",
        "quantity",
        "status_label",
        "region",
        "masked_phone",
        "accepted",
        "waybill",
    ]
    list_filter = [OrderStatusFilter, WaybillFilter, ("accepted_at", AcceptedAtFilter)]
    search_fields = ["=id", "=shipment__waybill_no"]
    list_select_related = ["gift__shop", "sku__product", "address", "shipment"]
    ordering = ["accepted_at", "id"]
    actions = ["print_waybills", "export_csv"]
    change_list_template = "merchant/order_change_list.html"
    change_form_template = "merchant/order_change_form.html"
    fields = [
        "gift_id_display",
        "product",
        "sku_label",
        "quantity",
        "status_label",
        "full_address",
        "blessing",
        "waybill",
        "accepted",
        "shipped",
        "delivered",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).exclude(gift__status__in=GIFT_UNPAID)

    def get_urls(self):
        def wrap(view):
            def inner(request, *args, **kwargs):
                return view(self, request, *args, **kwargs)

            return self.admin_site.admin_view(inner)

        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("export/", wrap(v.to_ship_export), name=f"{name}_export"),
            path("import/", wrap(v.tracking_import), name=f"{name}_import"),
            path("<path:object_id>/waybill/", wrap(v.waybill_print), name=f"{name}_waybill"),
            path("<path:object_id>/ship/", wrap(v.order_ship), name=f"{name}_ship"),
            path("<path:object_id>/refund/", wrap(v.order_refund), name=f"{name}_refund"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET":
            slot = self.get_object(request, unquote(object_id))
            pii_access_record(user=request.user, slots=[slot], channel=PiiAccessLog.Channel.ADMIN_VIEW)
        return super().change_view(request, object_id, form_url, extra_context)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description=_("打印所选订单的面单 / 装箱单"))
    def print_waybills(self, request, queryset):
        return v.render_waybills(self, request, v.print_slots(self, request, queryset.values_list("pk", flat=True)))

    @admin.action(description=_("导出所选待发货订单 CSV"))
    def export_csv(self, request, queryset):
        return v.csv_response(self, request, slot_ids=queryset.values_list("pk", flat=True))

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"title": _("收礼订单"), **(extra_context or {})})

    @admin.display(description=_("状态"), ordering="status")
    def status_label(self, obj):
        return obj.status_text

    @admin.display(description=_("收下时间"), ordering="accepted_at")
    def accepted(self, obj):
        return _local_time(obj.accepted_at)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        title = _("收礼订单 %(id)s") % {"id": object_id}
        return super().changeform_view(request, object_id, form_url, {"title": title, **(extra_context or {})})

    @admin.display(description=_("发货时间"))
    def shipped(self, obj):
        return _local_time(obj.shipped_at)

    @admin.display(description=_("签收时间"))
    def delivered(self, obj):
        return _local_time(obj.delivered_at)

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
        return a.region if a else "—"

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
        return obj.gift.message if obj.gift.shop.print_blessing_card else _("（本店未开启贺卡）")

    @admin.display(description=_("运单"))
    def waybill(self, obj):
        s = getattr(obj, "shipment", None)
        if s is None:
            return "—"
        if s.status == Shipment.Status.CANCELLED:
            return format_html('<strong class="admin-error">{}</strong> {}', _("面单已取消"), s.waybill_no)
        if s.status == Shipment.Status.FAILED:
            return format_html(
                '<strong class="admin-error">{}</strong>{}',
                _("面单失败"),
                _("（尝试 %(n)s 次）：%(error)s") % {"n": s.attempts, "error": s.last_error},
            )
        if s.waybill_no and s.label_url:  # the courier's printable e-waybill label
            return format_html(
                '{} {} <a href="{}" rel="noopener">{}</a>', s.courier_label, s.waybill_no, s.label_url, _("面单")
            )
        if s.waybill_no:
            return f"{s.courier_label} {s.waybill_no}"
        if s.last_error:
            return format_html(
                '<span class="admin-error">{}</span>：{}',
                _("申请中，已失败 %(n)s 次") % {"n": s.attempts},
                s.last_error,
            )
        return s.get_status_display()

    @admin.display(description=_("操作"))
    def row_actions(self, obj):
        name = f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}"
        links = [
            format_html('<a href="{}">{}</a>', reverse(f"{self.admin_site.name}:wb-parcel", args=[obj.pk]), _("包裹")),
            format_html('<a href="{}">{}</a>', reverse(f"{name}_waybill", args=[obj.pk]), _("打印")),
        ]
        if obj.status == SlotStatus.TO_SHIP:
            links.append(format_html('<a href="{}">{}</a>', reverse(f"{name}_ship", args=[obj.pk]), _("发货")))
        return format_html_join(" | ", "{}", ((link,) for link in links))


merchant_site.register(Slot, MerchantOrderAdmin)


class MerchantPiiAccessLogAdmin(ShopScopedAdmin):
    """A merchant sees who in their own shop looked at recipients' addresses."""

    list_display = ["created_at", "user", "slot", "channel"]
    list_filter = ["channel"]
    search_fields = ["user__username"]
    list_select_related = ["user", "slot"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


merchant_site.register(PiiAccessLog, MerchantPiiAccessLogAdmin)

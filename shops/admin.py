"""Two admin sites: the operator's full /admin/, and the merchant site /merchant/ where staff see
only their own shop's objects, by list, search, filter, URL and form choice alike."""

from django.contrib import admin
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from .models import Category, Product, Shop, ShopStaff, Sku
from .selectors import shop_ids_for_staff


class MerchantAuthenticationForm(AuthenticationForm):
    """Shop staff are not Django `is_staff` users: the merchant login admits anyone on a shop's staff."""

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not shop_ids_for_staff(user=user):
            raise ValidationError(_("这个账号不是任何店铺的员工"), code="not_shop_staff")


class MerchantSite(admin.AdminSite):
    site_header = _("Giftshop 商家后台")
    site_title = _("商家后台")
    index_title = _("我的店铺")
    index_template = "merchant/index.html"
    login_form = MerchantAuthenticationForm

    def has_permission(self, request) -> bool:
        user = request.user
        return user.is_active and user.is_authenticated and bool(shop_ids_for_staff(user=user))

    def get_urls(self):
        from django.urls import path

        from .dashboard import dashboard_view

        return [
            path("dashboard/", self.admin_view(lambda r: dashboard_view(r, self)), name="dashboard"),
            *super().get_urls(),
        ]


merchant_site = MerchantSite(name="merchant")


class ShopScopedAdmin(admin.ModelAdmin):
    """Everything a merchant admin shows is filtered through `shop_path` to the user's shops."""

    shop_path = "shop"

    def shop_ids(self, request) -> list[int]:
        if not hasattr(request, "_merchant_shop_ids"):
            request._merchant_shop_ids = shop_ids_for_staff(user=request.user)
        return request._merchant_shop_ids

    def get_queryset(self, request):
        return super().get_queryset(request).filter(**{f"{self.shop_path}__in": self.shop_ids(request)})

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("Not found")
        return obj

    def has_module_permission(self, request):
        return bool(self.shop_ids(request))

    def has_view_permission(self, request, obj=None):
        return bool(self.shop_ids(request))

    def has_change_permission(self, request, obj=None):
        return bool(self.shop_ids(request))

    def has_add_permission(self, request):
        return bool(self.shop_ids(request))

    def has_delete_permission(self, request, obj=None):
        return False

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "shop":
            kwargs["queryset"] = Shop.objects.filter(pk__in=self.shop_ids(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class MerchantShopAdmin(ShopScopedAdmin):
    shop_path = "pk"
    list_display = ["name", "gifting_enabled", "print_blessing_card"]
    fields = ["name", "description", "gifting_enabled", "print_blessing_card"]
    list_editable = ["gifting_enabled"]

    def has_add_permission(self, request):
        return False


class SkuInline(admin.TabularInline):
    model = Sku
    extra = 1
    fields = ["attributes", "price_fen", "original_price_fen", "stock"]


class MerchantSkuInline(SkuInline):
    """Inline permissions follow the scoped parent, not Django's per-model permission rows."""

    def has_view_permission(self, request, obj=None):
        return True

    def has_add_permission(self, request, obj=None):
        return True

    def has_change_permission(self, request, obj=None):
        return True

    def has_delete_permission(self, request, obj=None):
        return False


class MerchantProductAdmin(ShopScopedAdmin):
    list_display = ["title", "category", "on_sale", "sku_count"]
    list_filter = ["on_sale"]
    search_fields = ["title"]
    fields = ["shop", "category", "title", "description", "image", "on_sale"]
    inlines = [MerchantSkuInline]

    @admin.display(description=_("SKUs"))
    def sku_count(self, obj) -> int:
        return obj.skus.count()

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("category__parent").prefetch_related("skus")


class MerchantSkuAdmin(ShopScopedAdmin):
    shop_path = "product__shop"
    list_display = ["__str__", "price_fen", "original_price_fen", "stock"]
    list_editable = ["stock"]
    search_fields = ["product__title"]
    fields = ["product", "attributes", "price_fen", "original_price_fen", "stock"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "product":
            kwargs["queryset"] = Product.objects.filter(shop_id__in=self.shop_ids(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


merchant_site.register(Shop, MerchantShopAdmin)
merchant_site.register(Product, MerchantProductAdmin)
merchant_site.register(Sku, MerchantSkuAdmin)


# ----- the operator's admin -----


class ShopStaffInline(admin.TabularInline):
    model = ShopStaff
    extra = 1
    raw_id_fields = ["user"]


@admin.register(Shop)
class ShopAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "gifting_enabled"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [ShopStaffInline]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["__str__", "parent", "gifting_excluded"]
    list_filter = ["gifting_excluded"]
    list_editable = ["gifting_excluded"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["title", "shop", "category", "on_sale"]
    list_filter = ["shop", "on_sale"]
    search_fields = ["title"]
    inlines = [SkuInline]

"""The operator's /admin/ for shops, staff, the category tree (its gifting exclusions are data
edited here) and products."""

from django.contrib import admin

from shops.models import Category, Product, Shop, ShopStaff, Sku


class SkuInline(admin.TabularInline):
    model = Sku
    extra = 1
    fields = ["attributes", "price_fen", "original_price_fen", "stock", "image"]


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

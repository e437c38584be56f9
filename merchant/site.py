"""The merchant site /merchant/: staff see only their own shop's objects, by list, search, filter,
URL and form choice alike. (The operator's /admin/ is Django's default site.)"""

from django.contrib import admin
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import Http404
from django.urls import path
from django.utils.translation import gettext_lazy as _

from merchant import workbench
from merchant.after_sales import after_sales_queue
from merchant.dashboard import dashboard_view
from shops.models import Shop
from shops.selectors import shop_ids_for_staff


class MerchantAuthenticationForm(AuthenticationForm):
    """Shop staff are not Django `is_staff` users: the merchant login admits anyone on a shop's staff."""

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not shop_ids_for_staff(user=user):
            raise ValidationError(_("这个账号不是任何店铺的员工"), code="not_shop_staff")


class MerchantSite(admin.AdminSite):
    site_header = _("Giftshop 商家后台")
    site_title = _("商家后台")
    index_title = _("商品与设置")
    index_template = "merchant/index.html"
    login_form = MerchantAuthenticationForm

    def has_permission(self, request) -> bool:
        user = request.user
        return user.is_active and user.is_authenticated and bool(shop_ids_for_staff(user=user))

    def index(self, request, extra_context=None):
        """The merchant site opens on the workbench; the admin's own index is 商品与设置 (catalogue)."""
        return workbench.home(request, self)

    def get_urls(self):
        def page(view, **kwargs):
            return self.admin_view(lambda request, **kw: view(request, self, **kwargs, **kw))

        return [
            path("dashboard/", self.admin_view(lambda r: dashboard_view(r, self)), name="dashboard"),
            path("to-ship/", page(workbench.to_ship), name="wb-to-ship"),
            path("to-ship/print/", page(workbench.print_sheet), name="wb-print"),
            path("to-ship/hand-over/", page(workbench.hand_over), name="wb-hand-over"),
            path("exceptions/", page(workbench.exceptions), name="wb-exceptions"),
            path("after-sales/", page(after_sales_queue), name="wb-after-sales"),
            path("accepted-today/", page(workbench.orders_today), name="wb-orders-today"),
            path("parcels/<int:slot_id>/", page(workbench.parcel), name="wb-parcel"),
            path("parcels/<int:slot_id>/drive/", page(workbench.drive), name="wb-parcel-drive"),
            path(
                "catalogue/",
                page(workbench.catalogue, admin_index=lambda r, ctx: admin.AdminSite.index(self, r, ctx)),
                name="wb-catalogue",
            ),
            # Without Django's "view on site" shortcut (`r/<content type>/<id>/`): it redirects for any
            # object of any shop, which tells a merchant that another shop's order exists.
            *(url for url in super().get_urls() if getattr(url, "name", None) != "view_on_site"),
        ]


merchant_site = MerchantSite(name="merchant")


class ShopScopedAdmin(admin.ModelAdmin):
    """Everything a merchant admin shows is filtered through `shop_path` to the user's shops."""

    shop_path = "shop"
    view_on_site = False  # the merchant site has no "view on site" shortcut (see MerchantSite.get_urls)

    class Media:
        css = {"all": ["css/admin-extra.css"]}  # classes for the photo preview and waybill errors (no style="")

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

"""The operator's /admin/ for shipments and their courier scans (read-only), with buttons that move
a parcel of a courier that may be driven by hand (the sandbox courier, only while it is enabled)."""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fulfilment.carriers import SCAN_LABELS, carrier_drivable
from fulfilment.models import Shipment, TrackingEvent
from fulfilment.services.shipments import shipment_drive, shipment_drive_choices
from giftshop.errors import AppError
from giftshop.readonly_admin import ReadOnlyAdmin


@admin.register(Shipment)
class ShipmentAdmin(ReadOnlyAdmin):
    list_display = ["slot", "shop", "carrier", "waybill_no", "status", "attempts", "last_error"]
    list_filter = ["status", "carrier"]
    list_select_related = ["shop"]
    search_fields = ["waybill_no"]  # a number may be found in several shops: each is listed
    change_form_template = "admin/fulfilment/shipment/change_form.html"

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_drive"
        return [
            path("<path:object_id>/drive/", self.admin_site.admin_view(require_POST(self.drive_view)), name=name),
            *super().get_urls(),
        ]

    def _drive_options(self, shipment) -> list[tuple[str, str]]:
        courier = carrier_drivable(shipment.carrier) if shipment and shipment.waybill_no else None
        if not courier:
            return []
        choices = shipment_drive_choices(shipment=shipment, statuses=courier.drive_statuses)
        return [(s, str(SCAN_LABELS.get(s, s))) for s in choices]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        shipment = self.get_object(request, unquote(object_id))
        extra = {"drive_options": self._drive_options(shipment), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra)

    def drive_view(self, request, object_id):
        shipment = self.get_object(request, unquote(object_id))
        if shipment is None or not self.has_view_permission(request, shipment) or not self._drive_options(shipment):
            raise Http404
        status = request.POST.get("status", "")
        try:
            outcome = shipment_drive(shipment=shipment, status=status)
        except AppError as exc:
            messages.error(request, f"{exc.detail} ({exc.code})")
        else:
            messages.success(
                request,
                _("沙箱快递已扫描 %(no)s：%(scan)s（%(outcome)s）")
                % {"no": shipment.waybill_no, "scan": SCAN_LABELS.get(status, status), "outcome": outcome},
            )
        return HttpResponseRedirect(reverse("admin:fulfilment_shipment_change", args=[shipment.pk]))


admin.site.register(TrackingEvent, ReadOnlyAdmin)

"""The operator's /admin/ for shipments and their courier scans (read-only)."""

from django.contrib import admin

from fulfilment.models import Shipment, TrackingEvent
from giftshop.readonly_admin import ReadOnlyAdmin


@admin.register(Shipment)
class ShipmentAdmin(ReadOnlyAdmin):
    list_display = ["slot", "carrier", "waybill_no", "status", "attempts", "last_error"]
    list_filter = ["status", "carrier"]
    search_fields = ["waybill_no"]


admin.site.register(TrackingEvent, ReadOnlyAdmin)

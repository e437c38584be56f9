"""Getting the parcel to the recipient: one Shipment (waybill) per slot and its tracking scans."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from fulfilment.carriers import CARRIER_NAMES
from shops.models import CourierCompany


class Shipment(models.Model):
    class Status(models.TextChoices):
        REQUESTED = "requested", _("面单申请中")
        ISSUED = "issued", _("已出面单")
        FAILED = "failed", _("面单失败")
        # The parcel left the shop with its e-waybill: the merchant tapped 交给快递, or the courier's
        # first scan (collected, in transit, delivered) said it has it.
        HANDED_OVER = "handed_over", _("已交快递")
        # The parcel will not ship (refunded before it left the shop): the courier cancelled the
        # e-waybill (or none had been issued, and none will be asked for). Never printed, handed
        # over or dispatched again; the number stays on the row for the record.
        CANCELLED = "cancelled", _("面单已取消")

    slot = models.OneToOneField("gifts.Slot", on_delete=models.PROTECT, related_name="shipment")
    # The slot's gift's shop, kept on the row so that a waybill number is unique per shop: one shop
    # learns nothing of the numbers another shop has used.
    shop = models.ForeignKey("shops.Shop", on_delete=models.PROTECT, related_name="+")
    carrier = models.CharField(max_length=40)
    waybill_no = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REQUESTED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    # Which courier company the waybill is with (a Kuaidi100 company code; empty for the sandbox),
    # the printable label the e-waybill API returned (a short link), and when push tracking was
    # subscribed for it.
    company = models.CharField(max_length=20, blank=True)
    label_url = models.CharField(max_length=500, blank=True)
    tracking_subscribed_at = models.DateTimeField(null=True, blank=True)
    # The courier's own order number for the e-waybill (Kuaidi100's `kdComOrderNum`, when the
    # courier answers one): its cancel call needs it back.
    courier_order_no = models.CharField(max_length=64, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # When the courier did not take the e-waybill back, for good: it refused, or it did not answer
    # until our retries ran out. The parcel is refunded but its waybill may still be live at the
    # courier: the shop's staff were told to cancel it there by hand.
    cancel_failed_at = models.DateTimeField(null=True, blank=True)
    # When the parcel was handed to the courier, and by which staff member (empty: the courier's scan).
    handed_over_at = models.DateTimeField(null=True, blank=True)
    handed_over_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        db_table = "gifts_shipment"  # kept from before the app split
        constraints = [
            # Per shop, not across shops: refusing another shop's number would tell a merchant that
            # it exists (issue #20, the waybill probe).
            models.UniqueConstraint(
                fields=["shop", "carrier", "waybill_no"],
                condition=~Q(waybill_no=""),
                name="shipment_unique_waybill_per_shop",
            )
        ]

    def __str__(self) -> str:
        return f"{self.carrier} {self.waybill_no or '(pending)'}"

    @property
    def courier_label(self) -> str:
        """The courier as people name it: the e-waybill's company (顺丰速运, 中通快递 …), else the carrier."""
        if self.company in CourierCompany.values:
            return str(CourierCompany(self.company).label)
        return str(CARRIER_NAMES.get(self.carrier, self.company or self.carrier))


class TrackingEvent(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="tracking")
    event_id = models.CharField(max_length=64)
    status = models.CharField(max_length=20)
    description = models.CharField(max_length=200, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "gifts_trackingevent"  # kept from before the app split
        ordering = ["occurred_at", "id"]
        constraints = [
            # A courier's event ids are made from the waybill number, which two shops' parcels may
            # share: each event is recorded once per shipment.
            models.UniqueConstraint(fields=["shipment", "event_id"], name="trackingevent_unique_per_shipment")
        ]

    def __str__(self) -> str:
        return f"{self.status} @ {self.occurred_at}"

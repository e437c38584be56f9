"""Personal data: who saw a full address, and key rotation jobs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class PiiAccessLog(models.Model):
    """One row each time a full address or phone is shown or exported, for audits."""

    class Channel(models.TextChoices):
        ADMIN_VIEW = "admin_view", _("商家后台订单页")
        SHIP_FORM = "ship_form", _("手动发货页")
        WAYBILL_PRINT = "waybill_print", _("打印面单")
        CSV_EXPORT = "csv_export", _("CSV 导出")
        API = "api", _("API")
        CARRIER = "carrier", _("交给快递")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    slot = models.ForeignKey("gifts.Slot", on_delete=models.CASCADE, related_name="pii_access")
    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=20, choices=Channel.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "gifts_piiaccesslog"  # kept from before the app split
        ordering = ["-id"]
        indexes = [models.Index(fields=["shop", "-id"]), models.Index(fields=["slot"])]
        verbose_name = _("personal data access")
        verbose_name_plural = _("personal data access log")

    def __str__(self) -> str:
        return f"{self.user} {self.channel} slot {self.slot_id}"


class PiiRotationJob(models.Model):
    """Progress of one key rotation: workers walk each table by id."""

    table = models.CharField(max_length=20, default="shipping")
    last_id = models.BigIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "gifts_piirotationjob"  # kept from before the app split

    def __str__(self) -> str:
        return f"rotation #{self.pk} {self.done}/{self.total}"

"""After-sales requests (售后申请) and their photos.

Only the recipient of a parcel opens one; the shop answers; the money goes back to the sender of
the gift. Statuses change only through aftersales.states.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.files.storage import storages
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class AfterSalesRequest(models.Model):
    class Kind(models.TextChoices):
        REFUND_ONLY = "refund_only", _("仅退款")
        RETURN_REFUND = "return_refund", _("退货退款")

    class Reason(models.TextChoices):
        CHANGED_MIND = "changed_mind", _("不想要了")
        NOT_RECEIVED = "not_received", _("没有收到货")
        DAMAGED = "damaged", _("商品破损")
        WRONG_ITEM = "wrong_item", _("发错货")
        QUALITY = "quality", _("质量问题")
        OTHER = "other", _("其他")

    class Status(models.TextChoices):
        REQUESTED = "requested", _("待商家处理")
        APPROVED = "approved", _("商家已同意")
        REFUSED = "refused", _("商家已拒绝")
        RETURNING = "returning", _("退货寄回中")
        RECEIVED = "received", _("商家已收到退货")
        REFUNDED = "refunded", _("已退款给送礼人")
        CANCELLED = "cancelled", _("已撤销")

    slot = models.ForeignKey("gifts.Slot", on_delete=models.PROTECT, related_name="after_sales")
    shop = models.ForeignKey("shops.Shop", on_delete=models.PROTECT, related_name="after_sales")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    detail = models.TextField(_("detail"), max_length=500, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.REQUESTED)
    amount_fen = models.PositiveIntegerField(help_text="What goes back to the sender: the slot's amount.")
    # The shop must answer by `answer_by`; no answer means approved (beat).
    answer_by = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    refuse_reason = models.CharField(max_length=200, blank=True)
    # A return: the recipient's waybill back to the shop; the shop confirms receipt by `receive_by`
    # (beat confirms it then).
    return_carrier = models.CharField(max_length=40, blank=True)
    return_tracking_no = models.CharField(max_length=64, blank=True)
    return_shipped_at = models.DateTimeField(null=True, blank=True)
    receive_by = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    refund = models.ForeignKey(
        "payments.Refund", on_delete=models.PROTECT, null=True, blank=True, related_name="after_sales"
    )
    refunded_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    status_changed_at = models.DateTimeField(auto_now_add=True)

    OPEN = (Status.REQUESTED, Status.APPROVED, Status.RETURNING, Status.RECEIVED)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("after-sales request")
        verbose_name_plural = _("after-sales requests")
        constraints = [
            # One open request per parcel: a second one while the first runs is refused.
            models.UniqueConstraint(
                fields=["slot"],
                condition=Q(status__in=["requested", "approved", "returning", "received"]),
                name="aftersales_one_open_per_slot",
            )
        ]
        indexes = [
            models.Index(fields=["shop", "status", "-id"]),
            models.Index(fields=["answer_by"], condition=Q(status="requested"), name="aftersales_answer_due_idx"),
            models.Index(fields=["receive_by"], condition=Q(status="returning"), name="aftersales_receive_due_idx"),
        ]

    def __str__(self) -> str:
        return _("售后 #%(id)s（%(kind)s · %(status)s）") % {
            "id": self.pk,
            "kind": self.get_kind_display(),
            "status": self.get_status_display(),
        }

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN


def private_storage():
    """After-sales photos are not public: the "private" storage (settings.STORAGES), never served
    from MEDIA_URL; aftersales.api.views.AfterSalesPhotoView serves them to who may see them."""
    return storages["private"]


def photo_path(instance, filename: str) -> str:
    """Unguessable names; the files are served only through a view that checks who asks."""
    return f"aftersales/{uuid.uuid4().hex}.{instance.extension}"


class AfterSalesPhoto(models.Model):
    request = models.ForeignKey(AfterSalesRequest, on_delete=models.CASCADE, related_name="photos")
    image = models.ImageField(upload_to=photo_path, storage=private_storage)
    content_type = models.CharField(max_length=20)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    @property
    def extension(self) -> str:
        return {"image/png": "png", "image/webp": "webp"}.get(self.content_type, "jpg")

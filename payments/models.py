"""Money in and money back: one Payment per gift, Refunds against it.

Statuses change only through payments.states."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Payment(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("待支付")
        PAID = "paid", _("已支付")
        CLOSED = "closed", _("已关闭")

    gift = models.OneToOneField("gifts.Gift", on_delete=models.PROTECT, related_name="payment")
    provider = models.CharField(max_length=20)
    out_trade_no = models.CharField(max_length=64, unique=True)
    amount_fen = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    transaction_id = models.CharField(max_length=64, blank=True)
    cashier_url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "gifts_payment"  # kept from before the app split

    def __str__(self) -> str:
        return self.out_trade_no


class Refund(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("退款中")
        SUCCEEDED = "succeeded", _("已退款")

    class Reason(models.TextChoices):
        DECLINED = "declined", _("拒收")
        EXPIRED = "expired", _("过期未领")
        PRICE_DIFFERENCE = "price_difference", _("换款差价")
        AFTER_SALES = "after_sales", _("售后退款")
        LATE_PAYMENT = "late_payment", _("订单取消后到账")
        UNDRAWN = "undrawn", _("未使用份数")

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    slot = models.ForeignKey("gifts.Slot", null=True, blank=True, on_delete=models.PROTECT, related_name="refunds")
    out_refund_no = models.CharField(max_length=80, unique=True)
    amount_fen = models.PositiveIntegerField()
    reason = models.CharField(max_length=20, choices=Reason.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "gifts_refund"  # kept from before the app split
        indexes = [
            models.Index(fields=["created_at"], condition=Q(status="pending"), name="refund_pending_idx"),
            models.Index(fields=["succeeded_at"], condition=Q(status="succeeded"), name="refund_succeeded_at_idx"),
        ]

    def __str__(self) -> str:
        return self.out_refund_no

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
        WITHDRAWN = "withdrawn", _("送礼人撤回")

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


class ReconciliationRun(models.Model):
    """One day's bill from one gateway, matched against our payments and refunds (对账)."""

    class Status(models.TextChoices):
        RUNNING = "running", _("对账中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")

    provider = models.CharField(_("provider"), max_length=20)
    bill_date = models.DateField(_("bill date"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.RUNNING)
    lines = models.PositiveIntegerField(_("bill lines"), default=0)
    matched = models.PositiveIntegerField(_("matched"), default=0)
    mismatches = models.PositiveIntegerField(_("mismatches"), default=0)
    bad_lines = models.JSONField(_("malformed lines"), default=list, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)
    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-bill_date", "provider"]
        constraints = [models.UniqueConstraint(fields=["provider", "bill_date"], name="reconciliation_one_run_a_day")]
        verbose_name = _("reconciliation")
        verbose_name_plural = _("reconciliations")

    def __str__(self) -> str:
        return f"{self.provider} {self.bill_date}"


class ReconciliationMismatch(models.Model):
    """A difference between a gateway's bill and our books, for an operator to look at and resolve."""

    class Kind(models.TextChoices):
        PAID_THERE_NOT_HERE = "paid_there_not_here", _("渠道已收款、我方未记账")
        PAID_HERE_NOT_THERE = "paid_here_not_there", _("我方已收款、渠道账单没有")
        AMOUNT_DIFFERS = "amount_differs", _("金额不一致")
        REFUND_MISSING_HERE = "refund_missing_here", _("渠道已退款、我方未记账")
        REFUND_MISSING_THERE = "refund_missing_there", _("我方已退款、渠道账单没有")

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="differences")
    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    out_trade_no = models.CharField(_("out trade no"), max_length=64, blank=True)
    out_refund_no = models.CharField(_("out refund no"), max_length=80, blank=True)
    ours_fen = models.BigIntegerField(_("our amount (fen)"), null=True, blank=True)
    theirs_fen = models.BigIntegerField(_("their amount (fen)"), null=True, blank=True)
    action = models.CharField(_("action taken"), max_length=120, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolution = models.CharField(_("resolution"), max_length=300, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["kind"], condition=Q(resolved_at__isnull=True), name="mismatch_open_idx")]
        verbose_name = _("reconciliation difference")
        verbose_name_plural = _("reconciliation differences")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.out_refund_no or self.out_trade_no}"

"""The sandbox gateway's and courier's own books. They stand in for outside systems."""

from __future__ import annotations

from django.db import models


class SandboxPayOrder(models.Model):
    out_trade_no = models.CharField(max_length=64, unique=True)
    transaction_id = models.CharField(max_length=64, unique=True)
    amount_fen = models.PositiveIntegerField()
    description = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, default="created")  # created, paid, closed
    paid_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "gifts_sandboxpayorder"  # kept from before the app split

    def __str__(self) -> str:
        return self.out_trade_no


class SandboxRefund(models.Model):
    out_refund_no = models.CharField(max_length=80, unique=True)
    out_trade_no = models.CharField(max_length=64, db_index=True)
    amount_fen = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "gifts_sandboxrefund"  # kept from before the app split

    def __str__(self) -> str:
        return self.out_refund_no


class SandboxWaybill(models.Model):
    request_key = models.CharField(max_length=80, unique=True)
    waybill_no = models.CharField(max_length=64, unique=True)
    receiver_region = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    # The courier's books: when it first had the parcel (a pick-up, transit or delivery scan), and
    # when the shop cancelled the waybill (no scan after that; no cancel after a pick-up).
    collected_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "gifts_sandboxwaybill"  # kept from before the app split

    def __str__(self) -> str:
        return self.waybill_no

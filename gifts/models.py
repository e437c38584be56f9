"""Gift orders, recipient slots and everything that hangs off them.

Statuses are changed only through gifts.states; nothing else writes a `status` field.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from giftshop.crypto import EncryptedTextField


def new_token() -> str:
    """192 random bits, URL-safe: a claim link cannot be guessed or enumerated."""
    return secrets.token_urlsafe(24)


class GiftStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", _("待支付")
    CANCELLED = "cancelled", _("已取消")
    SENT = "sent", _("已送出")
    PARTLY_CLAIMED = "partly_claimed", _("部分领取")
    CLAIMED = "claimed", _("已领完")
    FINISHED = "finished", _("已完成")
    EXPIRED = "expired", _("已过期")
    REFUNDED = "refunded", _("已退款")


class SlotStatus(models.TextChoices):
    UNCLAIMED = "unclaimed", _("待领取")
    ACCEPTED = "accepted", _("已收下")
    PROCESSING = "processing", _("处理中")
    TO_SHIP = "to_ship", _("待发货")
    SHIPPED = "shipped", _("已发货")
    DELIVERED = "delivered", _("已签收")
    DECLINED = "declined", _("已拒收")
    EXPIRED = "expired", _("已过期")
    REFUNDED = "refunded", _("已退款")


class Gift(models.Model):
    class Mode(models.TextChoices):
        SINGLE = "single", _("送给一位朋友")
        GROUP = "group", _("群发礼物")
        LOTTERY = "lottery", _("群礼物抽奖")
        BULK = "bulk", _("批量送礼")

    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="gifts_sent")
    shop = models.ForeignKey("shops.Shop", on_delete=models.PROTECT, related_name="gifts")
    sku = models.ForeignKey("shops.Sku", on_delete=models.PROTECT, related_name="gifts")
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.SINGLE)
    recipients_count = models.PositiveIntegerField(default=1)
    quantity = models.PositiveIntegerField(default=1, help_text=_("units per recipient"))
    unit_price_fen = models.PositiveIntegerField()
    amount_fen = models.PositiveIntegerField()
    message = models.CharField(max_length=200, blank=True)
    named_recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    allow_sku_choice = models.BooleanField(default=False)
    status = models.CharField(max_length=20, choices=GiftStatus.choices, default=GiftStatus.PENDING_PAYMENT)
    claim_token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    pay_deadline = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(auto_now_add=True)
    draw_at = models.DateTimeField(null=True, blank=True, help_text=_("lottery gifts: when winners are drawn"))

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["sender", "-id"]),
            models.Index(fields=["pay_deadline"], condition=Q(status="pending_payment"), name="gift_unpaid_idx"),
            models.Index(fields=["draw_at"], condition=Q(mode="lottery", status="sent"), name="gift_lottery_due_idx"),
            # The dashboard rollup reads one day of payments at a time.
            models.Index(fields=["paid_at"], condition=Q(paid_at__isnull=False), name="gift_paid_at_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    amount_fen=models.F("unit_price_fen") * models.F("quantity") * models.F("recipients_count")
                ),
                name="gift_amount_is_price_times_units",
            ),
        ]
        verbose_name = _("gift")
        verbose_name_plural = _("gifts")

    def __str__(self) -> str:
        return f"Gift #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("gift-detail", args=[self.pk])

    @property
    def slot_amount_fen(self) -> int:
        return self.unit_price_fen * self.quantity

    def claim_path(self) -> str:
        if self.mode == Gift.Mode.LOTTERY:
            return reverse("lottery", args=[self.claim_token])
        return reverse("claim", args=[self.claim_token])


class Slot(models.Model):
    """One recipient's share of a gift: one parcel to one address."""

    gift = models.ForeignKey(Gift, on_delete=models.CASCADE, related_name="slots")
    number = models.PositiveIntegerField()
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="slots"
    )
    sku = models.ForeignKey("shops.Sku", on_delete=models.PROTECT, related_name="slots")
    status = models.CharField(max_length=20, choices=SlotStatus.choices, default=SlotStatus.UNCLAIMED)
    expires_at = models.DateTimeField(null=True, blank=True)
    taken_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(auto_now_add=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    thanks = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["gift_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["gift", "number"], name="slot_unique_number"),
            models.UniqueConstraint(
                fields=["gift", "recipient"], condition=Q(recipient__isnull=False), name="slot_one_per_account"
            ),
        ]
        indexes = [
            # The expiry sweep reads only what is due: cost follows expired rows, not the table.
            models.Index(fields=["expires_at"], condition=Q(status="unclaimed"), name="slot_unclaimed_expiry_idx"),
            # A grab looks only at free slots: without this, every grab (and every "all taken")
            # would walk past all the slots already grabbed.
            models.Index(
                fields=["gift", "number"], condition=Q(recipient__isnull=True, status="unclaimed"), name="slot_free_idx"
            ),
            models.Index(fields=["status_changed_at"], condition=Q(status="accepted"), name="slot_accepted_idx"),
            models.Index(fields=["gift", "status"]),
            models.Index(fields=["recipient", "-id"]),
            # The dashboard rollup reads one day of each milestone at a time.
            models.Index(fields=["accepted_at"], condition=Q(accepted_at__isnull=False), name="slot_accepted_at_idx"),
            models.Index(fields=["shipped_at"], condition=Q(shipped_at__isnull=False), name="slot_shipped_at_idx"),
            models.Index(
                fields=["delivered_at"], condition=Q(delivered_at__isnull=False), name="slot_delivered_at_idx"
            ),
        ]
        verbose_name = _("recipient slot")
        verbose_name_plural = _("recipient slots")

    def __str__(self) -> str:
        return f"Slot #{self.pk} of gift #{self.gift_id}"


class AddressFields(models.Model):
    """A mainland address. Name, phone and street are encrypted at rest; the region stays plain
    (it routes parcels and feeds statistics, and identifies nobody)."""

    name = EncryptedTextField()
    phone = EncryptedTextField()
    province = models.CharField(max_length=32)
    city = models.CharField(max_length=32)
    district = models.CharField(max_length=32)
    detail = EncryptedTextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True

    @property
    def region(self) -> str:
        return f"{self.province}{self.city}{self.district}"


class ShippingAddress(AddressFields):
    """Where one slot ships."""

    ERASED_TEXT = "（收件人信息已按保留期限删除）"

    slot = models.OneToOneField(Slot, on_delete=models.CASCADE, related_name="address")
    # Set when the retention sweep or an account deletion erased name, phone and street.
    erased_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.region} ({self.masked_phone})"

    @property
    def masked_phone(self) -> str:
        return self.ERASED_TEXT if self.erased_at else mask_phone(self.phone)

    @property
    def masked_name(self) -> str:
        return mask_name(self.name)

    def full(self) -> str:
        if self.erased_at:
            return f"{self.region} {self.ERASED_TEXT}"
        return f"{self.name} {self.phone} {self.region}{self.detail}"


class SavedAddress(AddressFields):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_addresses")

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{mask_name(self.name)} {mask_phone(self.phone)} {self.region}"


def mask_phone(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 7 else "****"


def mask_name(name: str) -> str:
    return (name[:1] + "*" * max(1, len(name) - 1)) if name else ""


class GiftEvent(models.Model):
    """The audit trail: one row per status change or notable act, never updated."""

    gift = models.ForeignKey(Gift, on_delete=models.CASCADE, related_name="events")
    slot = models.ForeignKey(Slot, null=True, blank=True, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=40)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_status}->{self.to_status}"


class Payment(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("待支付")
        PAID = "paid", _("已支付")
        CLOSED = "closed", _("已关闭")

    gift = models.OneToOneField(Gift, on_delete=models.PROTECT, related_name="payment")
    provider = models.CharField(max_length=20)
    out_trade_no = models.CharField(max_length=64, unique=True)
    amount_fen = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    transaction_id = models.CharField(max_length=64, blank=True)
    cashier_url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)

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
    slot = models.ForeignKey(Slot, null=True, blank=True, on_delete=models.PROTECT, related_name="refunds")
    out_refund_no = models.CharField(max_length=80, unique=True)
    amount_fen = models.PositiveIntegerField()
    reason = models.CharField(max_length=20, choices=Reason.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["created_at"], condition=Q(status="pending"), name="refund_pending_idx"),
            models.Index(fields=["succeeded_at"], condition=Q(status="succeeded"), name="refund_succeeded_at_idx"),
        ]

    def __str__(self) -> str:
        return self.out_refund_no


class Shipment(models.Model):
    class Status(models.TextChoices):
        REQUESTED = "requested", _("面单申请中")
        ISSUED = "issued", _("已出面单")
        FAILED = "failed", _("面单失败")

    slot = models.OneToOneField(Slot, on_delete=models.PROTECT, related_name="shipment")
    carrier = models.CharField(max_length=40)
    waybill_no = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    issued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["carrier", "waybill_no"], condition=~Q(waybill_no=""), name="shipment_unique_waybill"
            )
        ]

    def __str__(self) -> str:
        return f"{self.carrier} {self.waybill_no or '(pending)'}"


class TrackingEvent(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="tracking")
    event_id = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=20)
    description = models.CharField(max_length=200, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "id"]

    def __str__(self) -> str:
        return f"{self.status} @ {self.occurred_at}"


class Notification(models.Model):
    """The in-app inbox. `dedupe_key` makes every event notify a person at most once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=40)
    dedupe_key = models.CharField(max_length=120, unique=True)
    title = models.CharField(max_length=120)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "-id"])]

    def __str__(self) -> str:
        return self.title


# --- The sandbox gateway's and courier's own books. They stand in for outside systems. ---


class SandboxPayOrder(models.Model):
    out_trade_no = models.CharField(max_length=64, unique=True)
    transaction_id = models.CharField(max_length=64, unique=True)
    amount_fen = models.PositiveIntegerField()
    description = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, default="created")  # created, paid, closed
    paid_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.out_trade_no


class SandboxRefund(models.Model):
    out_refund_no = models.CharField(max_length=80, unique=True)
    out_trade_no = models.CharField(max_length=64, db_index=True)
    amount_fen = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.out_refund_no


class SandboxWaybill(models.Model):
    request_key = models.CharField(max_length=80, unique=True)
    waybill_no = models.CharField(max_length=64, unique=True)
    receiver_region = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.waybill_no


# --- Group lottery (群礼物抽奖) and bulk gifts from a list (员工福利 / client gifts). ---


class LotteryInvite(models.Model):
    """Who may enter a lottery. A lottery without invites is open to anyone with the link."""

    gift = models.ForeignKey(Gift, on_delete=models.CASCADE, related_name="lottery_invites")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["gift", "user"], name="lottery_one_invite_per_account")]

    def __str__(self) -> str:
        return f"invite gift #{self.gift_id} user #{self.user_id}"


class LotteryEntry(models.Model):
    gift = models.ForeignKey(Gift, on_delete=models.CASCADE, related_name="lottery_entries")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lottery_entries")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["gift_id", "id"]
        constraints = [models.UniqueConstraint(fields=["gift", "user"], name="lottery_one_entry_per_account")]

    def __str__(self) -> str:
        return f"entry gift #{self.gift_id} user #{self.user_id}"


class LotteryDraw(models.Model):
    """The audit record of one draw; one per gift (the OneToOne makes a second draw impossible).

    `entrant_ids` is the entrant list in entry order and `picks` the indices the cryptographic
    source (`source`) chose, in the order chosen: winners are exactly `entrant_ids[i] for i in picks`.
    """

    gift = models.OneToOneField(Gift, on_delete=models.CASCADE, related_name="lottery_draw")
    drawn_at = models.DateTimeField()
    source = models.CharField(max_length=40, default="secrets.SystemRandom")
    entrant_ids = models.JSONField(default=list)
    picks = models.JSONField(default=list)
    winner_ids = models.JSONField(default=list)
    units_unused = models.PositiveIntegerField(default=0)
    refund_fen = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"draw of gift #{self.gift_id}"


class BulkOrder(models.Model):
    """A recipient list uploaded for one SKU: validated by workers in chunks, then one payment for all."""

    class Stage(models.TextChoices):
        VALIDATING = "validating", _("校验中")
        VALIDATED = "validated", _("待确认")
        ORDERED = "ordered", _("待支付")
        SENDING = "sending", _("发送链接中")
        SENT = "sent", _("已发送")

    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bulk_orders")
    sku = models.ForeignKey("shops.Sku", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(default=1)
    message = models.CharField(max_length=200, blank=True)
    csv_text = EncryptedTextField(help_text=_("the uploaded list, kept until validated"))
    stage = models.CharField(max_length=12, choices=Stage.choices, default=Stage.VALIDATING)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    valid_rows = models.PositiveIntegerField(default=0)
    invalid_rows = models.PositiveIntegerField(default=0)
    links_sent = models.PositiveIntegerField(default=0)
    gift = models.OneToOneField(Gift, null=True, blank=True, on_delete=models.PROTECT, related_name="bulk_order")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["sender", "-id"])]

    def __str__(self) -> str:
        return f"Bulk order #{self.pk}"


class BulkRecipient(models.Model):
    """One row of a bulk list. Valid rows get a slot; the slot is claimed through the row's own
    link (`token`) by whoever proves, with a one-time code, that they hold the named phone or email."""

    class ContactKind(models.TextChoices):
        PHONE = "phone", _("手机")
        EMAIL = "email", _("邮箱")

    order = models.ForeignKey(BulkOrder, on_delete=models.CASCADE, related_name="rows")
    row_number = models.PositiveIntegerField()
    name = models.CharField(max_length=60, blank=True)
    note = models.CharField(max_length=200, blank=True)
    contact = EncryptedTextField(blank=True)
    contact_kind = models.CharField(max_length=5, choices=ContactKind.choices, blank=True)
    contact_masked = models.CharField(max_length=80, blank=True)
    contact_digest = models.CharField(max_length=64, blank=True, help_text=_("keyed hash for duplicate checks"))
    error = models.CharField(max_length=300, blank=True, help_text=_("why the row was refused; empty if valid"))
    slot = models.OneToOneField(Slot, null=True, blank=True, on_delete=models.CASCADE, related_name="bulk_recipient")
    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    link_sent_at = models.DateTimeField(null=True, blank=True)
    code_hash = models.CharField(max_length=64, blank=True)
    code_sent_at = models.DateTimeField(null=True, blank=True)
    code_expires_at = models.DateTimeField(null=True, blank=True)
    code_attempts = models.PositiveIntegerField(default=0)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["order_id", "row_number"]
        constraints = [
            models.UniqueConstraint(fields=["order", "row_number"], name="bulk_row_unique_number"),
            models.UniqueConstraint(
                fields=["order", "contact_digest"], condition=Q(error=""), name="bulk_valid_contact_once"
            ),
        ]

    def __str__(self) -> str:
        return f"row {self.row_number} of bulk order #{self.order_id}"

    def get_absolute_url(self) -> str:
        return reverse("bulk-claim", args=[self.token])


# --- Personal data: who saw a full address, and key rotation jobs. ---


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
    slot = models.ForeignKey(Slot, on_delete=models.CASCADE, related_name="pii_access")
    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=20, choices=Channel.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
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

    def __str__(self) -> str:
        return f"rotation #{self.pk} {self.done}/{self.total}"

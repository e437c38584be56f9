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

from gifts.regions import region_text
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


# The status groups every app asks about, named once.
# Not paid (yet, or ever): the gift does not exist for recipients, merchants or the tracker.
GIFT_UNPAID = (GiftStatus.PENDING_PAYMENT, GiftStatus.CANCELLED)
# Free slots may still be taken (grabbed, entered, opened by a new recipient).
GIFT_OPEN = (GiftStatus.SENT, GiftStatus.PARTLY_CLAIMED)
# A slot someone holds may still be accepted or declined (all slots held is `claimed`).
GIFT_CLAIMABLE = (*GIFT_OPEN, GiftStatus.CLAIMED)
# Slots a recipient holds and the merchant still has to get to them.
SLOT_IN_PROGRESS = (SlotStatus.ACCEPTED, SlotStatus.PROCESSING, SlotStatus.TO_SHIP, SlotStatus.SHIPPED)


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
        return _("礼物 #%(id)s") % {"id": self.pk}

    def get_absolute_url(self) -> str:
        return reverse("gift-detail", args=[self.pk])

    @property
    def slot_amount_fen(self) -> int:
        return self.unit_price_fen * self.quantity

    @property
    def status_text(self) -> str:
        """The gift's status in the words every page uses (sender, recipient, merchant): a refund is
        "已退款" only once it settled, and a gift for one person is never "已领完"."""
        if self.status == GiftStatus.EXPIRED:
            return _("已过期，退款处理中")
        if self.status == GiftStatus.CLAIMED and self.recipients_count == 1:
            accepted = getattr(self, "slots_accepted", None)
            if accepted is None:
                accepted = self.slots.exclude(status=SlotStatus.DECLINED).count()
            return _("已收下") if accepted else _("已婉拒，退款处理中")
        return self.get_status_display()

    # Mode -> the URL name of the page a shared link opens; filled in by `gifts.modes.register`.
    CLAIM_VIEWS: dict[str, str] = {}

    def claim_path(self) -> str:
        return reverse(self.CLAIM_VIEWS.get(self.mode, "claim"), args=[self.claim_token])


class Slot(models.Model):
    """One recipient's share of a gift: one parcel to one address."""

    # No index of their own for `gift` and `recipient`: the (gift, number) and (recipient, -id) indexes
    # below lead with them. Every write of a slot (a grab, an accept) updates each index of the table.
    gift = models.ForeignKey(Gift, on_delete=models.CASCADE, related_name="slots", db_index=False)
    number = models.PositiveIntegerField()
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="slots",
        db_index=False,
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
        return _("订单 #%(slot)s（礼物 #%(gift)s 第 %(number)s 份）") % {
            "slot": self.pk,
            "gift": self.gift_id,
            "number": self.number,
        }

    @property
    def status_text(self) -> str:
        """The slot's status in the words every page uses: money on its way back is "退款处理中"
        until the refund settled (then the slot is `refunded`, "已退款")."""
        if self.status == SlotStatus.EXPIRED:
            return _("已过期，退款处理中")
        if self.status == SlotStatus.DECLINED:
            return _("已婉拒，退款处理中")
        return self.get_status_display()


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
        return region_text(self.province, self.city, self.district)


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
    """The audit trail: one row per status change or notable act, never updated. Written only
    through `gifts.events` (and the state modules), so every kind is one of `Kind`."""

    class Kind(models.TextChoices):
        CREATED = "created", _("下单")
        GIFT_STATUS = "gift_status", _("礼物状态变化")
        SLOT_STATUS = "slot_status", _("收礼状态变化")
        GRAB_RELEASED = "grab_released", _("退回群礼物名额")
        THANKS = "thanks", _("答谢")
        REFUND_REQUESTED = "refund_requested", _("申请退款")
        WAYBILL_ISSUED = "waybill_issued", _("已出面单")
        WAYBILL_CANCELLED = "waybill_cancelled", _("面单已取消")
        AFTER_SALES = "after_sales", _("售后")
        LOTTERY_DRAWN = "lottery_drawn", _("已开奖")
        LINK_RESENT = "link_resent", _("重发领取链接")
        BULK_VERIFIED = "bulk_verified", _("验证身份")
        MESSAGE_REFUSED = "message_refused", _("短信未能发出")

    gift = models.ForeignKey(Gift, on_delete=models.CASCADE, related_name="events")
    slot = models.ForeignKey(Slot, null=True, blank=True, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=40, choices=Kind.choices)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_status}->{self.to_status}"


class Notification(models.Model):
    """The in-app inbox. `dedupe_key` makes every event notify a person at most once."""

    class Kind(models.TextChoices):
        GIFT_PAID = "gift_paid", _("礼物已支付")
        ACCEPTED = "accepted", _("已收下")
        TO_SHIP = "to_ship", _("新的待发货订单")
        DECLINED = "declined", _("婉拒")
        THANKS = "thanks", _("答谢")
        REMINDER = "reminder", _("即将过期提醒")
        EXPIRED = "expired", _("超时未领")
        REFUND = "refund", _("退款")
        SHIPPED = "shipped", _("已发货")
        DELIVERED = "delivered", _("已签收")
        LOTTERY_WON = "lottery_won", _("中奖")
        LOTTERY_LOST = "lottery_lost", _("未中奖")
        LOTTERY_DRAWN = "lottery_drawn", _("已开奖")
        SHIPPING_EXCEPTION = "shipping_exception", _("物流异常")
        AFTER_SALES = "after_sales", _("售后")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=40, choices=Kind.choices)
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

"""Group lottery (群礼物抽奖) and bulk gifts from a list (员工福利 / client gifts)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from gifts.models import new_token
from giftshop.crypto import EncryptedTextField


class LotteryInvite(models.Model):
    """Who may enter a lottery. A lottery without invites is open to anyone with the link."""

    gift = models.ForeignKey("gifts.Gift", on_delete=models.CASCADE, related_name="lottery_invites")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        db_table = "gifts_lotteryinvite"  # kept from before the app split
        constraints = [models.UniqueConstraint(fields=["gift", "user"], name="lottery_one_invite_per_account")]

    def __str__(self) -> str:
        return f"invite gift #{self.gift_id} user #{self.user_id}"


class LotteryEntry(models.Model):
    gift = models.ForeignKey("gifts.Gift", on_delete=models.CASCADE, related_name="lottery_entries")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lottery_entries")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "gifts_lotteryentry"  # kept from before the app split
        ordering = ["gift_id", "id"]
        constraints = [models.UniqueConstraint(fields=["gift", "user"], name="lottery_one_entry_per_account")]

    def __str__(self) -> str:
        return f"entry gift #{self.gift_id} user #{self.user_id}"


class LotteryDraw(models.Model):
    """The audit record of one draw; one per gift (the OneToOne makes a second draw impossible).

    `entrant_ids` is the entrant list in entry order and `picks` the indices the cryptographic
    source (`source`) chose, in the order chosen: winners are exactly `entrant_ids[i] for i in picks`.
    """

    gift = models.OneToOneField("gifts.Gift", on_delete=models.CASCADE, related_name="lottery_draw")
    drawn_at = models.DateTimeField()
    source = models.CharField(max_length=40, default="secrets.SystemRandom")
    entrant_ids = models.JSONField(default=list)
    picks = models.JSONField(default=list)
    winner_ids = models.JSONField(default=list)
    units_unused = models.PositiveIntegerField(default=0)
    refund_fen = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "gifts_lotterydraw"  # kept from before the app split

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
    gift = models.OneToOneField(
        "gifts.Gift", null=True, blank=True, on_delete=models.PROTECT, related_name="bulk_order"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "gifts_bulkorder"  # kept from before the app split
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
    slot = models.OneToOneField(
        "gifts.Slot", null=True, blank=True, on_delete=models.CASCADE, related_name="bulk_recipient"
    )
    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    link_sent_at = models.DateTimeField(null=True, blank=True)
    code_hash = models.CharField(max_length=64, blank=True)
    code_sent_at = models.DateTimeField(null=True, blank=True)
    code_expires_at = models.DateTimeField(null=True, blank=True)
    code_attempts = models.PositiveIntegerField(default=0)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "gifts_bulkrecipient"  # kept from before the app split
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

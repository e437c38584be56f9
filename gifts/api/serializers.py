"""The response and request shapes of the gift API, defined once; never an address for the sender."""

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from gifts import modes
from gifts.models import GIFT_UNPAID, Gift, Notification, SavedAddress, Slot
from gifts.selectors import slots_for_gift
from shops.api.serializers import AbsoluteUrlField, SkuSerializer


class GiftCreateSerializer(serializers.Serializer):
    sku_id = serializers.IntegerField(min_value=1, max_value=2**62)
    mode = serializers.ChoiceField(
        choices=[(m.value, m.label) for m in (Gift.Mode.SINGLE, Gift.Mode.GROUP)], default=Gift.Mode.SINGLE
    )
    recipients = serializers.IntegerField(default=1, min_value=1, max_value=100_000)
    quantity = serializers.IntegerField(default=1, min_value=1, max_value=10_000)
    message = serializers.CharField(default="", allow_blank=True, max_length=200)
    recipient_username = serializers.CharField(default="", allow_blank=True, max_length=150)
    recipient_phone = serializers.CharField(
        default="",
        allow_blank=True,
        max_length=20,
        help_text="single only: name the recipient by mainland mobile number instead; they prove it with an SMS code",
    )
    allow_sku_choice = serializers.BooleanField(default=False)
    expected_price_fen = serializers.IntegerField(
        required=False, min_value=0, max_value=2**31, help_text="the price the client showed; 409-free check"
    )


class PaymentOutSerializer(serializers.Serializer):
    out_trade_no = serializers.CharField()
    cashier_url = serializers.CharField(help_text="our cashier page: the payer chooses WeChat Pay or Alipay there")
    status = serializers.CharField()
    provider = serializers.CharField(help_text="`sandbox`, `wechatpay` or `alipay`: the provider the payer chose last")


class SlotSenderSerializer(serializers.ModelSerializer):
    """What a sender may know of a recipient slot: never the address or phone."""

    sku_id = serializers.IntegerField(read_only=True)
    recipient = serializers.SerializerMethodField()
    opened = serializers.SerializerMethodField()

    class Meta:
        model = Slot
        fields = [
            "id",
            "number",
            "status",
            "sku_id",
            "recipient",
            "opened",
            "accepted_at",
            "shipped_at",
            "delivered_at",
            "thanks",
        ]

    def get_recipient(self, slot) -> str | None:
        return slot.recipient.username if slot.recipient_id else None

    def get_opened(self, slot) -> bool:
        return slot.opened_at is not None


class GiftSerializer(serializers.ModelSerializer):
    product = serializers.CharField(source="sku.product.title", read_only=True)
    product_id = serializers.IntegerField(source="sku.product_id", read_only=True)
    claim_url = serializers.SerializerMethodField()
    payment = serializers.SerializerMethodField()
    slots = serializers.SerializerMethodField()
    recipient_username = serializers.SerializerMethodField()

    class Meta:
        model = Gift
        fields = [
            "id",
            "status",
            "mode",
            "product",
            "product_id",
            "sku_id",
            "quantity",
            "recipients_count",
            "unit_price_fen",
            "amount_fen",
            "message",
            "recipient_username",
            "allow_sku_choice",
            "claim_url",
            "created_at",
            "paid_at",
            "expires_at",
            "payment",
            "slots",
        ]

    def get_claim_url(self, gift) -> str | None:
        """The link to share: the claim card, or the lottery page. None for a bulk gift, whose
        recipients each have a personal link (see the tracker), and before payment."""
        if gift.status in GIFT_UNPAID or not modes.of(gift).shares_claim_link:
            return None
        return settings.SITE_URL.rstrip("/") + gift.claim_path()

    def get_payment(self, gift) -> PaymentOutSerializer:
        payment = gift.payment
        return {
            "out_trade_no": payment.out_trade_no,
            "cashier_url": payment.cashier_url,
            "status": payment.status,
            "provider": payment.provider,
        }

    def get_slots(self, gift) -> SlotSenderSerializer(many=True):
        return SlotSenderSerializer(slots_for_gift(gift=gift), many=True).data

    def get_recipient_username(self, gift) -> str | None:
        return gift.named_recipient.username if gift.named_recipient_id else None


class GiftListSerializer(serializers.ModelSerializer):
    product = serializers.CharField(source="sku.product.title", read_only=True)
    slots_accepted = serializers.IntegerField(read_only=True)

    class Meta:
        model = Gift
        fields = [
            "id",
            "status",
            "mode",
            "product",
            "amount_fen",
            "recipients_count",
            "slots_accepted",
            "created_at",
            "expires_at",
        ]


class MaskedAddressSerializer(serializers.Serializer):
    """The recipient's own address as their list shows it: masked name and phone, region only."""

    name = serializers.CharField()
    phone = serializers.CharField()
    region = serializers.CharField()


class WaybillSerializer(serializers.Serializer):
    carrier = serializers.CharField()
    waybill_no = serializers.CharField()


class ShipmentOutSerializer(WaybillSerializer):
    status = serializers.CharField()
    last_error = serializers.CharField()


class ClaimProductSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    image = serializers.CharField()
    image_url = AbsoluteUrlField(
        help_text="the paid 款式's photo (else the product's), square 480 px; \"\" without one"
    )
    shop = serializers.CharField(help_text="the shop's name")


class PaidSkuSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField(
        help_text='the 款式 the sender paid for, e.g. "藏青"; "" for a product with one plain 款式'
    )


class ClaimSlotSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    sku_id = serializers.IntegerField()


class AddressSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=30)
    phone = serializers.CharField(max_length=20)
    province = serializers.CharField(max_length=32)
    city = serializers.CharField(max_length=32)
    district = serializers.CharField(max_length=32, allow_blank=True)
    detail = serializers.CharField(max_length=120)


class AcceptSerializer(serializers.Serializer):
    address = AddressSerializer()
    sku_id = serializers.IntegerField(required=False, min_value=1, max_value=2**62)
    save_address = serializers.BooleanField(default=False)


class ClaimCardSerializer(serializers.Serializer):
    """The gift card as the recipient sees it."""

    sender = serializers.CharField()
    message = serializers.CharField()
    mode = serializers.CharField()
    status = serializers.CharField()
    product = ClaimProductSerializer()
    paid_sku = PaidSkuSerializer()
    quantity = serializers.IntegerField()
    skus = SkuSerializer(many=True)
    allow_sku_choice = serializers.BooleanField()
    named = serializers.BooleanField(help_text="the sender named one account as recipient")
    for_you = serializers.BooleanField(help_text="false when the gift is named for another account")
    slots_total = serializers.IntegerField()
    slots_left = serializers.IntegerField()
    expires_at = serializers.DateTimeField()
    your_slot = ClaimSlotSerializer(allow_null=True)


class TrackingSerializer(serializers.Serializer):
    """One courier scan (fulfilment's TrackingEvent), as the recipient sees it."""

    status = serializers.CharField(max_length=20)
    description = serializers.CharField(max_length=200, allow_blank=True)
    occurred_at = serializers.DateTimeField()


class SlotRecipientSerializer(serializers.ModelSerializer):
    """A received gift, for its recipient: with their own address (masked) and the tracking timeline."""

    sender = serializers.SerializerMethodField()
    product = serializers.CharField(source="sku.product.title", read_only=True)
    sku = SkuSerializer(read_only=True)
    message = serializers.CharField(source="gift.message", read_only=True)
    address = serializers.SerializerMethodField()
    waybill = serializers.SerializerMethodField()
    tracking = serializers.SerializerMethodField()

    class Meta:
        model = Slot
        fields = [
            "id",
            "status",
            "sender",
            "product",
            "sku",
            "message",
            "address",
            "waybill",
            "tracking",
            "accepted_at",
            "shipped_at",
            "delivered_at",
            "thanks",
        ]

    def get_sender(self, slot) -> str:
        s = slot.gift.sender
        return s.get_full_name() or s.username

    @extend_schema_field(MaskedAddressSerializer(allow_null=True))
    def get_address(self, slot) -> dict | None:
        a = getattr(slot, "address", None)
        if a is None:
            return None
        return {"name": a.masked_name, "phone": a.masked_phone, "region": a.region}

    @extend_schema_field(WaybillSerializer(allow_null=True))
    def get_waybill(self, slot) -> dict | None:
        s = getattr(slot, "shipment", None)
        return {"carrier": s.carrier, "waybill_no": s.waybill_no} if s and s.waybill_no else None

    def get_tracking(self, slot) -> TrackingSerializer(many=True):
        s = getattr(slot, "shipment", None)
        return TrackingSerializer(s.tracking.all(), many=True).data if s else []


class ThanksSerializer(serializers.Serializer):
    thanks = serializers.CharField(max_length=200)


class SavedAddressSerializer(serializers.ModelSerializer):
    class Meta:
        model = SavedAddress
        fields = ["id", "name", "phone", "province", "city", "district", "detail", "created_at"]
        read_only_fields = ["id", "created_at"]


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "link", "created_at", "read_at"]


class NotificationReadSerializer(serializers.Serializer):
    id = serializers.IntegerField(required=False, min_value=1, max_value=2**62, help_text="omit to mark all read")

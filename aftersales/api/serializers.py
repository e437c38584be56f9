"""Shapes of the after-sales API (contract: ../shared/API.md "Version 1.1")."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from aftersales.models import AfterSalesRequest

R = AfterSalesRequest


class AfterSalesCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=R.Kind.choices)
    reason = serializers.ChoiceField(choices=R.Reason.choices)
    detail = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    photos = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        default=list,
        max_length=3,
        help_text="Up to 3 JPEG, PNG or WebP pictures of at most 5 MB each, as base64 strings "
        "(a `data:image/...;base64,` prefix is allowed).",
    )


class ReturnShipmentSerializer(serializers.Serializer):
    carrier = serializers.CharField(max_length=40)
    tracking_no = serializers.CharField(max_length=40)


class RefuseSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


class ReturnAddressSerializer(serializers.Serializer):
    name = serializers.CharField()
    phone = serializers.CharField()
    address = serializers.CharField()


class AfterSalesSerializer(serializers.ModelSerializer):
    """A request as its recipient and the shop see it. The shop's return address appears only for
    the recipient of an approved return (`return_address`); the sender's address never appears."""

    slot_id = serializers.IntegerField(read_only=True)
    photos = serializers.SerializerMethodField()
    return_address = serializers.SerializerMethodField()

    class Meta:
        model = R
        fields = [
            "id",
            "slot_id",
            "kind",
            "reason",
            "detail",
            "status",
            "amount_fen",
            "answer_by",
            "answered_at",
            "refuse_reason",
            "return_address",
            "return_carrier",
            "return_tracking_no",
            "return_shipped_at",
            "receive_by",
            "received_at",
            "refunded_at",
            "cancelled_at",
            "created_at",
            "photos",
        ]

    def get_photos(self, request) -> list[str]:
        return [reverse("after-sales-photo", args=[p.pk]) for p in request.photos.all()]

    @extend_schema_field(ReturnAddressSerializer(allow_null=True))
    def get_return_address(self, request) -> dict | None:
        if not self.context.get("recipient") or request.kind != R.Kind.RETURN_REFUND:
            return None
        if request.status not in (R.Status.APPROVED, R.Status.RETURNING):
            return None
        shop = request.shop
        return {"name": shop.ship_from_name, "phone": shop.ship_from_phone, "address": shop.ship_from_address}


class MerchantAfterSalesSerializer(AfterSalesSerializer):
    """A request in the shop's queue: which parcel and product; no address of anyone."""

    shop = serializers.IntegerField(source="shop_id", read_only=True)
    product = serializers.CharField(source="slot.sku.product.title", read_only=True)
    sku = serializers.CharField(source="slot.sku.label", read_only=True)
    slot_status = serializers.CharField(source="slot.status", read_only=True)

    class Meta(AfterSalesSerializer.Meta):
        fields = [*AfterSalesSerializer.Meta.fields, "shop", "product", "sku", "slot_status"]

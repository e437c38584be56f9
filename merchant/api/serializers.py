"""Shapes of the merchant API: orders with the full address (for shipping only), shops, products, stock."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from gifts.api.serializers import AddressSerializer, ShipmentOutSerializer
from gifts.models import Slot
from shops.api.serializers import EligibilitySerializer, SkuSerializer
from shops.eligibility import product_eligibility
from shops.models import Product


class MerchantOrderSerializer(serializers.ModelSerializer):
    """A recipient order as the shipping merchant sees it: the full address, only here."""

    gift_id = serializers.IntegerField(read_only=True)
    shop = serializers.IntegerField(source="gift.shop_id", read_only=True)
    product = serializers.CharField(source="sku.product.title", read_only=True)
    sku = SkuSerializer(read_only=True)
    quantity = serializers.IntegerField(source="gift.quantity", read_only=True)
    blessing = serializers.SerializerMethodField()
    address = serializers.SerializerMethodField()
    shipment = serializers.SerializerMethodField()

    class Meta:
        model = Slot
        fields = [
            "id",
            "gift_id",
            "shop",
            "status",
            "product",
            "sku",
            "quantity",
            "blessing",
            "address",
            "shipment",
            "accepted_at",
            "shipped_at",
            "delivered_at",
        ]

    def get_blessing(self, slot) -> str | None:
        return slot.gift.message if slot.gift.shop.print_blessing_card else None

    @extend_schema_field(AddressSerializer(allow_null=True))
    def get_address(self, slot) -> dict | None:
        a = getattr(slot, "address", None)
        if a is None:
            return None
        return {
            "name": a.name,
            "phone": a.phone,
            "province": a.province,
            "city": a.city,
            "district": a.district,
            "detail": a.detail,
        }

    @extend_schema_field(ShipmentOutSerializer(allow_null=True))
    def get_shipment(self, slot) -> dict | None:
        s = getattr(slot, "shipment", None)
        if s is None:
            return None
        return {"carrier": s.carrier, "waybill_no": s.waybill_no, "status": s.status, "last_error": s.last_error}


class ShipSerializer(serializers.Serializer):
    carrier = serializers.CharField(max_length=40)
    tracking_no = serializers.CharField(max_length=64)


class RefundSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, default="", allow_blank=True)


class GiftingSwitchSerializer(serializers.Serializer):
    gifting_enabled = serializers.BooleanField()


class MerchantProductSerializer(serializers.ModelSerializer):
    """A product as its own shop's staff see it: on sale or not, every SKU with stock."""

    skus = SkuSerializer(many=True, read_only=True)
    category = serializers.CharField(source="category.__str__", read_only=True)
    gifting = serializers.SerializerMethodField()

    class Meta:
        model = Product
        fields = ["id", "title", "shop", "category", "on_sale", "gifting", "skus"]

    def get_gifting(self, product) -> EligibilitySerializer:
        e = product_eligibility(product, list(product.skus.all()))
        return {"eligible": e.eligible, "reasons": e.reasons}


class StockSerializer(serializers.Serializer):
    stock = serializers.IntegerField(min_value=0, max_value=10_000_000, help_text="units left to sell")

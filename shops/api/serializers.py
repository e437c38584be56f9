"""Shapes of the public catalogue API: products with their SKUs and gifting eligibility."""

from rest_framework import serializers

from shops.eligibility import product_eligibility
from shops.models import Product, Shop, Sku


class EligibilitySerializer(serializers.Serializer):
    eligible = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.CharField())


class SkuSerializer(serializers.ModelSerializer):
    label = serializers.CharField(read_only=True)

    class Meta:
        model = Sku
        fields = ["id", "attributes", "label", "price_fen", "original_price_fen", "stock"]


class ShopSerializer(serializers.ModelSerializer):
    class Meta:
        model = Shop
        fields = ["id", "name", "slug", "description", "gifting_enabled"]


class ProductListSerializer(serializers.ModelSerializer):
    shop_name = serializers.CharField(source="shop.name", read_only=True)
    gifting = serializers.SerializerMethodField()
    price_fen = serializers.SerializerMethodField()

    class Meta:
        model = Product
        fields = ["id", "title", "shop", "shop_name", "image", "price_fen", "gifting"]

    def get_gifting(self, product) -> EligibilitySerializer:
        e = product_eligibility(product, list(product.skus.all()))
        return {"eligible": e.eligible, "reasons": e.reasons}

    def get_price_fen(self, product) -> int | None:
        return product.from_price_fen


class ProductDetailSerializer(ProductListSerializer):
    skus = SkuSerializer(many=True, read_only=True)
    category = serializers.CharField(source="category.__str__", read_only=True)

    class Meta(ProductListSerializer.Meta):
        fields = ProductListSerializer.Meta.fields + ["description", "category", "on_sale", "skus"]

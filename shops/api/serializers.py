"""Shapes of the public catalogue API: products with their SKUs and gifting eligibility."""

from rest_framework import serializers

from shops.eligibility import product_eligibility
from shops.models import Product, Shop, Sku


def absolute_url(context: dict, url: str) -> str:
    request = context.get("request")
    return request.build_absolute_uri(url) if url and request is not None else (url or "")


def card_photos_absolute(request, card: dict) -> dict:
    """A gift card dict (claim, lottery, bulk) with its photo URLs made absolute, as the API gives them."""
    product = card.get("product")
    if product and product.get("image_url"):
        product["image_url"] = request.build_absolute_uri(product["image_url"])
    for sku in card.get("skus", []):
        if sku.get("image_url"):
            sku["image_url"] = request.build_absolute_uri(sku["image_url"])
    return card


class AbsoluteUrlField(serializers.CharField):
    """A URL made absolute against the request (a CDN's or a bucket's URL already is); "" stays ""."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        kwargs.setdefault("allow_blank", True)
        super().__init__(**kwargs)

    def to_representation(self, value) -> str:
        return absolute_url(self.context, value)


class EligibilitySerializer(serializers.Serializer):
    eligible = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.CharField())


class SkuSerializer(serializers.ModelSerializer):
    label = serializers.CharField(read_only=True)
    image_url = serializers.SerializerMethodField(
        help_text="this 款式's own small photo, else the product's; \"\" without one"
    )

    class Meta:
        model = Sku
        fields = ["id", "attributes", "label", "price_fen", "original_price_fen", "stock", "image_url"]

    def get_image_url(self, sku) -> str:
        url = sku["image_url"] if isinstance(sku, dict) else sku.thumb_url
        return absolute_url(self.context, url)


class ShopSerializer(serializers.ModelSerializer):
    class Meta:
        model = Shop
        fields = ["id", "name", "slug", "description", "gifting_enabled"]


class ProductListSerializer(serializers.ModelSerializer):
    shop_name = serializers.CharField(source="shop.name", read_only=True)
    gifting = serializers.SerializerMethodField()
    price_fen = serializers.SerializerMethodField()
    image = serializers.CharField(
        source="image.name", read_only=True, help_text='the photo\'s name in storage; "" without a photo'
    )
    image_url = AbsoluteUrlField(source="large_url", help_text="the photo, at most 960 px a side (JPEG)")
    thumbnail_url = AbsoluteUrlField(source="tile_url", help_text="the photo cut square, 480 px (JPEG)")

    class Meta:
        model = Product
        fields = ["id", "title", "shop", "shop_name", "image", "image_url", "thumbnail_url", "price_fen", "gifting"]

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

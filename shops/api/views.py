from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, permissions
from rest_framework.response import Response
from rest_framework.views import APIView

from giftshop.errors import AppError, NotFound, error_responses

from ..selectors import product_get, products_for_staff, products_on_sale, shops_for_staff, sku_get_for_staff
from ..services import shop_set_gifting, sku_set_stock
from .serializers import (
    GiftingSwitchSerializer,
    MerchantProductSerializer,
    ProductDetailSerializer,
    ProductListSerializer,
    ShopSerializer,
    SkuSerializer,
    StockSerializer,
)

SHOP_FILTER = OpenApiParameter("shop", OpenApiTypes.INT, description="only this shop's products")


def _shop_filter(request) -> int | None:
    """The optional `?shop=<id>` filter: digits only (no `²`, no sign), within a database id."""
    shop = request.query_params.get("shop")
    if shop in (None, ""):
        return None
    if not (shop.isascii() and shop.isdigit() and len(shop) <= 18):
        raise AppError("invalid", "shop must be an id", fields={"shop": ["must be an integer"]})
    return int(shop)


@extend_schema(parameters=[SHOP_FILTER])
class ProductList(generics.ListAPIView):
    """Products on sale, each saying whether it can be sent as a gift."""

    serializer_class = ProductListSerializer
    permission_classes = [permissions.AllowAny]

    def get_queryset(self):
        return products_on_sale(shop_id=_shop_filter(self.request))


class ProductDetail(APIView):
    """One product with its SKUs (款式) and gifting eligibility with every reason why not."""

    permission_classes = [permissions.AllowAny]

    @extend_schema(responses={200: ProductDetailSerializer, **error_responses(404)})
    def get(self, request, pk: int):
        return Response(ProductDetailSerializer(product_get(product_id=pk)).data)


# ----- merchant: only the shops the signed-in account works for -----


class MerchantShopList(generics.ListAPIView):
    """The shops the signed-in staff member works for."""

    serializer_class = ShopSerializer
    permission_classes = [permissions.IsAuthenticated]

    def get_queryset(self):
        return shops_for_staff(user=self.request.user).order_by("id")


class MerchantGiftingSwitch(APIView):
    """The one gifting switch of a shop (rule 4: no per-product switch). Another shop's id is a 404."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=GiftingSwitchSerializer, responses={200: ShopSerializer, **error_responses(404)})
    def post(self, request, pk: int):
        shop = shops_for_staff(user=request.user).filter(pk=pk).first()
        if shop is None:
            raise NotFound("店铺不存在")
        data = GiftingSwitchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(
            ShopSerializer(shop_set_gifting(shop=shop, enabled=data.validated_data["gifting_enabled"])).data
        )


@extend_schema(parameters=[SHOP_FILTER])
class MerchantProductList(generics.ListAPIView):
    """The products of your shops, on sale or not, with every SKU and its stock."""

    serializer_class = MerchantProductSerializer
    permission_classes = [permissions.IsAuthenticated]

    def get_queryset(self):
        return products_for_staff(user=self.request.user, shop_id=_shop_filter(self.request))


class MerchantSkuStock(APIView):
    """Set the stock of a SKU of your shop (a stocktake). Another shop's SKU is a 404."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=StockSerializer, responses={200: SkuSerializer, **error_responses(404)})
    def patch(self, request, pk: int):
        sku = sku_get_for_staff(user=request.user, sku_id=pk)
        data = StockSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(SkuSerializer(sku_set_stock(sku=sku, stock=data.validated_data["stock"])).data)

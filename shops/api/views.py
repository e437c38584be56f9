from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, permissions
from rest_framework.response import Response
from rest_framework.views import APIView

from giftshop.errors import AppError, NotFound

from ..selectors import product_get, products_on_sale, shops_for_staff
from ..services import shop_set_gifting
from .serializers import GiftingSwitchSerializer, ProductDetailSerializer, ProductListSerializer, ShopSerializer


@extend_schema(parameters=[OpenApiParameter("shop", OpenApiTypes.INT, description="only this shop's products")])
class ProductList(generics.ListAPIView):
    """Products on sale, each saying whether it can be sent as a gift."""

    serializer_class = ProductListSerializer
    permission_classes = [permissions.AllowAny]

    def get_queryset(self):
        shop = self.request.query_params.get("shop")
        if shop is not None and not shop.isdigit():
            raise AppError("invalid", "shop must be an id", fields={"shop": ["must be an integer"]})
        return products_on_sale(shop_id=int(shop) if shop else None)


class ProductDetail(APIView):
    """One product with its SKUs (款式) and gifting eligibility with every reason why not."""

    permission_classes = [permissions.AllowAny]

    @extend_schema(responses=ProductDetailSerializer)
    def get(self, request, pk: int):
        return Response(ProductDetailSerializer(product_get(product_id=pk)).data)


class MerchantShopList(generics.ListAPIView):
    """The shops the signed-in staff member works for."""

    serializer_class = ShopSerializer
    permission_classes = [permissions.IsAuthenticated]

    def get_queryset(self):
        return shops_for_staff(user=self.request.user).order_by("id")


class MerchantGiftingSwitch(APIView):
    """The one gifting switch of a shop (rule 4: no per-product switch)."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=GiftingSwitchSerializer, responses=ShopSerializer)
    def post(self, request, pk: int):
        shop = shops_for_staff(user=request.user).filter(pk=pk).first()
        if shop is None:
            raise NotFound("店铺不存在")
        data = GiftingSwitchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(
            ShopSerializer(shop_set_gifting(shop=shop, enabled=data.validated_data["gifting_enabled"])).data
        )

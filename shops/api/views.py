"""The public catalogue's REST endpoints (products on sale, one product with its eligibility)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, permissions
from rest_framework.response import Response
from rest_framework.views import APIView

from giftshop.errors import AppError, error_responses
from shops import error_codes as E
from shops.api.serializers import (
    ProductDetailSerializer,
    ProductListSerializer,
)
from shops.selectors import product_get, products_on_sale

SHOP_FILTER = OpenApiParameter("shop", OpenApiTypes.INT, description="only this shop's products")


def shop_filter(request) -> int | None:
    """The optional `?shop=<id>` filter: digits only (no `²`, no sign), within a database id."""
    shop = request.query_params.get("shop")
    if shop in (None, ""):
        return None
    if not (shop.isascii() and shop.isdigit() and len(shop) <= 18):
        raise AppError(E.INVALID, "shop must be an id", fields={"shop": ["must be an integer"]})
    return int(shop)


@extend_schema(parameters=[SHOP_FILTER])
class ProductList(generics.ListAPIView):
    """Products on sale, each saying whether it can be sent as a gift."""

    serializer_class = ProductListSerializer
    permission_classes = [permissions.AllowAny]

    def get_queryset(self):
        return products_on_sale(shop_id=shop_filter(self.request))


class ProductDetail(APIView):
    """One product with its SKUs (款式) and gifting eligibility with every reason why not."""

    permission_classes = [permissions.AllowAny]

    @extend_schema(responses={200: ProductDetailSerializer, **error_responses(404)})
    def get(self, request, pk: int):
        return Response(ProductDetailSerializer(product_get(product_id=pk), context={"request": request}).data)


# ----- merchant: only the shops the signed-in account works for -----

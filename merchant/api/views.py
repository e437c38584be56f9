"""The merchant's REST endpoints, each scoped to the shops the user works for."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from fulfilment.selectors import merchant_slot_get, merchant_slots
from fulfilment.services import shipments as fulfilment
from gifts.api.views import NewestFirst
from gifts.models import SlotStatus
from giftshop.errors import AppError, NotFound, error_responses
from merchant.api.serializers import (
    GiftingSwitchSerializer,
    MerchantOrderSerializer,
    MerchantProductSerializer,
    RefundSerializer,
    ShipSerializer,
    StockSerializer,
)
from privacy.models import PiiAccessLog
from privacy.services import pii_access_record
from shops import error_codes as E
from shops.api.serializers import ShopSerializer, SkuSerializer
from shops.api.views import SHOP_FILTER, shop_filter
from shops.selectors import products_for_staff, shops_for_staff, sku_get_for_staff
from shops.services import shop_set_gifting, sku_set_stock


class MerchantOrders(generics.ListAPIView):
    """The shop's recipient orders, newest first, cursor-paginated. The full address appears only here."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = MerchantOrderSerializer
    pagination_class = NewestFirst

    @extend_schema(parameters=[OpenApiParameter("status", OpenApiTypes.STR, enum=SlotStatus.values)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        pii_access_record(user=self.request.user, slots=page, channel=PiiAccessLog.Channel.API)
        return page

    def get_queryset(self):
        status_filter = self.request.query_params.get("status") or None
        if status_filter and status_filter not in SlotStatus.values:
            raise AppError(E.INVALID, "unknown status", fields={"status": [f"one of {', '.join(SlotStatus.values)}"]})
        return merchant_slots(user=self.request.user, status=status_filter)


class MerchantShip(APIView):
    """Manual shipping with the merchant's own courier and tracking number."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=ShipSerializer, responses={200: MerchantOrderSerializer, **error_responses(404, 409)})
    def post(self, request, pk: int):
        data = ShipSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        slot = merchant_slot_get(user=request.user, slot_id=pk)
        fulfilment.slot_ship_manually(
            slot=slot,
            carrier_name=data.validated_data["carrier"],
            tracking_no=data.validated_data["tracking_no"],
            actor=request.user,
        )
        return Response(MerchantOrderSerializer(merchant_slot_get(user=request.user, slot_id=pk)).data)


class MerchantRefund(APIView):
    """After-sales refund of one recipient order; the money goes back to the sender."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=RefundSerializer, responses={202: MerchantOrderSerializer, **error_responses(404, 409)})
    def post(self, request, pk: int):
        data = RefundSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        slot = merchant_slot_get(user=request.user, slot_id=pk)
        fulfilment.slot_refund_after_sales(slot=slot, actor=request.user, reason=data.validated_data["reason"])
        return Response(
            MerchantOrderSerializer(merchant_slot_get(user=request.user, slot_id=pk)).data,
            status=status.HTTP_202_ACCEPTED,
        )


class MerchantShopList(generics.ListAPIView):
    """The shops the signed-in staff member works for."""

    serializer_class = ShopSerializer
    permission_classes = [permissions.IsAuthenticated]

    def get_queryset(self):
        return shops_for_staff(user=self.request.user).order_by("id")


class MerchantGiftingSwitch(APIView):
    """The one gifting switch of a shop (rule 4: no per-product switch). Another shop's id is a 404."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=GiftingSwitchSerializer, responses={200: ShopSerializer, **error_responses(403, 404)})
    def post(self, request, pk: int):
        shop = shops_for_staff(user=request.user).filter(pk=pk).first()
        if shop is None:
            raise NotFound("店铺不存在")
        data = GiftingSwitchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(
            ShopSerializer(
                shop_set_gifting(shop=shop, enabled=data.validated_data["gifting_enabled"], actor=request.user)
            ).data
        )


@extend_schema(parameters=[SHOP_FILTER])
class MerchantProductList(generics.ListAPIView):
    """The products of your shops, on sale or not, with every SKU and its stock."""

    serializer_class = MerchantProductSerializer
    permission_classes = [permissions.IsAuthenticated]

    def get_queryset(self):
        return products_for_staff(user=self.request.user, shop_id=shop_filter(self.request))


class MerchantSkuStock(APIView):
    """Set the stock of a SKU of your shop (a stocktake). Another shop's SKU is a 404."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=StockSerializer, responses={200: SkuSerializer, **error_responses(403, 404)})
    def patch(self, request, pk: int):
        sku = sku_get_for_staff(user=request.user, sku_id=pk)
        data = StockSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(
            SkuSerializer(sku_set_stock(sku=sku, stock=data.validated_data["stock"], actor=request.user)).data
        )

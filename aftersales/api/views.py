"""After-sales endpoints: the recipient opens and follows a request; the shop answers it.
Each view parses input, calls one service and answers with the request."""

from __future__ import annotations

import base64
import binascii

from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from aftersales import error_codes as E
from aftersales import services
from aftersales.models import AfterSalesRequest
from aftersales.selectors import (
    after_sales_for_recipient,
    after_sales_for_staff,
    after_sales_get_for_staff,
    after_sales_photo_get,
)
from gifts.api.views import NewestFirst
from gifts.selectors import slot_get_for_recipient
from giftshop.errors import AppError, error_responses

from .serializers import (
    AfterSalesCreateSerializer,
    AfterSalesSerializer,
    MerchantAfterSalesSerializer,
    RefuseSerializer,
    ReturnShipmentSerializer,
)

R = AfterSalesRequest


def _uploads(request) -> list:
    """The photos, sent as base64 strings (optionally data: URLs) in the JSON body, as files."""
    decoded = []
    for i, item in enumerate(request.data.get("photos") or [] if hasattr(request.data, "get") else []):
        if not isinstance(item, str):
            raise AppError(E.BAD_PHOTO, "photos must be base64 strings", fields={"photos": [_("不是可用的图片")]})
        try:
            data = base64.b64decode(item.split(",", 1)[-1], validate=True)
        except (binascii.Error, ValueError):
            raise AppError(
                E.BAD_PHOTO, "photos must be base64 strings", fields={"photos": [_("不是可用的图片")]}
            ) from None
        decoded.append(SimpleUploadedFile(f"photo-{i}", data))
    return decoded


class ReceivedAfterSales(APIView):
    """The recipient's after-sales requests on one parcel, and opening a new one."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={200: AfterSalesSerializer(many=True), **error_responses(404)})
    def get(self, request, slot_id: int):
        slot_get_for_recipient(slot_id=slot_id, user=request.user)
        requests = after_sales_for_recipient(slot_id=slot_id, user=request.user).select_related("shop")
        return Response(AfterSalesSerializer(requests, many=True, context={"recipient": True}).data)

    @extend_schema(
        request=AfterSalesCreateSerializer,
        responses={201: AfterSalesSerializer, **error_responses(404, 409)},
    )
    def post(self, request, slot_id: int):
        uploads = _uploads(request)
        fields = request.data  # a JSON body may be any value: the serializer refuses a non-object with a 400
        if hasattr(fields, "items"):
            fields = {k: v for k, v in fields.items() if k != "photos"}
        data = AfterSalesCreateSerializer(data=fields)
        data.is_valid(raise_exception=True)
        created = services.after_sales_open(
            slot_id=slot_id,
            user=request.user,
            kind=data.validated_data["kind"],
            reason=data.validated_data["reason"],
            detail=data.validated_data["detail"],
            photos=services.photos_check(uploads),
        )
        return Response(AfterSalesSerializer(created, context={"recipient": True}).data, status=status.HTTP_201_CREATED)


class ReceivedReturnShipment(APIView):
    """The recipient sent the parcel back: the return waybill (for an approved return)."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=ReturnShipmentSerializer, responses={200: AfterSalesSerializer, **error_responses(404, 409)})
    def post(self, request, slot_id: int):
        data = ReturnShipmentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        slot_get_for_recipient(slot_id=slot_id, user=request.user)
        updated = services.after_sales_return_shipment(slot_id=slot_id, user=request.user, **data.validated_data)
        return Response(AfterSalesSerializer(updated, context={"recipient": True}).data)


class AfterSalesPhotoView(APIView):
    """A request's photo: for the recipient who sent it and the shop's staff (token or session);
    anyone else gets 404."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={(200, "image/*"): OpenApiTypes.BINARY, **error_responses(404)})
    def get(self, request, pk: int):
        picture = after_sales_photo_get(photo_id=pk, user=request.user)
        with picture.image.open("rb") as handle:
            response = HttpResponse(handle.read(), content_type=picture.content_type)
        response["Cache-Control"] = "private, max-age=3600"
        return response


class MerchantAfterSalesList(generics.ListAPIView):
    """The shop's after-sales requests, newest first, cursor-paginated."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = MerchantAfterSalesSerializer
    pagination_class = NewestFirst

    @extend_schema(parameters=[OpenApiParameter("status", OpenApiTypes.STR, enum=R.Status.values)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        wanted = self.request.query_params.get("status") or None
        if wanted and wanted not in R.Status.values:
            raise AppError(E.INVALID, "unknown status", fields={"status": [f"one of {', '.join(R.Status.values)}"]})
        return after_sales_for_staff(user=self.request.user, status=wanted)


class _MerchantStep(APIView):
    permission_classes = [permissions.IsAuthenticated]

    def answer(self, request, pk: int, step, **kwargs) -> Response:
        after_sales_get_for_staff(user=request.user, request_id=pk)  # another shop's: 404
        step(request_id=pk, actor=request.user, **kwargs)
        return Response(MerchantAfterSalesSerializer(after_sales_get_for_staff(user=request.user, request_id=pk)).data)


class MerchantAfterSalesApprove(_MerchantStep):
    """Approve (owner or manager). A refund-only request refunds the sender at once."""

    @extend_schema(request=None, responses={200: MerchantAfterSalesSerializer, **error_responses(403, 404, 409)})
    def post(self, request, pk: int):
        return self.answer(request, pk, services.after_sales_approve)


class MerchantAfterSalesRefuse(_MerchantStep):
    """Refuse with a reason the recipient sees (owner or manager)."""

    @extend_schema(
        request=RefuseSerializer, responses={200: MerchantAfterSalesSerializer, **error_responses(403, 404, 409)}
    )
    def post(self, request, pk: int):
        data = RefuseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self.answer(request, pk, services.after_sales_refuse, reason=data.validated_data["reason"])


class MerchantAfterSalesReceive(_MerchantStep):
    """The returned parcel arrived (owner or manager): the sender is refunded."""

    @extend_schema(request=None, responses={200: MerchantAfterSalesSerializer, **error_responses(403, 404, 409)})
    def post(self, request, pk: int):
        return self.answer(request, pk, services.after_sales_receive)

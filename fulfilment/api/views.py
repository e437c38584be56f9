"""The courier's signed tracking notifications: verified, applied once, answered as the courier expects."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import permissions
from rest_framework.response import Response
from rest_framework.views import APIView

from fulfilment.services import shipments as fulfilment
from giftshop.errors import WebhookAck, error_responses


class CarrierNotify(APIView):
    """The sandbox courier's signed tracking updates. Idempotent. 404 unless the sandbox is enabled
    on this site."""

    carrier = "sandbox"
    authentication_classes = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: WebhookAck, **error_responses(400, 401, 404, 409)})
    def post(self, request):
        outcome = fulfilment.tracking_notification_handle(
            carrier_name=self.carrier, body=request.body, headers=request.headers
        )
        return Response({"code": "SUCCESS", "message": outcome})

"""The gateway's signed payment and refund notifications: verified, applied once, answered as it expects."""

from __future__ import annotations

import logging

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import permissions
from rest_framework.response import Response
from rest_framework.views import APIView

from giftshop.errors import WebhookAck, error_responses
from payments import services as payment

log = logging.getLogger(__name__)


class PaymentNotify(APIView):
    """The sandbox gateway's signed payment and refund notifications. Idempotent. 404 unless the
    sandbox is enabled on this site."""

    provider = "sandbox"
    authentication_classes = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: WebhookAck, **error_responses(400, 401, 404, 409)})
    def post(self, request):
        outcome = payment.payment_notification_handle(
            provider=self.provider, body=request.body, headers=request.headers
        )
        log.info("payment notification handled: %s", outcome)
        return Response({"code": "SUCCESS", "message": outcome})

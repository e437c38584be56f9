"""The courier's signed tracking notifications: verified, applied once, answered as the courier expects."""

from __future__ import annotations

import logging

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from fulfilment.carriers import carrier
from fulfilment.services import shipments as fulfilment
from giftshop.errors import AppError, WebhookAck, error_responses

log = logging.getLogger(__name__)


class CarrierNotify(APIView):
    """The sandbox courier's signed tracking updates, each naming its parcel (`reference`: the key
    its waybill was requested with). Idempotent. 404 for a parcel that is not ours or no longer
    carries the waybill, and unless the sandbox is enabled on this site."""

    carrier = "sandbox"
    authentication_classes = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: WebhookAck, **error_responses(400, 401, 404, 409)})
    def post(self, request):
        outcome = fulfilment.tracking_notification_handle(
            carrier_name=self.carrier, body=request.body, headers=request.headers, query=request.GET
        )
        return Response({"code": "SUCCESS", "message": outcome})


class CarrierAnswer(serializers.Serializer):
    """What Kuaidi100 expects back from its push (schema only)."""

    result = serializers.BooleanField(help_text="`false`: Kuaidi100 pushes again later")
    returnCode = serializers.CharField(help_text="`200` taken; `500` refused")  # noqa: N815 (Kuaidi100's name)
    message = serializers.CharField()


class CarrierGatewayNotify(APIView):
    """A real courier's tracking push (Kuaidi100), in its own wire format, answered the way it
    expects: its success answer once applied (or already applied, or for a waybill that is not
    ours), its failure answer for anything forged or malformed; never a 5xx. 404 unless the
    carrier is enabled on this site."""

    carrier = ""
    authentication_classes = []
    permission_classes = [permissions.AllowAny]
    parser_classes = []  # the raw form is what the signature covers

    @extend_schema(
        request=None,
        responses={
            200: OpenApiResponse(CarrierAnswer, description="Taken (`result: true`) or refused (`result: false`)."),
            **error_responses(404),
        },
        description="The courier's own protocol: an `application/x-www-form-urlencoded` form with `param` "
        "(Kuaidi100's tracking JSON) and `sign` (MD5 of param + the parcel's salt), posted to the URL our "
        "subscription gave (`?ref=slot-<id>`: the parcel); not JSON of ours.",
    )
    def post(self, request):
        courier = carrier(self.carrier)  # NotFound (404) when it is not enabled here
        try:
            outcome = fulfilment.tracking_notification_handle(
                carrier_name=self.carrier,
                body=request.body,
                headers=request.headers,
                query=request.GET,
                ignore_unknown=True,
            )
        except AppError as exc:
            log.warning("%s tracking push refused: %s", self.carrier, exc.code)
            return courier.notification_answer(ok=False, detail=exc.code)
        log.info("%s tracking push handled: %s", self.carrier, outcome)
        return courier.notification_answer(ok=True, detail=outcome)

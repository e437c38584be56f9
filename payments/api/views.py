"""The gateway's signed payment and refund notifications: verified, applied once, answered as it expects."""

from __future__ import annotations

import logging

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from giftshop.client_ip import client_ip
from giftshop.errors import AppError, ProviderUnavailable, WebhookAck, error_responses
from payments import services as payment
from payments.providers import CHANNEL_DESKTOP, CHANNEL_PHONE, CHANNEL_WECHAT, payment_provider
from payments.selectors import payment_get_for_sender

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


class GatewayFailure(serializers.Serializer):
    """What WeChat Pay expects with a failure status (schema only)."""

    code = serializers.CharField(help_text="`FAIL`")
    message = serializers.CharField()


class GatewayNotify(APIView):
    """A real gateway's payment and refund notifications (WeChat Pay, Alipay), in its own wire
    format, answered the way it expects: its success answer once applied (or already applied), its
    failure answer for anything forged, stale, for another merchant or of the wrong amount; never
    a 5xx for bad input. 404 unless the provider is enabled on this site."""

    provider = ""
    authentication_classes = []
    permission_classes = [permissions.AllowAny]
    parser_classes = []  # the raw body is what the signature covers

    @extend_schema(
        request={"application/json": OpenApiTypes.OBJECT, "application/x-www-form-urlencoded": OpenApiTypes.OBJECT},
        responses={
            204: OpenApiResponse(description="WeChat Pay: taken (applied now or before)."),
            (200, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="Alipay: `success` or `fail`."),
            **{
                code: OpenApiResponse(GatewayFailure, description=text)
                for code, text in (
                    (400, 'WeChat Pay: malformed, unknown order, wrong merchant or amount (`{"code": "FAIL"}`).'),
                    (401, "WeChat Pay: the signature does not verify, or the notice is stale."),
                )
            },
            **error_responses(404),
        },
        description="The provider's own protocol (signature headers or fields, encrypted resource); not JSON of ours.",
    )
    def post(self, request):
        gateway = payment_provider(self.provider)  # NotFound (404) when it is not enabled here
        try:
            outcome = payment.payment_notification_handle(
                provider=self.provider, body=request.body, headers=request.headers
            )
        except AppError as exc:
            log.warning("%s notification refused: %s", self.provider, exc.code)
            status = 401 if exc.status_code == 401 else 400  # the gateway retries on any failure status
            return gateway.notification_answer(ok=False, detail=exc.code, status=status)
        log.info("%s notification handled: %s", self.provider, outcome)
        return gateway.notification_answer(ok=True, detail=outcome)


class CheckoutIn(serializers.Serializer):
    provider = serializers.ChoiceField(choices=["wechatpay", "alipay"])
    channel = serializers.ChoiceField(
        choices=[CHANNEL_WECHAT, CHANNEL_PHONE, CHANNEL_DESKTOP],
        help_text="`wechat`: JSAPI (give `openid`); `phone`: H5 / WAP pay; `desktop`: a QR code or page pay",
    )
    openid = serializers.CharField(required=False, allow_blank=True, max_length=128)


class CheckoutOut(serializers.Serializer):
    provider = serializers.CharField()
    kind = serializers.ChoiceField(choices=["redirect", "qr", "jsapi"])
    url = serializers.CharField(help_text="`redirect`: open it; `qr`: draw it as a QR code")
    params = serializers.DictField(allow_null=True, help_text="`jsapi`: what WeChat's pay sheet takes, signed")


class PaymentCheckout(APIView):
    """For native clients: start paying one's own unpaid order with the chosen gateway, in the way
    that fits the device; the answer carries what the client shows or invokes."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=CheckoutIn, responses={200: CheckoutOut, **error_responses(404, 409, 503)})
    def post(self, request, out_trade_no: str):
        data = CheckoutIn(data=request.data)
        data.is_valid(raise_exception=True)
        order = payment_get_for_sender(out_trade_no=out_trade_no, user=request.user)
        try:
            checkout = payment.payment_checkout(
                payment=order,
                provider=data.validated_data["provider"],
                channel=data.validated_data["channel"],
                client_ip=client_ip(request),
                openid=data.validated_data.get("openid", ""),
            )
        except ProviderUnavailable as exc:
            raise AppError("provider_unavailable", "支付网关暂时没有响应，请稍后重试") from exc
        return Response(
            {"provider": order.provider, "kind": checkout.kind, "url": checkout.url, "params": checkout.params}
        )

"""Phone sign-in for API clients: ask for a code, then trade it for the account's API token."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.services import codes
from accounts.web import client_ip
from giftshop.errors import ErrorSerializer, error_responses


class PhoneIn(serializers.Serializer):
    phone = serializers.CharField(max_length=20, help_text="mainland mobile number, 11 digits (e.g. 13812345678)")


class PhoneCodeIn(PhoneIn):
    code = serializers.CharField(max_length=12, help_text="the 6-digit code sent by SMS")


CodeSent = inline_serializer(
    "PhoneCodeSent", {"retry_after": serializers.IntegerField(help_text="seconds before a new code may be asked")}
)
PhoneToken = inline_serializer(
    "PhoneToken",
    {
        "token": serializers.CharField(help_text="send as `Authorization: Token <token>`"),
        "created": serializers.BooleanField(help_text="true when this code created the account"),
    },
)


class PhoneCode(APIView):
    """Send a one-time code by SMS. 400 `bad_phone`; 429 `throttled` (resend too soon, or per-number /
    per-IP limits) with `Retry-After`. The code is valid 5 minutes."""

    permission_classes = [permissions.AllowAny]
    authentication_classes = []

    @extend_schema(
        request=PhoneIn,
        responses={
            202: CodeSent,
            400: OpenApiResponse(ErrorSerializer, description="`bad_phone`: not a mainland mobile number"),
            **error_responses(429),
        },
    )
    def post(self, request):
        data = PhoneIn(data=request.data)
        data.is_valid(raise_exception=True)
        sent = codes.code_request(phone=data.validated_data["phone"], ip=client_ip(request))
        return Response({"retry_after": sent.retry_after}, status=status.HTTP_202_ACCEPTED)


class PhoneLogin(APIView):
    """Trade a code for the account's API token; the first valid code creates the account.
    400 `bad_code` (wrong) or `code_expired` (expired, used, or none asked); 429 `throttled` after too
    many wrong tries, with `Retry-After`."""

    permission_classes = [permissions.AllowAny]
    authentication_classes = []

    @extend_schema(
        request=PhoneCodeIn,
        responses={
            200: PhoneToken,
            400: OpenApiResponse(
                ErrorSerializer, description="`bad_phone`, `bad_code` (wrong code) or `code_expired` (expired or used)"
            ),
            **error_responses(429),
        },
    )
    def post(self, request):
        data = PhoneCodeIn(data=request.data)
        data.is_valid(raise_exception=True)
        user, created = codes.code_verify(
            phone=data.validated_data["phone"], code=data.validated_data["code"], ip=client_ip(request)
        )
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key, "created": created})

"""Account sign-up and token sign-in for API clients (giftshop/token_auth.py checks the token)."""

from django.contrib.auth import authenticate, get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.response import Response
from rest_framework.views import APIView

from giftshop.errors import AppError, error_responses
from giftshop.throttling import CountedAnonRateThrottle
from giftshop.token_auth import CachedTokenAuthentication

# The sign-up and token endpoints' refusals (their HTTP statuses: giftshop/errors.py).
USERNAME_TAKEN, WEAK_PASSWORD, BAD_CREDENTIALS = "username_taken", "weak_password", "bad_credentials"


class AuthThrottle(CountedAnonRateThrottle):
    """Sign-up and sign-in, per client IP (these views never authenticate, so every caller is anonymous)."""

    scope = "auth"


class Credentials(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]{3,150}\Z", max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


TokenOut = inline_serializer("Token", {"token": serializers.CharField()})


class Register(APIView):
    """Create an account and get its API token. 409 `username_taken`; 400 `weak_password`. Throttled per IP."""

    permission_classes = [permissions.AllowAny]
    authentication_classes = []
    throttle_classes = [AuthThrottle]

    @extend_schema(request=Credentials, responses={201: TokenOut, **error_responses(409, 429)})
    def post(self, request):
        data = Credentials(data=request.data)
        data.is_valid(raise_exception=True)
        username, password = data.validated_data["username"], data.validated_data["password"]
        User = get_user_model()
        taken = AppError(
            USERNAME_TAKEN, gettext("这个用户名已被注册"), fields={"username": [gettext("这个用户名已被注册")]}
        )
        if User.objects.filter(username__iexact=username).exists():
            raise taken
        try:
            password_validation.validate_password(password, User(username=username))
        except ValidationError as exc:
            raise AppError(WEAK_PASSWORD, gettext("密码太简单"), fields={"password": list(exc.messages)}) from exc
        try:
            with transaction.atomic():
                user = User.objects.create_user(username=username, password=password)
        except IntegrityError as exc:  # the same name registered a moment ago
            raise taken from exc
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key}, status=status.HTTP_201_CREATED)


class ObtainToken(APIView):
    """Sign in: the token of an existing account (send it as `Authorization: Token <token>`). Throttled per IP.
    DELETE with the token signs out: the token stops working at once (the account's one token, so every
    app signed in with it is signed out); the next sign-in gets a new one."""

    throttle_classes = [AuthThrottle]

    def _signing_out(self) -> bool:
        return getattr(self.request, "method", None) == "DELETE"

    def get_authenticators(self):
        return [CachedTokenAuthentication()] if self._signing_out() else []

    def get_permissions(self):
        return [permissions.IsAuthenticated()] if self._signing_out() else [permissions.AllowAny()]

    def get_throttles(self):
        return [] if self._signing_out() else super().get_throttles()

    @extend_schema(
        description="Sign in: the token of an existing account (send it as `Authorization: Token <token>`). "
        "Throttled per IP.",
        request=Credentials,
        responses={200: TokenOut, **error_responses(429)},
    )
    def post(self, request):
        data = Credentials(data=request.data)
        data.is_valid(raise_exception=True)
        # The Django request (not DRF's wrapper): django-axes marks a locked-out client on it.
        user = authenticate(request._request, **data.validated_data)
        if user is None:
            raise AppError(BAD_CREDENTIALS, gettext("用户名或密码不正确"))
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})

    @extend_schema(
        description="Sign out: the token sent stops working at once. An account has one token, so every app "
        "signed in with it is signed out; the next sign-in gets a new one.",
        request=None,
        responses={204: None, **error_responses(401)},
    )
    def delete(self, request):
        Token.objects.filter(key=request.auth.key).delete()  # its cache entries go with it (token_forget)
        return Response(status=status.HTTP_204_NO_CONTENT)

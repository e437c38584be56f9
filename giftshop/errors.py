"""The application error type and the API exception handler: one error body for every 4xx."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

# Every refusal's HTTP status, in this one place: services raise a code (each app lists its codes in
# its error_codes.py) and know nothing of HTTP; the API's exception handler and the pages' error
# middleware answer with the status found here. A code not listed is a 400.
HTTP_STATUS: dict[str, int] = {
    # missing, or not yours (they fail alike)
    "not_found": 404,
    "unknown_order": 404,
    "unknown_waybill": 404,
    "not_drivable": 404,
    # a webhook whose signature does not verify
    "bad_signature": 401,
    # someone else's gift, or not allowed to this person or role
    "not_yours": 403,
    "not_invited": 403,
    "not_a_winner": 403,
    "code_required": 403,
    "role_not_allowed": 403,
    # too late
    "expired": 410,
    # too often
    "too_soon": 429,
    "too_many_attempts": 429,
    "throttled": 429,
    # conflicts with the current state of the row
    "illegal_transition": 409,
    "all_taken": 409,
    "already_taken_by_you": 409,
    "taken_by_other": 409,
    "already_accepted": 409,
    "already_declined": 409,
    "not_claimable": 409,
    "lottery_closed": 409,
    "list_not_ready": 409,
    "not_shippable": 409,
    "not_refundable": 409,
    "refund_pending": 409,
    "duplicate_tracking": 409,
    "no_waybill": 409,
    "not_handed_over": 409,
    "waybill_cancelled": 409,
    "already_collected": 409,
    "username_taken": 409,
    "order_closed": 409,
    "refund_refused": 409,
    "refund_exceeds_payment": 409,
    "provider_not_configured": 409,
    "not_payable": 409,
    "after_sales_open": 409,
    "after_sales_window_closed": 409,
    "not_eligible": 409,
    "nothing_to_withdraw": 409,
    "bad_oauth": 400,
    # a payment gateway is not answering now
    "provider_unavailable": 503,
    # a payment gateway refused what we asked
    "provider_refused": 502,
}


class AppError(Exception):
    """A business rule said no. `code` is stable and machine-readable; `detail` is for people."""

    def __init__(self, code: str, detail: str = "", *, fields: dict | None = None):
        super().__init__(detail or code)
        self.code = code
        self.detail = detail or code
        self.fields = fields

    @property
    def message(self) -> str:
        """One line for a page's flash message: the field messages joined, else the detail."""
        return "；".join(sum((self.fields or {}).values(), [])) or str(self.detail)

    @property
    def status_code(self) -> int:
        return HTTP_STATUS.get(self.code, status.HTTP_400_BAD_REQUEST)

    def as_dict(self) -> dict:
        body = {"code": self.code, "detail": str(self.detail)}
        if self.fields:
            body["fields"] = self.fields
        return body


class Throttled(AppError):
    """Too many requests: answered 429 with `Retry-After` (seconds) by the API and by pages."""

    def __init__(self, detail: str = "", *, retry_after: int, fields: dict | None = None):
        super().__init__("throttled", detail, fields=fields)
        self.retry_after = max(1, int(retry_after))


class ProviderUnavailable(Exception):
    """An outside service (gateway, courier, SMS) failed for now (timeout, 5xx): worth retrying with backoff."""


class NotFound(AppError):
    def __init__(self, detail: str = "Not found."):
        super().__init__("not_found", detail)


def _flatten(detail, prefix: str = "") -> dict:
    """Validation errors as {"field": [messages]}, nested fields dotted: {"address.phone": [...]}."""
    if not isinstance(detail, dict):
        detail = {"non_field_errors": detail}
    out: dict[str, list[str]] = {}
    for key, value in detail.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, prefix=f"{name}."))
        elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
            for i, item in enumerate(value):
                if item:
                    out.update(_flatten(item, prefix=f"{name}.{i}.") if isinstance(item, dict) else {name: [str(item)]})
        else:
            out[name] = [str(x) for x in (value if isinstance(value, list) else [value])]
    return out


def api_exception_handler(exc, context):
    if isinstance(exc, AppError):
        response = Response(exc.as_dict(), status=exc.status_code)
        if isinstance(exc, Throttled):
            response["Retry-After"] = str(exc.retry_after)
        # A coded refusal is an answer, not a fault: the access log has the request and its status,
        # and Django's "WARNING Conflict: …" line on top of it would flood a grab storm's logs.
        response._has_been_logged = True
        return response
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"code": "invalid", "detail": "Some fields are invalid.", "fields": _flatten(exc.detail)}
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        code = getattr(detail, "code", None) or exc.default_code
        response.data = {"code": str(code), "detail": str(detail)}
    return response


# ----- the error body in the OpenAPI schema -----


class WebhookAck(serializers.Serializer):
    """What our webhooks answer the provider that called them (schema only)."""

    code = serializers.CharField()
    message = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    """The one error body of every 4xx response (schema only)."""

    code = serializers.CharField(help_text="stable machine-readable code, e.g. `invalid`, `not_found`, `all_taken`")
    detail = serializers.CharField(help_text="a message for people")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="per-field messages; only on validation errors",
    )


ERROR_DESCRIPTIONS = {
    400: "Invalid input (`invalid`, `parse_error`) or a business rule refused it (see `code`).",
    401: "Missing or invalid credentials (`not_authenticated`, `authentication_failed`, `bad_signature`).",
    403: "Not allowed (`permission_denied`, `not_yours`).",
    404: "Not found, or not yours (`not_found`).",
    405: "Method not allowed (`method_not_allowed`).",
    409: "Conflicts with the current state (see `code`).",
    410: "Gone: the gift expired (`expired`).",
    415: "Unsupported media type (`unsupported_media_type`); send JSON.",
    429: "Too many requests (`throttled`); retry after `Retry-After` seconds.",
    503: "An outside service (a payment gateway) is not answering now (`provider_unavailable`); try again.",
}


def error_responses(*codes: int) -> dict:
    """`extend_schema(responses={..., **error_responses(404, 409)})`: documented error bodies."""
    from drf_spectacular.utils import OpenApiResponse

    return {c: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[c]) for c in codes}


_UNSAFE = {"post", "put", "patch", "delete"}


def schema_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: give every operation the errors the framework itself can return.

    Views declare their business errors (`error_responses(409)`); this adds what any endpoint of that shape
    can answer: 400 for input, 401 for a bad token, 403 for a session without CSRF, 404 for missing ids and
    bad cursors, 415 for a non-JSON body, and the `Retry-After` header on every 429.
    """
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    if "Error" not in schemas:
        schemas["Error"] = {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "detail": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
            },
            "required": ["code", "detail"],
        }
    error_ref = {"$ref": "#/components/schemas/Error"}
    for path, operations in result.get("paths", {}).items():
        for method, op in operations.items():
            if method not in _UNSAFE | {"get", "head", "options"}:
                continue
            schemes = {name for requirement in op.get("security", [{}]) for name in requirement}
            params = op.get("parameters", [])
            codes = set()
            if "requestBody" in op or any(p.get("in") == "query" for p in params):
                codes.add(400)
            if "requestBody" in op:
                codes.add(415)
            if "tokenAuth" in schemes:
                codes.add(401)
            if "cookieAuth" in schemes and method in _UNSAFE:
                codes.add(403)
            if "{" in path or any(p.get("name") in ("cursor", "page") for p in params):
                codes.add(404)
            responses = op.setdefault("responses", {})
            for code in sorted(codes):
                responses.setdefault(
                    str(code),
                    {"description": ERROR_DESCRIPTIONS[code], "content": {"application/json": {"schema": error_ref}}},
                )
            if "429" in responses:
                responses["429"].setdefault("headers", {})["Retry-After"] = {
                    "schema": {"type": "integer"},
                    "description": "seconds to wait before trying again",
                }
            op["responses"] = dict(sorted(responses.items()))
    return result

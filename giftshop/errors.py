"""The application error type and the API exception handler: one error body for every 4xx."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class AppError(Exception):
    """A business rule said no. `code` is stable and machine-readable; `detail` is for people."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, code: str, detail: str = "", *, status_code: int | None = None, fields: dict | None = None):
        super().__init__(detail or code)
        self.code = code
        self.detail = detail or code
        self.fields = fields
        if status_code is not None:
            self.status_code = status_code

    def as_dict(self) -> dict:
        body = {"code": self.code, "detail": str(self.detail)}
        if self.fields:
            body["fields"] = self.fields
        return body


class NotFound(AppError):
    status_code = status.HTTP_404_NOT_FOUND

    def __init__(self, detail: str = "Not found."):
        super().__init__("not_found", detail)


class Conflict(AppError):
    status_code = status.HTTP_409_CONFLICT


def _flatten(detail) -> dict:
    if isinstance(detail, dict):
        return {k: [str(x) for x in (v if isinstance(v, list) else [v])] for k, v in detail.items()}
    return {"non_field_errors": [str(x) for x in (detail if isinstance(detail, list) else [detail])]}


def api_exception_handler(exc, context):
    if isinstance(exc, AppError):
        return Response(exc.as_dict(), status=exc.status_code)
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

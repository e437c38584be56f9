"""Log context: which request, task, gift and slot a log line belongs to.

One context variable holds the ids bound so far; a logging filter copies them onto every record, so
the JSON formatter (LOG_FORMAT=json) prints them as fields and the plain one can ignore them. The
request-id middleware opens a fresh context per request, the Celery signals one per task run; inside
either, a service calls `bind(gift_id=..., slot_id=...)` once it knows which gift it is working on.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid

_CONTEXT: contextvars.ContextVar[dict] = contextvars.ContextVar("giftshop_log_context", default={})  # noqa: B039
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Task arguments bound to the log context when a task starts (tasks take ids, see gifts/tasks.py).
_TASK_ID_ARGS = ("gift_id", "slot_id", "refund_id", "order_id", "notification_id", "job_id")

access_log = logging.getLogger("giftshop.request")


def bind(**ids) -> None:
    """Add ids to the current request's or task's log context (None values are ignored)."""
    _CONTEXT.set({**_CONTEXT.get(), **{k: v for k, v in ids.items() if v is not None}})


def current() -> dict:
    return dict(_CONTEXT.get())


def open_context(**ids) -> contextvars.Token:
    """Start a fresh context (a request or a task run); pass the token to `close_context`."""
    return _CONTEXT.set({k: v for k, v in ids.items() if v is not None})


def close_context(token: contextvars.Token) -> None:
    try:
        _CONTEXT.reset(token)
    except ValueError:  # reset from another context (a task finishing in a different thread)
        _CONTEXT.set({})


class ContextFilter(logging.Filter):
    """Copy the bound ids onto the record; attach to handlers so propagated records get them too."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _CONTEXT.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


# URL arguments that are secrets: a claim, lottery or bulk link's token is the gift itself.
_SECRET_URL_ARGS = {"token"}


def loggable_path(request) -> str:
    """The request's path with secret URL arguments replaced by their name (`/c/<token>/`), so no
    access line holds a claim link. Other arguments (ids, order numbers) stay as they were."""
    match = getattr(request, "resolver_match", None)
    path = request.path
    if match is None:
        return path
    for name, value in match.kwargs.items():
        if name in _SECRET_URL_ARGS and isinstance(value, str) and value:
            path = path.replace(value, f"<{name}>")
    return path


# The routes whose next path segment is a link's secret: claim, lottery and bulk links, page and API.
_SECRET_SEGMENT = re.compile(r"(/(?:c|l|b|api/v1/claims|api/v1/lotteries|api/v1/bulk-claims)/)[^/\s'\"?#]+")


def redact_paths(text: str) -> str:
    """Replace the token in any claim, lottery or bulk link path within text by `<token>`, matched or
    not (a mistyped link still holds most of the real one)."""
    return _SECRET_SEGMENT.sub(r"\1<token>", text)


class RedactLinksFilter(logging.Filter):
    """Django's own request loggers (django.request's "Not Found: /c/<token>/", django.security)
    write the raw path and attach the request, whose repr holds it too: the token comes out of both
    before any handler formats the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if request is not None and not isinstance(request, str):
            record.request = redact_paths(f"{getattr(request, 'method', '')} {getattr(request, 'path', '')}".strip())
        message = record.getMessage()
        redacted = redact_paths(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


class BrokerOutageFilter(logging.Filter):
    """Celery beat logs each schedule it could not send with the whole stack twice over (formatted into
    the message and attached as the exception): several KB a line, each time a schedule comes due
    while the broker is down. When what failed is the connection to the broker, the line keeps the
    error and loses the stacks; any other failure is logged as beat logs it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name != "celery.beat" or not record.exc_info or not str(record.msg).startswith("Message Error"):
            return True
        from kombu.exceptions import OperationalError

        exc = record.exc_info[1]
        cause = exc.__cause__ or exc.__context__ if exc is not None else None
        if isinstance(exc, OSError | OperationalError) or isinstance(cause, OSError | OperationalError):
            record.msg, record.args = "Message Error: %s (the broker is unreachable)", (exc,)
            record.exc_info = record.exc_text = None
        return True


class RequestIdMiddleware:
    """Take the caller's X-Request-ID (or make one), bind it for the request's logs, echo it back,
    and write one access line per request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get("X-Request-ID", "")
        request_id = given if _SAFE_REQUEST_ID.match(given) else uuid.uuid4().hex
        request.request_id = request_id
        token = open_context(request_id=request_id)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            path = loggable_path(request)
            access_log.info(
                "%s %s %s",
                request.method,
                path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": path,
                    "status": response.status_code,
                    "duration_ms": round((time.monotonic() - started) * 1000, 1),
                },
            )
            return response
        finally:
            close_context(token)


# ----- Celery: one context per task run -----


def _task_ids(task, args, kwargs) -> dict:
    ids = {k: kwargs[k] for k in _TASK_ID_ARGS if k in kwargs}
    if args:
        try:
            import inspect

            names = list(inspect.signature(task.run).parameters)
        except (TypeError, ValueError):
            names = []
        ids.update({n: a for n, a in zip(names, args, strict=False) if n in _TASK_ID_ARGS})
    return ids


_TASK_TOKENS: dict[str, contextvars.Token] = {}


def task_context_open(sender=None, task_id=None, task=None, args=None, kwargs=None, **_) -> None:
    """Celery task_prerun: bind the task's name, id and the gift/slot ids among its arguments."""
    task = task or sender
    ids = _task_ids(task, args, kwargs or {}) if task is not None else {}
    # An eager task run inside a request keeps that request's id.
    parent = {"request_id": _CONTEXT.get()["request_id"]} if "request_id" in _CONTEXT.get() else {}
    _TASK_TOKENS[task_id] = open_context(**parent, task=getattr(task, "name", None), task_id=task_id, **ids)


def task_context_close(sender=None, task_id=None, **_) -> None:
    """Celery task_postrun."""
    token = _TASK_TOKENS.pop(task_id, None)
    if token is not None:
        close_context(token)


def logging_config(*, log_format: str, level: str) -> dict:
    """The LOGGING dict for settings: `json` (one object per line) or `plain` (the demo's console)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": "giftshop.logs.ContextFilter"},
            "redact_links": {"()": "giftshop.logs.RedactLinksFilter"},
            "broker_outage": {"()": "giftshop.logs.BrokerOutageFilter"},
        },
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            },
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json" if log_format == "json" else "plain",
                "filters": ["redact_links", "broker_outage", "context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        # The SMS SDKs and their HTTP client write whole requests (codes included) at DEBUG: never.
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            **{name: {"level": "WARNING"} for name in ("tencentcloud_sdk_common", "darabonba-core", "urllib3")},
        },
    }

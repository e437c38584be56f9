"""Pages show a business refusal (AppError) as a friendly page with its status, never a 500."""

from django.shortcuts import render

from giftshop.errors import AppError


class AppErrorPageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, AppError):
            response = render(request, "error.html", {"error": exception}, status=exception.status_code)
            if retry_after := getattr(exception, "retry_after", None):
                response["Retry-After"] = str(retry_after)
            return response
        return None


class DatabaseUnavailableMiddleware:
    """The database went away (restart, failover, network): answer 503 with Retry-After at once.

    API paths get the standard error body with code `service_unavailable`; pages get the static
    "service unavailable" page, rendered without a request context so it needs no database.
    Django drops the broken connection at the end of the request, so the next one reconnects.
    """

    RETRY_AFTER_SECONDS = 5

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from django.db import InterfaceError, OperationalError

        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        import logging

        from django.http import HttpResponse, JsonResponse
        from django.template.loader import render_to_string

        logging.getLogger("giftshop.outage").error(
            "database unavailable: %s %s", request.method, request.path, exc_info=exception
        )
        if request.path.startswith("/api/"):
            response = JsonResponse(
                {"code": "service_unavailable", "detail": "The service is briefly unavailable; try again shortly."},
                status=503,
            )
        else:
            response = HttpResponse(render_to_string("500.html"), status=503)
        response["Retry-After"] = str(self.RETRY_AFTER_SECONDS)
        return response

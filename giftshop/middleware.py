"""Pages show a business refusal (AppError) as a friendly page with its status, never a 500."""

from django.shortcuts import render

from .errors import AppError


class AppErrorPageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, AppError):
            return render(request, "error.html", {"error": exception}, status=exception.status_code)
        return None

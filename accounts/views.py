"""The shop's sign-in pages: phone number + one-time code (the default), and the status poll."""

from __future__ import annotations

from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache

from accounts.services import codes
from accounts.web import SESSION_KEY, phone_step, with_step_status


def _next_url(request) -> str:
    next_url = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, require_https=request.is_secure()):
        return "/"
    return next_url


@never_cache
def phone_login(request):
    """Sign in (or up: the first code makes the account) with a phone number and an SMS code."""
    next_url = _next_url(request)
    if request.user.is_authenticated and request.method == "GET" and "next" in request.GET:
        return redirect(next_url)
    step = phone_step(request, next_url=next_url)
    if step.response is not None:
        return step.response
    return with_step_status(render(request, "account/phone_login.html", {"step": step, "next": next_url}), step)


@never_cache
def phone_code_status(request):
    """{"sent": the provider took the SMS, "retry_after": seconds before a new code may be asked}."""
    pending = request.session.get(SESSION_KEY) or {}
    if not pending.get("phone"):
        return JsonResponse({"sent": False, "retry_after": 0})
    return JsonResponse(codes.code_status(code_id=pending.get("code_id") or 0, phone=pending["phone"]))

"""Failed sign-ins (django-axes): who a login attempt is for, and what a locked-out client is told.

Every password sign-in (the shop's pages, the merchant and operator sites, `POST /api/v1/auth/token/`)
goes through `authenticate()`, which django-axes watches: after `AXES_FAILURE_LIMIT` wrong passwords
for one account from one client address, that pair is locked for `AXES_COOLOFF_TIME`, in the
database, so every web process and host agrees. An operator unlocks early in /admin/ (axes'
access attempts) or with `manage.py axes_reset_username <name>`.
"""

from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


def attempted_username(request, credentials) -> str | None:
    """The account a sign-in was for: `username` (admin sites, the token API) or allauth's `login`
    (username or phone) field."""
    for source in (credentials or {}, getattr(request, "POST", {}) or {}):
        for field in ("username", "login", "phone", "email"):
            value = source.get(field)
            if value:
                return str(value).strip().lower()[:150]
    return None


def locked_out(request, original_response=None, credentials=None):
    """429 with Retry-After: the API's error body on /api/, a page in the page's language elsewhere."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    detail = _("登录失败次数过多，请 %(minutes)d 分钟后再试，或联系客服解锁。") % {"minutes": minutes}
    if request.path.startswith("/api/"):
        response = JsonResponse({"code": "locked_out", "detail": detail}, status=429)
    else:
        response = render(request, "lockout.html", {"detail": detail}, status=429)
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response

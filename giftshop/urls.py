"""The project's routes: each app's pages and each app's API, included here and nowhere else."""

from django.conf import settings
from django.contrib import admin
from django.http import JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import api_auth, health, media

api_v1 = [
    # The gift core first: a grab storm's requests find their pattern without trying the others
    # (no path matches patterns of two of these includes, so their order decides nothing else).
    path("", include("gifts.api.urls")),
    path("auth/register/", api_auth.Register.as_view(), name="api-register"),
    path("auth/token/", api_auth.ObtainToken.as_view(), name="api-token"),
    path("", include("accounts.api.urls")),
    path("", include("shops.api.urls")),
    path("", include("payments.api.urls")),
    path("", include("fulfilment.api.urls")),
    path("", include("campaigns.api.urls")),
    path("", include("aftersales.api.urls")),
    path("", include("merchant.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

urlpatterns = [
    # First the busiest prefixes, so a grab storm does not try every page's pattern before its own.
    path("healthz", health.live, name="healthz"),
    path("readyz", health.ready, name="readyz"),
    path("api/v1/", include(api_v1)),
    path("", include("shops.urls")),
    path("", include("gifts.urls")),
    path("", include("campaigns.urls")),
    path("", include("aftersales.urls")),
    path("", include("privacy.urls")),
    path("", include("payments.urls")),
    path("", include("sandbox.urls")),
    path("", include("merchant.urls")),
    path("", include("accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    # Browsers ask for /favicon.ico whatever the page's <link rel="icon"> says: the same icon.
    path(
        "favicon.ico",
        RedirectView.as_view(permanent=False, get_redirect_url=lambda *a, **k: static("img/gift-icon.svg")),
    ),
    path("i18n/", include("django.conf.urls.i18n")),
    # Uploaded photos, where the app serves them itself (MEDIA_SERVE; a relative MEDIA_URL).
    *(
        [re_path(rf"^{settings.MEDIA_URL.strip('/')}/(?P<path>.+)$", media.media_file)]
        if settings.MEDIA_URL.startswith("/")
        else []
    ),
    path("metrics", health.metrics, name="prometheus-django-metrics"),
]


def handler404(request, exception=None):
    """API paths answer 404 in the API's error format; pages get the friendly page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "not_found", "detail": "Not found."}, status=404)
    return render(request, "404.html", status=404)

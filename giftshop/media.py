"""Uploaded files served by the app itself, for the demo and the tests only (MEDIA_SERVE).

In production the photos live in object storage (pages link to the bucket or its CDN), or, on
local disk, the web server in front serves MEDIA_ROOT; this view then answers 404.
"""

from django.conf import settings
from django.http import Http404
from django.views.static import serve


def media_file(request, path: str):
    if not settings.MEDIA_SERVE:
        raise Http404
    response = serve(request, path, document_root=settings.MEDIA_ROOT)
    # Every stored name is random or a content hash: the bytes under a name never change.
    response["Cache-Control"] = "public, max-age=86400"
    return response

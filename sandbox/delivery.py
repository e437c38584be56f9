"""How the sandboxes deliver their signed callbacks: over HTTP to SANDBOX_CALLBACK_BASE_URL, or,
when that is empty (the one-process demo and most tests), in-process through Django's full
request stack, middleware and signature check included."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from django.conf import settings

from giftshop.errors import ProviderUnavailable


def post_callback(path: str, body: bytes, headers: dict[str, str]) -> dict:
    base = settings.SANDBOX_CALLBACK_BASE_URL
    if base:
        request = urllib.request.Request(  # noqa: S310 (an operator-configured http(s) URL)
            base.rstrip("/") + path, data=body, method="POST", headers={"Content-Type": "application/json", **headers}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (configured URL)
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise ProviderUnavailable(f"callback answered {exc.code}") from exc
        except (urllib.error.URLError, TimeoutError) as exc:
            raise ProviderUnavailable(f"callback failed: {exc}") from exc
    from django.test import Client

    meta = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}
    # As a request from outside would arrive: for a host the site serves, over HTTPS (a staging site on
    # production settings refuses "testserver" and redirects plain HTTP).
    host = next((h for h in settings.ALLOWED_HOSTS if h and h[0] not in ".*"), "localhost")
    response = Client(raise_request_exception=False, HTTP_HOST=host).post(
        path, data=body, content_type="application/json", secure=True, **meta
    )
    if response.status_code >= 300:
        raise ProviderUnavailable(f"callback answered {response.status_code}")
    return response.json() if response.content else {}

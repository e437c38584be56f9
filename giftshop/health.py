"""Liveness (the process answers) and readiness (the database and the broker answer)."""

from celery import current_app
from django.db import connection
from django.http import JsonResponse


def live(request):
    return JsonResponse({"status": "ok"})


def ready(request):
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["database"] = f"error: {exc.__class__.__name__}"
    from django.conf import settings

    if settings.CELERY_TASK_ALWAYS_EAGER:
        checks["broker"] = "eager"
    elif not settings.READYZ_CHECKS_BROKER:
        checks["broker"] = "not checked"  # behind a load balancer: the outbox holds the work
    else:
        try:
            with current_app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
            checks["broker"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["broker"] = f"error: {exc.__class__.__name__}"
    ok = all(v in ("ok", "eager", "not checked") for v in checks.values())
    # Informative only: without the replica the primary serves every read, so the host stays ready.
    from giftshop.replica import replica_status

    checks["replica"] = replica_status()
    return JsonResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503)


def metrics(request):
    """Prometheus's /metrics, for the scraper only where it is not public (production): a bearer
    token (`METRICS_TOKEN`) or a source address in `METRICS_ALLOWED_IPS` (addresses or networks).
    Anyone else gets the same 404 as a missing page."""
    import hmac
    import ipaddress

    from django.conf import settings
    from django.http import Http404
    from django_prometheus.exports import ExportToDjangoView

    from giftshop.client_ip import client_ip

    if not settings.METRICS_PUBLIC:
        token = settings.METRICS_TOKEN
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        by_token = bool(token) and hmac.compare_digest(sent.encode(), token.encode())
        try:
            address = ipaddress.ip_address(client_ip(request))
        except ValueError:
            address = None
        by_address = address is not None and any(
            address in ipaddress.ip_network(net, strict=False) for net in settings.METRICS_ALLOWED_IPS
        )
        if not (by_token or by_address):
            raise Http404("Not found")
    return ExportToDjangoView(request)

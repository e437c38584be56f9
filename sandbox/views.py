"""The sandbox cashier page and its pay button, and the sandbox courier driven by hand or by a
script (all 404 unless the sandbox is enabled)."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from giftshop.errors import AppError, ProviderUnavailable
from payments.models import Payment
from sandbox.carrier import SandboxCarrier, gateway_scan
from sandbox.payment import gateway_pay


def sandbox_cashier(request, out_trade_no: str):
    """The sandbox gateway's hosted cashier page (收银台)."""
    if not settings.SANDBOX_ENABLED:
        raise Http404
    payment = Payment.objects.select_related("gift__sku__product").filter(out_trade_no=out_trade_no).first()
    if payment is None:
        raise Http404
    return render(request, "sandbox/cashier.html", {"payment": payment, "gift": payment.gift})


@csrf_exempt  # the sandbox gateway's own button: it stands in for another site, not for ours
@require_POST
def sandbox_pay(request, out_trade_no: str):
    """The cashier's pay button: the gateway marks the order paid and notifies us, signed."""
    if not settings.SANDBOX_ENABLED:
        raise Http404
    payment = Payment.objects.filter(out_trade_no=out_trade_no).first()
    if payment is None:
        raise Http404
    try:
        gateway_pay(out_trade_no=out_trade_no)
    except AppError as exc:
        messages.error(request, exc.detail)
        return redirect("sandbox-cashier", out_trade_no)
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse({"code": "SUCCESS", "out_trade_no": out_trade_no})
    return redirect("gift-card", payment.gift_id)


SCAN_STATUSES = SandboxCarrier.drive_statuses


@csrf_exempt  # for scripts: it stands in for the courier, another system, not for our pages
@require_POST
def courier_scan(request, waybill_no: str):
    """Move a sandbox parcel: the sandbox courier sends the same signed notification as its own scans."""
    if not settings.SANDBOX_ENABLED:
        raise Http404
    try:
        status = json.loads(request.body or b"{}").get("status")
    except (ValueError, AttributeError):
        status = None
    if status not in SCAN_STATUSES:
        error = AppError(
            "invalid", "Some fields are invalid.", fields={"status": [f"one of {', '.join(SCAN_STATUSES)}"]}
        )
        return JsonResponse(error.as_dict(), status=400)
    try:
        answer = gateway_scan(waybill_no, status)
    except AppError as exc:  # a waybill the sandbox courier never issued: 404
        return JsonResponse(exc.as_dict(), status=exc.status_code)
    except ProviderUnavailable:
        return JsonResponse({"code": "service_unavailable", "detail": "The notification was not taken."}, status=503)
    return JsonResponse({"code": "SUCCESS", "message": str(answer.get("message", ""))})

"""Our cashier page (收银台) for the real gateways: the payer picks WeChat Pay or Alipay when both are
enabled, and the page shows what fits where they are (a QR code on a desktop, the gateway's pay page
on a phone, WeChat's pay sheet inside WeChat). The sandbox keeps its own hosted cashier."""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from giftshop.client_ip import client_ip
from giftshop.errors import AppError, ProviderUnavailable

from .models import Payment
from .providers import CHANNEL_DESKTOP, CHANNEL_PHONE, CHANNEL_WECHAT, payment_provider, payment_providers_enabled
from .services import payment_checkout
from .wechat_openid import SESSION_OPENID, authorize_url, openid_available, openid_from_code

_PHONE_MARKS = ("Mobile", "Android", "iPhone", "iPad")


def payer_channel(user_agent: str) -> str:
    if "MicroMessenger" in user_agent:
        return CHANNEL_WECHAT
    if any(mark in user_agent for mark in _PHONE_MARKS):
        return CHANNEL_PHONE
    return CHANNEL_DESKTOP


def _qr_svg(text: str) -> str:
    buf = io.BytesIO()
    qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8).save(buf)
    return buf.getvalue().decode()


def cashier(request, out_trade_no: str):
    payment = Payment.objects.select_related("gift__sku__product").filter(out_trade_no=out_trade_no).first()
    if payment is None:
        raise Http404
    if payment.status != Payment.Status.PENDING:
        return redirect("gift-card", payment.gift_id)
    enabled = payment_providers_enabled()
    if not enabled:
        raise Http404
    chosen = request.GET.get("provider") or payment.provider
    if chosen not in enabled:
        chosen = enabled[0]
    if chosen == "sandbox":
        return redirect("sandbox-cashier", out_trade_no)
    choices = [(name, payment_provider(name).label) for name in enabled if name != "sandbox"]
    channel = payer_channel(request.headers.get("User-Agent", ""))
    if chosen == "wechatpay" and channel == CHANNEL_WECHAT and not request.session.get(SESSION_OPENID):
        if openid_available():  # JSAPI needs the payer's openid: ask WeChat for it, silently
            back = settings.SITE_URL.rstrip("/") + reverse("payment-wechat-return", args=[out_trade_no])
            return redirect(authorize_url(session=request.session, redirect_uri=back))
    context = {"payment": payment, "gift": payment.gift, "choices": choices, "chosen": chosen, "channel": channel}
    try:
        checkout = payment_checkout(
            payment=payment,
            provider=chosen,
            channel=channel,
            client_ip=client_ip(request),
            openid=request.session.get(SESSION_OPENID, ""),
        )
    except ProviderUnavailable:
        context["error"] = _("支付网关暂时没有响应，请稍后刷新重试。")
        return render(request, "payments/cashier.html", context, status=503)
    except AppError as exc:
        context["error"] = exc.detail
        return render(request, "payments/cashier.html", context, status=exc.status_code)
    context["checkout"] = checkout
    if checkout.kind == "qr":
        context["qr_svg"] = _qr_svg(checkout.url)
    return render(request, "payments/cashier.html", context)


def wechat_return(request, out_trade_no: str):
    """WeChat sends the payer back here with a code; with the openid known, the cashier shows the
    pay sheet."""
    try:
        openid_from_code(session=request.session, code=request.GET.get("code", ""), state=request.GET.get("state", ""))
    except ProviderUnavailable:
        return render(
            request, "payments/cashier_error.html", {"error": _("微信暂时没有响应，请稍后重试。")}, status=503
        )
    except AppError as exc:
        return render(request, "payments/cashier_error.html", {"error": exc.detail}, status=exc.status_code)
    return redirect("payment-cashier", out_trade_no)

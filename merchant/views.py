"""Shipping pages inside the merchant admin site: print waybills, ship by hand, import tracking
numbers, export the to-ship queue, after-sales refunds.

Every view is mounted through `MerchantOrderAdmin.get_urls`, so it runs behind the merchant site's
login and permission check, and every order is fetched through the admin's shop-scoped queryset:
another shop's order is a 404. The views parse input, call one service and render the result.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from fulfilment.services import shipments as fulfilment
from fulfilment.services import shipping_tools
from gifts.models import SlotStatus
from giftshop.errors import AppError
from payments.models import Refund
from privacy.models import PiiAccessLog
from privacy.services import pii_access_record
from shops.templatetags.money import yuan

CARRIERS = ["顺丰速运", "中通快递", "圆通速递", "韵达快递", "申通快递", "京东物流", "邮政 EMS", "极兔速递"]


class ShipForm(forms.Form):
    carrier = forms.CharField(label=_("快递公司"), max_length=40)
    tracking_no = forms.CharField(label=_("运单号"), max_length=64)


class RefundForm(forms.Form):
    reason = forms.CharField(label=_("退款原因"), max_length=200, required=False, widget=forms.Textarea({"rows": 3}))


class TrackingImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV 文件"),
        help_text=_("列：order_id,carrier,tracking_no（或 订单号,快递公司,运单号），UTF-8 或 GBK 编码"),
    )


def _context(admin, request, title: str, **extra) -> dict:
    return {
        **admin.admin_site.each_context(request),
        "opts": admin.model._meta,
        "title": title,
        **extra,
    }


def _url(admin, name: str, *args) -> str:
    opts = admin.model._meta
    return reverse(f"{admin.admin_site.name}:{opts.app_label}_{opts.model_name}_{name}", args=args)


def _order(admin, request, object_id):
    """The order, if it belongs to one of this user's shops; otherwise 404 (same as missing)."""
    request.current_app = admin.admin_site.name
    return admin.get_object(request, unquote(object_id))


def print_slots(admin, request, ids):
    return (
        admin.get_queryset(request)
        .filter(pk__in=list(ids))
        .select_related("gift__shop", "gift__sender", "sku__product", "address", "shipment")
        .order_by("id")
    )


def waybill_print(admin, request, object_id):
    slot = _order(admin, request, object_id)
    return render_waybills(admin, request, print_slots(admin, request, [slot.pk]))


def render_waybills(admin, request, slots):
    """Packing slips with the full receiver address: shown to the shop's own staff only."""
    request.current_app = admin.admin_site.name
    slips = [
        {
            "slot": slot,
            "address": getattr(slot, "address", None),
            "shipment": getattr(slot, "shipment", None),
            "blessing": shipping_tools.blessing_text(slot),
            "sender": slot.gift.sender.get_full_name() or slot.gift.sender.username,
        }
        for slot in slots
    ]
    pii_access_record(user=request.user, slots=[s["slot"] for s in slips], channel=PiiAccessLog.Channel.WAYBILL_PRINT)
    context = _context(
        admin,
        request,
        ngettext("打印面单（%(n)d 单）", "打印面单（%(n)d 单）", len(slips)) % {"n": len(slips)},
        slips=slips,
        printed_at=timezone.now(),
    )
    return TemplateResponse(request, "merchant/waybill_print.html", context)


def order_ship(admin, request, object_id):
    slot = _order(admin, request, object_id)
    if request.method == "GET":
        pii_access_record(user=request.user, slots=[slot], channel=PiiAccessLog.Channel.SHIP_FORM)
    form = ShipForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            fulfilment.slot_ship_manually(
                slot=slot,
                carrier_name=form.cleaned_data["carrier"],
                tracking_no=form.cleaned_data["tracking_no"],
                actor=request.user,
            )
        except AppError as exc:
            form.add_error(None, _("%(detail)s（%(code)s）") % {"detail": exc.detail, "code": exc.code})
        else:
            messages.success(
                request,
                _("订单 %(id)s 已发货：%(carrier)s %(tracking_no)s")
                % {
                    "id": slot.pk,
                    "carrier": form.cleaned_data["carrier"],
                    "tracking_no": form.cleaned_data["tracking_no"],
                },
            )
            return HttpResponseRedirect(_url(admin, "changelist"))
    context = _context(
        admin,
        request,
        _("手动发货：订单 %(id)s") % {"id": slot.pk},
        original=slot,
        form=form,
        carriers=CARRIERS,
        shippable=slot.status == SlotStatus.TO_SHIP,
        address=getattr(slot, "address", None),
    )
    return TemplateResponse(request, "merchant/order_ship.html", context)


def order_refund(admin, request, object_id):
    """After-sales refund with a confirmation step: GET shows what will happen, POST does it."""
    slot = _order(admin, request, object_id)
    form = RefundForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            refund = fulfilment.slot_refund_after_sales(
                slot=slot, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except AppError as exc:
            messages.error(request, _("不能退款：%(detail)s（%(code)s）") % {"detail": exc.detail, "code": exc.code})
        else:
            if refund is None:
                messages.warning(request, _("订单 %(id)s 已发起过售后退款，没有新的退款") % {"id": slot.pk})
            else:
                messages.success(
                    request,
                    _("订单 %(id)s 已发起售后退款 %(amount)s，款项原路退回送礼人")
                    % {"id": slot.pk, "amount": yuan(refund.amount_fen)},
                )
        return HttpResponseRedirect(_url(admin, "change", slot.pk))
    gift = slot.gift
    refunded = sum(r.amount_fen for r in slot.refunds.all())
    context = _context(
        admin,
        request,
        _("售后退款：订单 %(id)s") % {"id": slot.pk},
        original=slot,
        form=form,
        amount_fen=max(0, gift.slot_amount_fen - refunded),
        refunded_fen=refunded,
        refundable=slot.status in (SlotStatus.TO_SHIP, SlotStatus.SHIPPED, SlotStatus.DELIVERED)
        and not slot.refunds.filter(reason=Refund.Reason.AFTER_SALES).exists(),
    )
    return TemplateResponse(request, "merchant/order_refund.html", context)


def csv_response(admin, request, slot_ids=None) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        shipping_tools.to_ship_csv(user=request.user, slot_ids=slot_ids), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="to-ship-{stamp}.csv"'
    return response


def to_ship_export(admin, request):
    return csv_response(admin, request)


def tracking_import(admin, request):
    request.current_app = admin.admin_site.name
    form = TrackingImportForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        try:
            report = shipping_tools.tracking_import(user=request.user, data=form.cleaned_data["file"].read())
        except AppError as exc:
            form.add_error("file", str(exc.detail))
        else:
            if report.shipped:
                messages.success(
                    request,
                    ngettext("已发货 %(n)d 单", "已发货 %(n)d 单", len(report.shipped)) % {"n": len(report.shipped)},
                )
            if report.failed:
                messages.error(
                    request,
                    ngettext("%(n)d 行未能发货，原因见下表", "%(n)d 行未能发货，原因见下表", len(report.failed))
                    % {"n": len(report.failed)},
                )
    context = _context(admin, request, _("批量导入运单号"), form=form, report=report)
    return TemplateResponse(request, "merchant/tracking_import.html", context)

"""The merchant workbench (商家工作台): pages built for the daily job, mounted on the merchant site
(`MerchantSite.get_urls`), so they run behind its login, and reading every parcel through the
fulfilment selectors scoped to the user's shops: another shop's parcel is a 404.

Home, to-ship queue with batch print and 交给快递, shipping exceptions, one parcel's page. The
catalogue and the settings stay in the Django admin (`catalogue`). Views parse input, call one
service or selector, and render.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import lru_cache

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from aftersales.selectors import after_sales_waiting, slots_in_after_sales
from fulfilment.carriers import SCAN_LABELS, carrier_drivable
from fulfilment.models import Shipment
from fulfilment.selectors import (
    merchant_slots,
    parcel_get_for_staff,
    shipping_exceptions,
    to_ship_queue,
    workbench_counts,
)
from fulfilment.services import shipments as fulfilment
from fulfilment.services.shipments import AFTER_SALES_REFUNDABLE
from fulfilment.services.shipping_tools import blessing_text
from gifts.models import SlotStatus
from giftshop.errors import AppError, NotFound
from privacy.models import PiiAccessLog
from privacy.services import pii_access_record
from shops.permissions import Action, staff_may
from shops.selectors import shops_for_staff

PRINT_MAX = 200  # parcels on one printed page
QUEUE_PAGE = 100  # parcels per page of a queue (a Spring Festival queue runs to thousands)


# ----- the sections of the workbench: home tiles and navigation, built in one place -----


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    url: str
    count: int | None = None  # the home tile's figure (None: a link without a tile)
    hint: str = ""  # one line under the figure
    tone: str = ""  # "alert" when the figure asks for attention


def sections(request, counts: dict[str, int]) -> list[Section]:
    """The workbench's sections, in order: each with a figure is a tile on the home page, and each
    is an entry of the navigation bar. A new queue (售后, after-sales) is one more entry here."""

    def url(name: str) -> str:
        return reverse(f"merchant:{name}")

    ready = counts["ready_to_hand_over"]
    return [
        Section(
            "to_ship",
            _("待发货"),
            url("wb-to-ship"),
            counts["to_ship"],
            ngettext("%(n)d 单可交给快递", "%(n)d 单可交给快递", ready) % {"n": ready}
            if ready
            else _("没有待交快递的包裹"),
        ),
        Section(
            "exceptions",
            _("物流异常"),
            url("wb-exceptions"),
            counts["exceptions"],
            _("快递反馈的问题件") if counts["exceptions"] else _("一切正常"),
            "alert" if counts["exceptions"] else "",
        ),
        Section(
            "after_sales",
            _("售后"),
            url("wb-after-sales"),
            counts["after_sales"],
            _after_sales_hint(counts),
            "alert" if counts["after_sales"] else "",
        ),
        Section(
            "accepted_today", _("今日收下"), url("wb-orders-today"), counts["accepted_today"], _("今天收下礼物的订单")
        ),
        Section("orders", _("全部订单"), url("gifts_slot_changelist") + "?status=all"),
        Section("catalogue", _("商品与设置"), url("wb-catalogue")),
        Section("dashboard", _("数据"), url("dashboard")),
    ]


def _after_sales_hint(counts: dict) -> str:
    due = counts.get("after_sales_next_due")
    if not counts["after_sales"] or due is None:
        return _("没有待处理的售后")
    hours = max(0, int((due - timezone.now()).total_seconds() // 3600))
    return ngettext("最早一单还剩 %(h)d 小时", "最早一单还剩 %(h)d 小时", hours) % {"h": hours}


def home_counts(*, user) -> dict:
    """The parcels' figures (fulfilment) and the after-sales requests waiting for an answer."""
    waiting = after_sales_waiting(user=user)
    return {
        **workbench_counts(user=user),
        "after_sales": waiting["count"],
        "after_sales_next_due": waiting["next_due"],
    }


def page_context(request, site, *, active: str, title: str, counts: dict | None = None, **extra) -> dict:
    counts = counts if counts is not None else home_counts(user=request.user)
    return {
        **site.each_context(request),
        "title": title,
        "active": active,
        "counts": counts,
        "sections": sections(request, counts),
        "shops": list(shops_for_staff(user=request.user).order_by("id")[:3]),
        **extra,
    }


# ----- what a parcel row shows and offers -----


@dataclass
class Row:
    """One parcel as the workbench shows it: the slot, its waybill, and what this user may do now."""

    slot: object
    shipment: Shipment | None
    can_hand_over: bool
    drive: list[tuple[str, str]]  # (scan, label) offered: empty unless the courier can be driven here
    can_refund: bool

    @property
    def address(self):
        return getattr(self.slot, "address", None)


DRIVE_LABELS = SCAN_LABELS
CANCELLED = Shipment.Status.CANCELLED


def _rows(request, slots) -> list[Row]:
    drivable: dict[str, tuple[str, ...]] = {}
    may_refund: dict[int, bool] = {}
    rows = []
    slots = list(slots)
    held = slots_in_after_sales(slot_ids=[slot.pk for slot in slots])
    for slot in slots:
        slot.in_after_sales = slot.pk in held
        shipment = getattr(slot, "shipment", None)
        drive: tuple[str, ...] = ()
        if shipment is not None and shipment.waybill_no and slot.status in (SlotStatus.TO_SHIP, SlotStatus.SHIPPED):
            if shipment.carrier not in drivable:
                courier = carrier_drivable(shipment.carrier)
                drivable[shipment.carrier] = tuple(courier.drive_statuses) if courier else ()
            drive = fulfilment.shipment_drive_choices(shipment=shipment, statuses=drivable[shipment.carrier])
        rows.append(
            Row(
                slot=slot,
                shipment=shipment,
                can_hand_over=slot.status == SlotStatus.TO_SHIP
                and shipment is not None
                and shipment.status == Shipment.Status.ISSUED
                and bool(shipment.waybill_no)
                and not getattr(slot, "refund_pending", False)
                and not slot.in_after_sales,
                drive=[(status, str(DRIVE_LABELS.get(status, status))) for status in drive],
                can_refund=slot.status in AFTER_SALES_REFUNDABLE
                and may_refund.setdefault(
                    slot.gift.shop_id,
                    staff_may(user=request.user, shop_id=slot.gift.shop_id, action=Action.REFUND),
                ),
            )
        )
    return rows


def _ids(values) -> list[int]:
    try:
        ids = list(dict.fromkeys(int(v) for v in values))
    except (TypeError, ValueError):
        raise Http404("bad order id") from None
    return ids


def _back(request, default: str) -> HttpResponseRedirect:
    """Back where the form was (a same-site path only), else `default`."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False):
        target = default
    return HttpResponseRedirect(target or default)


def _refusal(exc: AppError) -> str:
    return _("%(detail)s（%(code)s）") % {"detail": exc.detail, "code": exc.code}


# ----- pages -----


def home(request, site):
    counts = home_counts(user=request.user)
    context = page_context(request, site, active="home", title=_("商家工作台"), counts=counts)
    context["tiles"] = [s for s in context["sections"] if s.count is not None]
    context["today"] = timezone.localdate()
    return TemplateResponse(request, "merchant/workbench/home.html", context)


def _page(request, queryset):
    return Paginator(queryset, QUEUE_PAGE).get_page(request.GET.get("page"))


def to_ship(request, site):
    page = _page(request, to_ship_queue(user=request.user))
    context = page_context(request, site, active="to_ship", title=_("待发货"), rows=_rows(request, page), page=page)
    return TemplateResponse(request, "merchant/workbench/to_ship.html", context)


def orders_today(request, site):
    """The orders accepted today: the admin's order list, filtered (it has every column)."""
    start = timezone.make_aware(datetime.combine(timezone.localdate(), time.min))
    query = urlencode(
        {"status": "all", "accepted_at__gte": str(start), "accepted_at__lt": str(start + timedelta(days=1))}
    )
    return HttpResponseRedirect(reverse("merchant:gifts_slot_changelist") + "?" + query)


def exceptions(request, site):
    page = _page(request, shipping_exceptions(user=request.user))
    context = page_context(
        request, site, active="exceptions", title=_("物流异常"), rows=_rows(request, page), page=page
    )
    return TemplateResponse(request, "merchant/workbench/exceptions.html", context)


def parcel(request, site, slot_id: int):
    slot = parcel_get_for_staff(user=request.user, slot_id=slot_id)
    (row,) = _rows(request, [slot])
    context = page_context(
        request,
        site,
        active="to_ship" if slot.status == SlotStatus.TO_SHIP else "",
        title=_("订单 %(id)s") % {"id": slot.pk},
        row=row,
        scans=slot.scans,
        blessing=blessing_text(slot),
        order_url=reverse("merchant:gifts_slot_change", args=[slot.pk]),
        refund_url=reverse("merchant:gifts_slot_refund", args=[slot.pk]),
        ship_url=reverse("merchant:gifts_slot_ship", args=[slot.pk]),
    )
    return TemplateResponse(request, "merchant/workbench/parcel.html", context)


def print_sheet(request, site):
    """E-waybill labels and packing slips (with the blessing card) of the chosen parcels, on one
    printable page: one parcel per printed sheet, its label on top and its slip below."""
    ids = _ids((request.POST if request.method == "POST" else request.GET).getlist("ids"))[:PRINT_MAX]
    if not ids:
        messages.warning(request, _("请先勾选要打印的订单"))
        return HttpResponseRedirect(reverse("merchant:wb-to-ship"))
    slots = list(
        merchant_slots(user=request.user)
        .filter(pk__in=ids)
        .select_related("gift__sender")
        .order_by("accepted_at", "id")
    )
    if len(slots) != len(ids):
        raise NotFound(_("订单不存在"))
    held = slots_in_after_sales(slot_ids=ids)
    if held:
        slots = [slot for slot in slots if slot.pk not in held]
        messages.warning(
            request, _("售后处理中的订单没有打印：%(ids)s") % {"ids": "、".join(f"#{i}" for i in sorted(held))}
        )
        if not slots:
            return HttpResponseRedirect(reverse("merchant:wb-to-ship"))
    cancelled = [slot.pk for slot in slots if getattr(slot, "shipment", None) and slot.shipment.status == CANCELLED]
    if cancelled:  # refunded before shipping: its label must not go on a parcel
        slots = [slot for slot in slots if slot.pk not in cancelled]
        messages.warning(
            request, _("面单已取消的订单没有打印：%(ids)s") % {"ids": "、".join(f"#{i}" for i in cancelled)}
        )
        if not slots:
            return HttpResponseRedirect(reverse("merchant:wb-to-ship"))
    pii_access_record(user=request.user, slots=slots, channel=PiiAccessLog.Channel.WAYBILL_PRINT)
    sheets = [
        {
            "slot": slot,
            "address": getattr(slot, "address", None),
            "shipment": getattr(slot, "shipment", None),
            "barcode": _barcode(slot.shipment.waybill_no) if getattr(slot, "shipment", None) else "",
            "blessing": blessing_text(slot),
            "sender": slot.gift.sender.get_full_name() or slot.gift.sender.username,
        }
        for slot in slots
    ]
    context = page_context(
        request,
        site,
        active="to_ship",
        title=ngettext("打印面单和装箱单（%(n)d 单）", "打印面单和装箱单（%(n)d 单）", len(sheets))
        % {"n": len(sheets)},
        sheets=sheets,
        printed_at=timezone.now(),
    )
    return TemplateResponse(request, "merchant/workbench/print.html", context)


@require_POST
def hand_over(request, site):
    """交给快递 for the ticked parcels (or the one parcel of a row's button)."""
    ids = _ids(request.POST.getlist("ids"))
    if not ids:
        messages.warning(request, _("请先勾选要交给快递的订单"))
        return _back(request, reverse("merchant:wb-to-ship"))
    held = slots_in_after_sales(slot_ids=ids)
    for slot_id in sorted(held):
        messages.error(request, _("订单 %(id)s 没有交给快递：收礼人的售后申请还没处理完") % {"id": slot_id})
    ids = [i for i in ids if i not in held]
    if not ids:
        return _back(request, reverse("merchant:wb-to-ship"))
    report = fulfilment.parcels_hand_over(user=request.user, slot_ids=ids)
    if report.handed_over:
        n = len(report.handed_over)
        messages.success(request, ngettext("已交给快递 %(n)d 单", "已交给快递 %(n)d 单", n) % {"n": n})
    if report.already:
        n = len(report.already)
        messages.info(request, ngettext("%(n)d 单此前已交给快递", "%(n)d 单此前已交给快递", n) % {"n": n})
    for slot_id, reason in report.refused:
        messages.error(request, _("订单 %(id)s 没有交给快递：%(reason)s") % {"id": slot_id, "reason": reason})
    return _back(request, reverse("merchant:wb-to-ship"))


@require_POST
def drive(request, site, slot_id: int):
    """The sandbox courier scans this parcel (only where the sandbox courier is in use)."""
    status = request.POST.get("status", "")
    try:
        outcome = fulfilment.parcel_drive(user=request.user, slot_id=slot_id, status=status)
    except AppError as exc:
        if exc.status_code == 404:
            raise
        messages.error(request, _refusal(exc))
    else:
        label = DRIVE_LABELS.get(status, status)
        if outcome == "duplicate":
            messages.info(request, _("订单 %(id)s 已经有过“%(scan)s”扫描") % {"id": slot_id, "scan": label})
        else:
            messages.success(request, _("沙箱快递已扫描订单 %(id)s：%(scan)s") % {"id": slot_id, "scan": label})
    return _back(request, reverse("merchant:wb-parcel", args=[slot_id]))


def catalogue(request, site, admin_index):
    """Products, SKUs, the shop's settings and the other admin pages: the Django admin's own index."""
    return admin_index(request, {"title": _("商品与设置")})


# ----- the waybill barcode on the printed label -----


@lru_cache(maxsize=512)
def _barcode(number: str) -> str:
    """A Code 128 barcode of the waybill number, as an SVG data URI for an <img> (python-barcode)."""
    if not number:
        return ""
    import barcode
    from barcode.writer import SVGWriter

    try:
        svg = barcode.get("code128", number, writer=SVGWriter()).render(
            {"module_width": 0.3, "module_height": 14, "quiet_zone": 2, "write_text": False}
        )
    except (ValueError, barcode.errors.BarcodeError):  # a number typed by hand with odd characters
        return ""
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode()

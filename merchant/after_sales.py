"""The workbench's after-sales queue (售后): what waits for an answer, with its deadline, and the
approve / refuse / receive buttons. Mounted by `MerchantSite.get_urls`, behind its login; every
request is fetched through the staff-scoped selector, so another shop's request is a 404."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from aftersales import services
from aftersales.models import AfterSalesRequest
from aftersales.selectors import after_sales_for_staff, after_sales_get_for_staff
from giftshop.errors import AppError
from merchant.workbench import page_context
from shops.permissions import Action, staff_may

R = AfterSalesRequest
TABS = [
    ("waiting", gettext_lazy("待处理"), [R.Status.REQUESTED]),
    ("returning", gettext_lazy("退货中"), [R.Status.APPROVED, R.Status.RETURNING, R.Status.RECEIVED]),
    ("done", gettext_lazy("已结束"), [R.Status.REFUNDED, R.Status.REFUSED, R.Status.CANCELLED]),
]


def after_sales_queue(request, site):
    if request.method == "POST":
        return _answer(request)
    tab = request.GET.get("tab", "waiting")
    statuses = next((s for key, _label, s in TABS if key == tab), TABS[0][2])
    rows = list(
        after_sales_for_staff(user=request.user)
        .filter(status__in=statuses)
        .order_by("answer_by" if tab == "waiting" else "-id")[:200]
    )
    now = timezone.now()
    for row in rows:
        row.may_answer = staff_may(user=request.user, shop_id=row.shop_id, action=Action.AFTER_SALES)
        row.hours_left = max(0, int((row.answer_by - now).total_seconds() // 3600))
    tab_counts = {
        key: after_sales_for_staff(user=request.user).filter(status__in=s).count() for key, _label, s in TABS[:2]
    }
    context = page_context(
        request,
        site,
        active="after_sales",
        title=_("售后"),
        rows=rows,
        tab=tab,
        tabs=[(key, label, tab_counts.get(key)) for key, label, _s in TABS],
    )
    return TemplateResponse(request, "merchant/workbench/after_sales.html", context)


def _answer(request):
    action, pk = request.POST.get("action"), request.POST.get("id", "")
    target = after_sales_get_for_staff(user=request.user, request_id=int(pk) if pk.isdigit() else 0)
    try:
        if action == "approve":
            services.after_sales_approve(request_id=target.pk, actor=request.user)
            messages.success(request, _("已同意订单 #%(slot)s 的售后申请") % {"slot": target.slot_id})
        elif action == "refuse":
            services.after_sales_refuse(request_id=target.pk, actor=request.user, reason=request.POST.get("reason", ""))
            messages.success(request, _("已拒绝订单 #%(slot)s 的售后申请") % {"slot": target.slot_id})
        elif action == "receive":
            services.after_sales_receive(request_id=target.pk, actor=request.user)
            messages.success(request, _("订单 #%(slot)s 已确认收到退货，退款已发起") % {"slot": target.slot_id})
        else:
            messages.error(request, _("未知操作"))
    except AppError as error:
        messages.error(request, error.message)
    return redirect(request.get_full_path())

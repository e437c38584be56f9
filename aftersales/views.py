"""The recipient's after-sales page (申请售后, and every step after)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gifts.selectors import slot_get_for_recipient
from giftshop.errors import AppError

from . import services
from .forms import AfterSalesForm, ReturnShipmentForm
from .models import AfterSalesRequest
from .selectors import after_sales_for_recipient

R = AfterSalesRequest


def _errors_into(form, error: AppError) -> None:
    for field, problems in (error.fields or {}).items():
        for problem in problems:
            form.add_error(field if field in form.fields else None, problem)
    if not error.fields:
        form.add_error(None, error.detail)


@login_required
def after_sales(request, slot_id: int):
    slot = slot_get_for_recipient(slot_id=slot_id, user=request.user)
    form = AfterSalesForm()
    if request.method == "POST":
        form = AfterSalesForm(request.POST, request.FILES)
        if not form.is_valid():
            try:  # say what is wrong with the photos too, not one problem per try
                services.photos_check(request.FILES.getlist("photos"))
            except AppError as error:
                _errors_into(form, error)
        else:
            try:
                services.after_sales_open(
                    slot_id=slot.pk,
                    user=request.user,
                    kind=form.cleaned_data["kind"],
                    reason=form.cleaned_data["reason"],
                    detail=form.cleaned_data["detail"],
                    photos=services.photos_check(request.FILES.getlist("photos")),
                )
            except AppError as error:
                _errors_into(form, error)
            else:
                messages.success(request, _("售后申请已提交，商家会在 48 小时内处理"))
                return redirect("after-sales", slot_id=slot.pk)
    requests = list(after_sales_for_recipient(slot_id=slot.pk, user=request.user).select_related("shop"))
    current = requests[0] if requests and requests[0].is_open else None
    return render(
        request,
        "aftersales/after_sales.html",
        {
            "slot": slot,
            "current": current,
            "history": [r for r in requests if r is not current],
            "form": form if current is None and services.after_sales_possible(slot) else None,
            "return_form": ReturnShipmentForm(),
            "steps": _steps(current) if current else [],
        },
    )


def _steps(request: AfterSalesRequest) -> list[dict]:
    """What the recipient sees as the request's progress."""
    names = [(R.Status.REQUESTED, _("提交申请")), (R.Status.APPROVED, _("商家同意"))]
    if request.kind == R.Kind.RETURN_REFUND:
        names += [(R.Status.RETURNING, _("寄回商品")), (R.Status.RECEIVED, _("商家收货"))]
    names.append((R.Status.REFUNDED, _("退款给送礼人")))
    order = [status for status, _label in names]
    at = order.index(request.status) if request.status in order else 0
    return [{"label": label, "done": i <= at, "current": i == at} for i, (_s, label) in enumerate(names)]


@login_required
@require_POST
def return_shipment(request, slot_id: int):
    form = ReturnShipmentForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请填写快递公司和运单号"))
        return redirect("after-sales", slot_id=slot_id)
    try:
        services.after_sales_return_shipment(slot_id=slot_id, user=request.user, **form.cleaned_data)
        messages.success(request, _("退货运单已提交，商家收到后会退款给送礼人"))
    except AppError as error:
        messages.error(request, error.message)
    return redirect("after-sales", slot_id=slot_id)


@login_required
@require_POST
def cancel(request, pk: int):
    try:
        withdrawn = services.after_sales_cancel(request_id=pk, user=request.user)
        messages.success(request, _("售后申请已撤销"))
        return redirect("after-sales", slot_id=withdrawn.slot_id)
    except AppError as error:
        messages.error(request, error.detail)
        return redirect("received")

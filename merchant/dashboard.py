"""The merchant dashboard: per-day figures of the user's shops, read from the daily rollups."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Sum
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from merchant.models import ProductDailyStats, ShopDailyStats
from shops.models import Product
from shops.selectors import shop_ids_for_staff

SERIES = ("gifts_paid", "slots_accepted", "slots_shipped", "refunds")


def dashboard_figures(*, shop_ids: list[int], days: int = 30) -> dict:
    """Totals, a per-day series and the top gifted products over the last `days` local days."""
    today = timezone.localdate()
    first = today - timedelta(days=days - 1)
    rows = ShopDailyStats.objects.filter(shop_id__in=shop_ids, day__gte=first, day__lte=today)
    per_day: dict = {first + timedelta(days=n): dict.fromkeys(SERIES, 0) for n in range(days)}
    medians = []
    for r in rows:
        for field in SERIES:
            per_day[r.day][field] += getattr(r, field)
        if r.median_accept_seconds is not None:
            medians.append(r.median_accept_seconds)
    totals = rows.aggregate(
        gifts_paid=Sum("gifts_paid"),
        revenue_fen=Sum("revenue_fen"),
        slots_sent=Sum("slots_sent"),
        slots_accepted=Sum("slots_accepted"),
        slots_shipped=Sum("slots_shipped"),
        refunds=Sum("refunds"),
        refunded_fen=Sum("refunded_fen"),
    )
    totals = {k: v or 0 for k, v in totals.items()}
    totals["acceptance_rate"] = (totals["slots_accepted"] / totals["slots_sent"]) if totals["slots_sent"] else None
    medians.sort()
    totals["median_accept_seconds"] = medians[len(medians) // 2] if medians else None
    top = (
        ProductDailyStats.objects.filter(shop_id__in=shop_ids, day__gte=first, day__lte=today)
        .values("product_id")
        .annotate(units=Sum("units_gifted"), revenue=Sum("revenue_fen"))
        .order_by("-units")[:5]
    )
    titles = dict(Product.objects.filter(pk__in=[t["product_id"] for t in top]).values_list("pk", "title"))
    return {
        "days": [{"day": d, **v} for d, v in sorted(per_day.items())],
        "totals": totals,
        "top_products": [{"title": titles.get(t["product_id"], "?"), **t} for t in top],
    }


def _bars(days: list[dict], field: str, height: int = 120, width: int = 600) -> dict:
    """Geometry for one SVG bar chart."""
    peak = max((d[field] for d in days), default=0)
    step = width / max(len(days), 1)
    bars = []
    for i, d in enumerate(days):
        h = round(d[field] / (peak or 1) * (height - 20))
        bars.append(
            {
                "x": round(i * step + 1, 1),
                "y": height - h,
                "w": round(step - 2, 1),
                "h": h,
                "value": d[field],
                "day": d["day"],
            }
        )
    return {"field": field, "bars": bars, "peak": peak, "height": height, "width": width}


CHART_TITLES = {
    "gifts_paid": _("每日送出礼物"),
    "slots_accepted": _("每日收下"),
    "slots_shipped": _("每日发货"),
    "refunds": _("每日退款笔数"),
}


def dashboard_view(request, site):
    figures = dashboard_figures(shop_ids=shop_ids_for_staff(user=request.user))
    charts = [{"title": CHART_TITLES[f], **_bars(figures["days"], f)} for f in SERIES]
    context = {**site.each_context(request), "title": _("送礼数据"), "figures": figures, "charts": charts}
    return TemplateResponse(request, "merchant/dashboard.html", context)

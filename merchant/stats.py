"""The merchant dashboard's figures: one local day at a time, rolled up into ShopDailyStats and
ProductDailyStats by a beat task. Each query reads one day's rows through an index on its time
column, so the rollup costs what that day holds, and the dashboard reads only rollup rows."""

from __future__ import annotations

import statistics
from datetime import date, datetime, time, timedelta

from django.db import connection, transaction
from django.db.models import Count, F, Sum
from django.utils import timezone

from gifts.models import Gift, Slot
from merchant.models import ProductDailyStats, ShopDailyStats
from payments.models import Refund


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    tz = timezone.get_default_timezone()
    start = timezone.make_aware(datetime.combine(day, time.min), tz)
    return start, start + timedelta(days=1)


def _median_accept_seconds(start: datetime, end: datetime) -> dict[int, int]:
    """Per shop: median seconds from payment to acceptance for slots accepted in [start, end)."""
    qs = Slot.objects.filter(accepted_at__gte=start, accepted_at__lt=end, gift__paid_at__isnull=False)
    if connection.vendor == "postgresql":
        sql = (
            "SELECT g.shop_id, percentile_cont(0.5) WITHIN GROUP "
            "(ORDER BY EXTRACT(EPOCH FROM (s.accepted_at - g.paid_at))) "
            "FROM gifts_slot s JOIN gifts_gift g ON g.id = s.gift_id "
            "WHERE s.accepted_at >= %s AND s.accepted_at < %s AND g.paid_at IS NOT NULL GROUP BY g.shop_id"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [start, end])
            return {shop_id: int(value) for shop_id, value in cursor.fetchall()}
    waits: dict[int, list[float]] = {}
    for shop_id, accepted, paid in qs.values_list("gift__shop_id", "accepted_at", "gift__paid_at"):
        waits.setdefault(shop_id, []).append((accepted - paid).total_seconds())
    return {shop_id: int(statistics.median(values)) for shop_id, values in waits.items()}


def _count_by_shop(qs, time_field: str, start, end) -> dict[int, int]:
    rows = qs.filter(**{f"{time_field}__gte": start, f"{time_field}__lt": end}).values("gift__shop_id")
    return {r["gift__shop_id"]: r["n"] for r in rows.annotate(n=Count("id"))}


@transaction.atomic
def stats_rollup_day(*, day: date) -> int:
    """Recompute every shop's figures for one local day. Safe to run any number of times."""
    start, end = _day_bounds(day)
    paid = Gift.objects.filter(paid_at__gte=start, paid_at__lt=end)
    by_shop: dict[int, dict] = {}
    for row in paid.values("shop_id").annotate(n=Count("id"), revenue=Sum("amount_fen"), slots=Sum("recipients_count")):
        by_shop.setdefault(row["shop_id"], {}).update(
            gifts_paid=row["n"], revenue_fen=row["revenue"] or 0, slots_sent=row["slots"] or 0
        )
    for field, time_field in (
        ("slots_accepted", "accepted_at"),
        ("slots_shipped", "shipped_at"),
        ("slots_delivered", "delivered_at"),
    ):
        for shop_id, n in _count_by_shop(Slot.objects, time_field, start, end).items():
            by_shop.setdefault(shop_id, {})[field] = n
    refunds = Refund.objects.filter(status=Refund.Status.SUCCEEDED, succeeded_at__gte=start, succeeded_at__lt=end)
    for row in refunds.values(shop_id=F("payment__gift__shop_id")).annotate(n=Count("id"), s=Sum("amount_fen")):
        by_shop.setdefault(row["shop_id"], {}).update(refunds=row["n"], refunded_fen=row["s"] or 0)
    for shop_id, seconds in _median_accept_seconds(start, end).items():
        by_shop.setdefault(shop_id, {})["median_accept_seconds"] = seconds

    ShopDailyStats.objects.filter(day=day).exclude(shop_id__in=by_shop).delete()
    for shop_id, values in by_shop.items():
        defaults = {
            f: 0
            for f in (
                "gifts_paid",
                "revenue_fen",
                "slots_sent",
                "slots_accepted",
                "slots_shipped",
                "slots_delivered",
                "refunds",
                "refunded_fen",
            )
        }
        defaults["median_accept_seconds"] = None
        defaults.update(values)
        ShopDailyStats.objects.update_or_create(shop_id=shop_id, day=day, defaults=defaults)

    ProductDailyStats.objects.filter(day=day).delete()
    ProductDailyStats.objects.bulk_create(
        ProductDailyStats(
            shop_id=row["shop_id"],
            product_id=row["sku__product_id"],
            day=day,
            units_gifted=row["units"] or 0,
            revenue_fen=row["revenue"] or 0,
        )
        for row in paid.values("shop_id", "sku__product_id").annotate(
            units=Sum(F("quantity") * F("recipients_count")), revenue=Sum("amount_fen")
        )
    )
    return len(by_shop)


def stats_rollup_recent(*, days: int = 2) -> int:
    """What beat runs: today and yesterday (late events land on yesterday's row)."""
    today = timezone.localdate()
    return sum(stats_rollup_day(day=today - timedelta(days=n)) for n in range(days))

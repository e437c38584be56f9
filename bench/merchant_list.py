"""Merchant order list of a 1,000,000-order shop over HTTP: the first page, a middle page and the last
pages (cursor pagination), p50 of 50 requests each, with the plan of the deep page's query.

A small shop's first page is measured too: its 100 orders are the oldest rows of the same table,
which is the worst case for a list that walks the slot id index newest first.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

from bench import dataset
from bench.common import http_get, log, median, pct

REQUESTS = 50
URL = "/api/v1/merchant/orders/"


def _cursor(position: int) -> str:
    """The cursor DRF's CursorPagination hands out for "the rows after id `position`" (ordering -id)."""
    return base64.b64encode(urlencode({"p": str(position)}).encode()).decode()


def _token(user) -> str:
    from rest_framework.authtoken.models import Token

    return Token.objects.get_or_create(user=user)[0].key


def _measure(server, name: str, token: str, query: dict) -> dict:
    url = f"{server.base}{URL}?{urlencode(query)}" if query else f"{server.base}{URL}"
    status, body, _ = http_get(url, token=token)  # warm
    if status != 200:
        raise RuntimeError(f"{name}: HTTP {status}: {body[:200]!r}")
    rows = len(json.loads(body)["results"])
    times = []
    for _ in range(REQUESTS):
        status, _, seconds = http_get(url, token=token)
        times.append(seconds * 1000)
    result = {
        "name": name,
        "rows": rows,
        "p50_ms": round(median(times), 1),
        "p90_ms": round(pct(times, 90), 1),
        "max_ms": round(max(times), 1),
    }
    log(f"merchant list: {name}: {rows} rows, p50 {result['p50_ms']} ms, p90 {result['p90_ms']} ms")
    return result


def _plan(user, position: int | None) -> str:
    from fulfilment.selectors import merchant_slots

    qs = merchant_slots(user=user).order_by("-id")
    if position is not None:
        qs = qs.filter(id__lt=position)
    return qs[:21].explain(analyze=True)


def run(server) -> dict:
    ds = dataset.get()
    big_token = _token(ds.big.merchant)
    small_token = _token(ds.small.merchant)
    last = ds.first_id + ds.gifts - 1
    pages = [
        _measure(server, "first page", big_token, {}),
        _measure(server, f"middle page ({ds.gifts // 2:,} deep)", big_token, {"cursor": _cursor(last - ds.gifts // 2)}),
        _measure(server, f"last page ({ds.gifts - 10:,} deep)", big_token, {"cursor": _cursor(ds.first_id + 10)}),
        _measure(server, "small shop first page", small_token, {}),
        _measure(server, "status=to_ship first page", big_token, {"status": "to_ship"}),
    ]
    plans = {
        "deep page": _plan(ds.big.merchant, ds.first_id + 10),
        "small shop first page": _plan(ds.small.merchant, None),
    }
    for name, plan in plans.items():
        print(f"EXPLAIN ANALYZE, {name}:\n{plan}\n", flush=True)
    uses_index = {name: "Index" in plan and "Seq Scan on gifts_slot" not in plan for name, plan in plans.items()}
    return {"orders": ds.gifts, "requests_per_page": REQUESTS, "pages": pages, "plans": plans, "index_used": uses_index}

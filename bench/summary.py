"""The final table: one line per figure, with the issue's target and whether this run met it."""

from __future__ import annotations


def _noop_row(label: str, noop: dict) -> tuple[str, str, str, str]:
    """The no-op's two readings around what it is compared with, and their mean (bench.common.noop_bracket)."""
    return label, f"{noop['before']['rps']:,} / {noop['after']['rps']:,} (mean {noop['rps']:,})", "", ""


def _rows(results: dict) -> list[tuple[str, str, str, str]]:
    b = results["benchmarks"]
    rows: list[tuple[str, str, str, str]] = []

    def yes(flag) -> str:
        return "met" if flag else "NOT met"

    if "grab" in b and "error" not in b["grab"]:
        g = b["grab"]
        rows += [
            ("grab storm: grabs/s (HTTP)", f"{g['grab']['rps']:,}", "", ""),
            (
                "grab storm: p50 / p99 latency",
                f"{g['grab']['p50_ms']} / {g['grab']['p99_ms']} ms",
                "p99 < 100 ms",
                yes(g["target_met"]["p99_lt_100ms"]),
            ),
            (
                "grab storm: winners / distinct",
                f"{g['winners']} / {g['winners_distinct']}",
                "1000 / 1000",
                yes(g["winners_ok"]),
            ),
            _noop_row("no-op /healthz req/s before / after the storm (same tool)", g["noop"]),
            ("pgbench grab SQL tps", f"{g['pgbench']['tps']:,}", "", ""),
            (
                "ratio grab / no-op",
                f"{g['ratio_grab_to_noop']:.0%}",
                ">= 50%",
                yes(g["target_met"]["throughput_ge_50pct_noop"]),
            ),
            ("ratio grab / pgbench", f"{g['ratio_grab_to_pgbench']:.0%}", "", ""),
        ]
        if "flushed_midway" in g:
            f = g["flushed_midway"]
            rows.append(
                (
                    "grab storm, gate flushed midway: grabs/s, p99, winners, 5xx",
                    f"{f['rps']:,}, {f['p99_ms']} ms, {f['winners']}/{f['winners_distinct']}, {f['statuses'].get('5xx', 0)}",
                    "1000/1000, no 5xx",
                    yes(g["target_met"]["flushed_exact_winners_no_5xx"]),
                )
            )
        if "wins_only" in g:
            w = g["wins_only"]
            rows.append(
                (
                    "grab storm, every grab a win: grabs/s, p50 / p99",
                    f"{w['rps']:,}, {w['p50_ms']} / {w['p99_ms']} ms",
                    "",
                    "",
                )
            )
    if "accept" in b and "error" not in b["accept"]:
        a = b["accept"]
        rows += [
            (
                "accepts/s over HTTP: one gift / 20 gifts",
                f"{a['one_gift']['rps']:,} / {a['spread']['rps']:,}",
                "",
                "",
            ),
            (
                "accept p99: one gift / 20 gifts",
                f"{a['one_gift']['p99_ms']} / {a['spread']['p99_ms']} ms",
                "",
                "",
            ),
            _noop_row("no-op /healthz req/s before / after the 20-gift burst", a["noop"]),
            (
                "ratio accept / no-op",
                f"{a['ratio_accept_to_noop']:.0%}",
                ">= 15%",
                yes(a["target_met"]["accept_ge_15pct_noop"]),
            ),
            (
                "ratio one gift / spread (no hot row)",
                f"{a['ratio_one_gift_to_spread']:.0%}",
                ">= 80%",
                yes(a["target_met"]["one_gift_ge_80pct_spread"]),
            ),
            (
                "every slot accepted",
                f"{a['one_gift']['accepted']} + {a['spread']['accepted']}",
                f"{a['accepts_per_side']} + {a['accepts_per_side']}",
                yes(a["target_met"]["every_slot_accepted"]),
            ),
        ]
    if "dispatch" in b and "error" not in b["dispatch"]:
        d = b["dispatch"]
        rows += [
            (
                "burst: dispatches/s (2 worker processes)",
                f"{d['dispatches_per_s']}" if d.get("burst_valid", True) else "invalid run (the pause did not hold)",
                ">= 200",
                yes((d["dispatches_per_s"] or 0) >= 200),
            ),
            (
                "burst: release -> waybill p50 / p99",
                f"{d['burst_latency_p50_s']} / {d['burst_latency_p99_s']} s",
                "p99 <= 15 s",
                yes(d["burst_latency_p99_s"] is not None and d["burst_latency_p99_s"] <= 15),
            ),
            (
                "live: accept -> waybill p50 / p99",
                f"{d['latency_p50_s']} / {d['latency_p99_s']} s (accepts {d['accepts_per_s']}/s)",
                "p99 <= 15 s",
                yes(d["latency_p99_s"] is not None and d["latency_p99_s"] <= 15),
            ),
            (
                "waybills issued",
                f"{d['issued'] + d['live_issued']} / {2 * d['accepts']}",
                "all",
                yes(d["issued"] == d["live_issued"] == d["accepts"]),
            ),
        ]
    if "sweep" in b and "error" not in b["sweep"]:
        s = b["sweep"]
        for run in s["runs"]:
            rows.append(
                (
                    f"sweep: {run['due']:,} due among {s['gifts']:,} gifts",
                    f"{run['expired']:,} expired in {run['seconds']} s, {run['queries']:,} statements, "
                    f"{run['ms_per_row']} ms/row" + (" (time limit hit)" if run["cut_short"] else ""),
                    "",
                    "",
                )
            )
        rows.append(
            (
                "sweep cost per expired row, big / small",
                f"{s['per_row_ratio']:.2f}",
                "~1 (proportional)",
                yes(s["proportional"]),
            )
        )
    if "list" in b and "error" not in b["list"]:
        m = b["list"]
        for page in m["pages"]:
            rows.append(
                (f"merchant list {page['name']} p50", f"{page['p50_ms']} ms", "< 50 ms", yes(page["p50_ms"] < 50))
            )
    if "pages" in b and "error" not in b["pages"]:
        p = b["pages"]
        for page in p["pages"]:
            rows.append(
                (
                    f"queries {page['name']} small / large",
                    f"{page['small']['queries']} / {page['large']['queries']}",
                    "constant",
                    yes(page["constant"]),
                )
            )
    for name, result in b.items():
        if "error" in result:
            rows.append((f"{name}", "FAILED", "", result["error"][:60]))
    return rows


def print_summary(results: dict) -> None:
    rows = _rows(results)
    widths = [max(len(r[i]) for r in rows + [("figure", "measured", "target", "")]) for i in range(4)]
    line = "  ".join("-" * w for w in widths)
    print()
    print(
        "Summary (" + f"{results['machine']['cpus']} CPUs, {results['machine']['web_workers']} gunicorn workers, "
        f"{results['total_seconds']} s)"
    )
    print(line)
    print("  ".join(h.ljust(w) for h, w in zip(("figure", "measured", "target", ""), widths, strict=True)))
    print(line)
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    print(line)

"""`make bench`: create a dedicated database, serve the app with gunicorn, run every benchmark, print
the figures and the ratios, write JSON to bench/results/, and drop the database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/giftshop .venv/bin/python bench/run.py [--only grab,sweep] [--keep]

The bench database is the DATABASE_URL's server with the name giftshop_bench; its Celery broker is
Redis database 15 (flushed before and after). Other work on the machine makes absolute figures
noisy; the ratios are measured side by side in the same run for that reason.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).absolute().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = os.environ.get("BENCH_DATABASE_NAME", "giftshop_bench")
BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/15")

# name -> module; the order is the run order (the 1,000,000-row data set is built once, for the last two).
BENCHMARKS = {
    "pages": "bench.page_cost",
    "grab": "bench.grab_storm",
    "accept": "bench.accept_burst",
    "dispatch": "bench.claim_dispatch",
    "list": "bench.merchant_list",
    "sweep": "bench.expiry_sweep",
}


def bench_database_url() -> str:
    parts = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/giftshop"))
    if not parts.scheme.startswith("postgres"):
        raise SystemExit("make bench needs PostgreSQL: set DATABASE_URL=postgres://…")
    return urlunsplit(parts._replace(path=f"/{BENCH_DB}"))


def recreate_database(url: str, *, drop_only: bool = False) -> None:
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def flush_broker() -> None:
    import redis

    redis.Redis.from_url(BROKER).flushdb()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help=f"comma-separated subset of {','.join(BENCHMARKS)}")
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("BENCH_WEB_WORKERS", "4")))
    args = parser.parse_args()
    chosen = [b.strip() for b in args.only.split(",") if b.strip()] or list(BENCHMARKS)
    unknown = set(chosen) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")

    url = bench_database_url()
    os.environ.update(
        DJANGO_SETTINGS_MODULE="bench.settings", BENCH_DATABASE_URL=url, BENCH_BROKER_URL=BROKER, PYTHONPATH=str(ROOT)
    )
    started = time.monotonic()
    recreate_database(url)
    flush_broker()

    import django

    django.setup()
    from django.core.management import call_command

    from bench.common import RESULTS, Server, log
    from bench.summary import print_summary

    RESULTS.mkdir(exist_ok=True)
    log(f"database {BENCH_DB} created; migrating")
    call_command("migrate", verbosity=0, interactive=False)

    server = Server(workers=args.workers)
    results: dict = {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "web_workers": args.workers},
        "benchmarks": {},
    }
    failed = False
    try:
        server.start()
        log(f"gunicorn with {args.workers} workers on {server.base}")
        for name in chosen:
            t0 = time.monotonic()
            try:
                module = importlib.import_module(BENCHMARKS[name])
                results["benchmarks"][name] = module.run(server)
            except Exception as exc:  # noqa: BLE001 (one broken benchmark must not hide the others)
                failed = True
                traceback.print_exc()
                results["benchmarks"][name] = {"error": f"{exc.__class__.__name__}: {exc}"}
            results["benchmarks"][name]["seconds"] = round(time.monotonic() - t0, 1)
            log(f"{name} done in {results['benchmarks'][name]['seconds']} s")
    finally:
        server.stop()
        from django.db import connections

        connections.close_all()
        if not args.keep:
            recreate_database(url, drop_only=True)
        flush_broker()

    results["total_seconds"] = round(time.monotonic() - started, 1)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = RESULTS / f"bench-{stamp}.json"
    out.write_text(json.dumps(results, indent=2, default=str, ensure_ascii=False))
    (RESULTS / "latest.json").write_text(out.read_text())
    print_summary(results)
    log(f"results written to {out.relative_to(ROOT)} (and bench/results/latest.json)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

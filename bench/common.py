"""What every benchmark shares: the served app, the load tool, the database, timing and counting helpers.

Everything here runs inside bench/run.py after django.setup() with DJANGO_SETTINGS_MODULE=bench.settings.
"""

from __future__ import annotations

import json
import os
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).absolute().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
VENV_BIN = Path(sys.executable).parent
# BENCH_SCALE=0.1 shrinks every data set and load tenfold: a smoke run of the suite, not a measurement.
SCALE = float(os.environ.get("BENCH_SCALE", "1"))


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def median(values: list[float]) -> float:
    return statistics.median(values)


# The shipping address every benchmark accepts with.
ADDRESS = {
    "name": "张三",
    "phone": "13812345678",
    "province": "广东省",
    "city": "深圳市",
    "district": "南山区",
    "detail": "科技园南路 88 号 3 栋 1201",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----- the database -----


def db_params() -> dict:
    from django.db import connection

    s = connection.settings_dict
    return {"host": s["HOST"] or "127.0.0.1", "port": str(s["PORT"] or 5432), "user": s["USER"], "name": s["NAME"]}


def pg_env() -> dict:
    from django.db import connection

    env = dict(os.environ)
    if connection.settings_dict.get("PASSWORD"):
        env["PGPASSWORD"] = connection.settings_dict["PASSWORD"]
    return env


def sql(statement: str, params: list | tuple | None = None) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params or None)
        return cursor.fetchall() if cursor.description else []


def analyze(*tables: str) -> None:
    for table in tables:
        sql(f"VACUUM ANALYZE {table}")


class QueryCounter:
    """Counts statements through connection.execute_wrapper: no list of 1,000,000 query strings kept."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql_text, params, many, context):
        self.count += 1
        return execute(sql_text, params, many, context)


@contextmanager
def count_queries():
    from django.db import connection

    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        yield counter


# ----- fixtures through the services -----


@dataclass
class Catalogue:
    shop: object
    product: object
    sku: object
    merchant: object


def catalogue(*, slug: str, stock: int = 1_000_000, merchant_username: str | None = None) -> Catalogue:
    from django.contrib.auth import get_user_model

    from shops.models import Category, Product, Shop, ShopStaff, Sku

    shop = Shop.objects.create(name=f"Bench {slug}", slug=slug)
    category = Category.objects.create(name=f"Bench {slug}")
    product = Product.objects.create(shop=shop, category=category, title=f"Bench product {slug}")
    sku = Sku.objects.create(
        product=product, attributes={"颜色": "蓝"}, price_fen=9900, original_price_fen=12900, stock=stock
    )
    merchant = get_user_model().objects.create_user(merchant_username or f"merchant-{slug}", password="bench-pass")
    ShopStaff.objects.create(shop=shop, user=merchant)
    return Catalogue(shop=shop, product=product, sku=sku, merchant=merchant)


def paid_gift(*, sender, sku, mode: str = "single", recipients: int = 1, message: str = "生日快乐"):
    """A gift created and paid through the services (the gateway's verified notice applied directly)."""
    from gifts.services.checkout import gift_create
    from payments.providers import PaymentNotice
    from payments.services import payment_settle

    gift = gift_create(sender=sender, sku_id=sku.pk, mode=mode, recipients=recipients, message=message)
    payment_settle(
        notice=PaymentNotice(
            kind="payment.succeeded",
            out_trade_no=gift.payment.out_trade_no,
            amount_fen=gift.amount_fen,
            transaction_id="BENCH" + secrets.token_hex(8),
        )
    )
    gift.refresh_from_db()
    return gift


def tokens_seen(accounts: list[tuple[int, str]]) -> None:
    """Put these accounts' tokens in the shared cache, as a first authenticated request (opening the
    card) does in life: a storm is made of people who opened the card a moment ago."""
    from django.contrib.auth import get_user_model

    from giftshop.token_auth import tokens_remember

    users = get_user_model().objects.in_bulk([uid for uid, _ in accounts])
    entries = {key: users[uid] for uid, key in accounts if key}
    keys = list(entries)
    for i in range(0, len(keys), 2000):
        tokens_remember({k: entries[k] for k in keys[i : i + 2000]})


def bulk_users(prefix: str, n: int, *, with_tokens: bool = False) -> list[tuple[int, str]]:
    """n accounts (and API tokens) in a few statements; returns [(user_id, token or '')]."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from rest_framework.authtoken.models import Token

    User = get_user_model()
    password = make_password("bench-pass")
    users = User.objects.bulk_create(
        (User(username=f"{prefix}{i}", password=password) for i in range(n)), batch_size=5000
    )
    if not with_tokens:
        return [(u.pk, "") for u in users]
    tokens = [Token(key=secrets.token_hex(20), user_id=u.pk) for u in users]
    Token.objects.bulk_create(tokens, batch_size=5000)
    return [(t.user_id, t.key) for t in tokens]


# ----- the served app -----


class Server:
    """gunicorn serving giftshop.wsgi with bench settings, in its own process group."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log_path = RESULTS / "gunicorn.log"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        cmd = [
            str(VENV_BIN / "gunicorn"),
            "giftshop.wsgi",
            "-w",
            str(self.workers),
            "-b",
            f"127.0.0.1:{self.port}",
            "--backlog",
            "2048",
            "--timeout",
            "60",
            *(["--threads", os.environ["BENCH_WEB_THREADS"]] if os.environ.get("BENCH_WEB_THREADS") else []),
        ]
        # gunicorn's own lines go where the settings' logging sends them (gunicorn.conf.py): standard error
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(  # noqa: S603
                cmd, cwd=ROOT, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.log_path}")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as r:  # noqa: S310
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.3)
        raise RuntimeError("gunicorn did not answer /healthz within 60 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def http_get(url: str, *, token: str | None = None, timeout: float = 30) -> tuple[int, bytes, float]:
    """One GET; returns (status, body, seconds)."""
    request = urllib.request.Request(url)  # noqa: S310
    if token:
        request.add_header("Authorization", f"Token {token}")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:  # noqa: S310
            body = r.read()
            status = r.status
    except urllib.error.HTTPError as exc:
        body, status = exc.read(), exc.code
    return status, body, time.perf_counter() - started


# ----- the load tool -----


def wrk_path() -> str:
    path = shutil.which("wrk")
    if not path:
        raise RuntimeError("wrk is not installed (make bench installs it with apt-get)")
    return path


_CPU_GROUPS = {"gunicorn": "web (gunicorn)", "postgres": "PostgreSQL", "redis-server": "Redis"}


def process_snapshot() -> tuple[dict, dict[str, int]]:
    """One pass over /proc: CPU seconds used so far by each process, keyed (kind, pid) (web, PostgreSQL,
    Redis, the rest), by the load tool and by the whole machine (user, system, interrupts, from /proc/stat);
    and the web processes' context switches so far, voluntary (waiting on a socket: Redis, the
    database) and involuntary (preempted). Linux only; both empty elsewhere."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    used: dict = {}
    switches = {"voluntary": 0, "involuntary": 0}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            comm = text[text.index("(") + 1 : text.rindex(")")]
            status = (stat.parent / "status").read_text() if comm == "gunicorn" else ""
        except OSError:
            continue  # the process ended meanwhile
        fields = text[text.rindex(")") + 2 :].split()
        group = _CPU_GROUPS.get(comm, "other processes")
        used[(group, stat.parent.name)] = (int(fields[11]) + int(fields[12])) / tick
        for line in status.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                switches["voluntary"] += int(line.split()[1])
            elif line.startswith("nonvoluntary_ctxt_switches:"):
                switches["involuntary"] += int(line.split()[1])
    try:
        cpu = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return {}, {}
    # The load tool ends before the second snapshot: it is counted from what its parent waited for.
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    used["load tool (wrk)"] = children.ru_utime + children.ru_stime
    user, nice, system, idle, iowait, irq, softirq = (int(x) for x in cpu[:7])
    used["machine (busy)"] = (user + nice + system + irq + softirq) / tick
    used["machine (kernel: interrupts)"] = (irq + softirq) / tick
    return used, switches


def cpu_per_request(before: dict[str, float], after: dict[str, float], requests: int) -> dict[str, float]:
    """Milliseconds of CPU per request for each kind of process between two snapshots, process by
    process: one that started in between counts all it used; one that ended in between (a database
    connection closed at CONN_MAX_AGE) is left out, rather than taking what it had used before the
    first snapshot off its kind's total."""
    if not requests or not before or not after:
        return {}
    totals: dict[str, float] = {}
    for key, seconds in after.items():
        used = seconds - before.get(key, 0.0)
        if used < 0:  # a process id used again by a new process
            used = seconds
        kind = key[0] if isinstance(key, tuple) else key
        totals[kind] = totals.get(kind, 0.0) + used
    return {k: round(v / requests * 1000, 3) for k, v in totals.items()}


@dataclass
class WrkResult:
    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict = field(default_factory=dict)
    socket_errors: dict = field(default_factory=dict)
    cpu_ms_per_request: dict = field(default_factory=dict)
    web_switches_per_request: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def noop_bracket(before: WrkResult, after: WrkResult) -> dict:
    """The no-op read right before and right after what it is compared with: both readings, and their
    mean (`rps`), which the ratio is taken against. This machine's speed wanders by a tenth within a
    minute: one reading taken elsewhere in the run put the grab's ratio anywhere from 46% to 58%."""
    return {"rps": round((before.rps + after.rps) / 2, 1), "before": before.as_dict(), "after": after.as_dict()}


def wrk(
    url: str,
    *,
    connections: int,
    threads: int,
    duration_s: int,
    tokens_file: Path | None = None,
    quota_per_thread: int = 0,
    body_file: Path | None = None,
) -> WrkResult:
    """Run wrk with bench/wrk_report.lua. With tokens_file every request is a POST carrying another
    account's token; with quota_per_thread wrk is stopped once every thread has had that many answers
    (duration_s is then only a limit)."""
    markers = Path(tempfile.mkdtemp(prefix="wrk-", dir=RESULTS))
    cmd = [
        wrk_path(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration_s}s",
        "--timeout",
        "10s",
        "-s",
        str(BENCH / "wrk_report.lua"),
        url,
        "--",
        str(tokens_file or ""),
        str(threads),
        str(quota_per_thread),
        f"{markers}/thread-",
        str(body_file or ""),
    ]
    cpu_before, switches_before = process_snapshot()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # noqa: S603
    if quota_per_thread:
        while proc.poll() is None:
            if len(list(markers.iterdir())) >= threads:
                proc.send_signal(signal.SIGINT)
                break
            time.sleep(0.02)
    try:
        stdout, stderr = proc.communicate(timeout=duration_s + 120)
    finally:
        shutil.rmtree(markers, ignore_errors=True)
    cpu_after, switches_after = process_snapshot()
    line = next((x for x in stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no report:\n{stdout}\n{stderr}")
    data = json.loads(line[len("BENCH_JSON ") :])
    duration = data["duration_us"] / 1e6
    return WrkResult(
        requests=data["requests"],
        duration_s=round(duration, 2),
        rps=round(data["requests"] / duration, 1),
        p50_ms=round(data["p50_us"] / 1000, 2),
        p90_ms=round(data["p90_us"] / 1000, 2),
        p99_ms=round(data["p99_us"] / 1000, 2),
        max_ms=round(data["max_us"] / 1000, 2),
        statuses={k: v for k, v in data["statuses"].items() if v},
        socket_errors={k: v for k, v in data["errors"].items() if v},
        cpu_ms_per_request=cpu_per_request(cpu_before, cpu_after, data["requests"]),
        web_switches_per_request={
            k: round((switches_after[k] - switches_before.get(k, 0)) / data["requests"], 2)
            for k in switches_after
            if data["requests"]
        },
    )

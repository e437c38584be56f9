"""Fault drill: PostgreSQL restarts while gifts are being bought.

The drill runs its own throwaway PostgreSQL cluster (initdb into a temporary directory, a free port,
its socket in that directory) so the machine's database, which other suites use, is never touched.
The app is served from that cluster by gunicorn, as in production, with persistent connections and
health checks. A stream of gift creations runs while the cluster is stopped (immediate mode: like a
crash) and started again.

What "fail cleanly" means here: every request gets an answer within the client's bound, each answer
is either 201 (the gift exists with its slots and payment) or 503 with the API error body
`service_unavailable` and a Retry-After header; once the database is back, requests succeed again
without restarting the app; and the database holds no half-written gift: every gift has its slots and
its payment, and the SKU's stock went down by exactly the units of the gifts that exist.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
REQUEST_TIMEOUT = 15.0  # the bound on any one answer; a hang fails the drill
DEADLINE = 40.0  # for each phase to be reached; generous, never a pass/fail timing


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, *, what: str, timeout: float = DEADLINE):
    end = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)
    return result


class PrivatePostgres:
    """A PostgreSQL cluster of our own in a temporary directory, run as the postgres user when we are root."""

    def __init__(self):
        binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not binaries:
            pytest.fail("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin")
        self.bin = Path(binaries[-1]).parent
        self.dir = Path(tempfile.mkdtemp(prefix="giftshop-pgdrill-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.dir, user="postgres")

    def _run(self, *args: str, timeout: float = 60) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, timeout=timeout, capture_output=True)

    def init(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--no-locale"
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"), "-o", options, "-w", "-t", "30", "start"
        )

    def stop(self, mode: str = "immediate") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def url(self, db: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"

    def connect(self, db: str):
        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=db, autocommit=True)

    def cleanup(self) -> None:
        try:
            self.stop("immediate")
        except (subprocess.SubprocessError, OSError):
            pass  # already stopped
        shutil.rmtree(self.dir, ignore_errors=True)


class GiftStream:
    """Two clients creating gifts back to back; every answer (or failure to answer) is recorded."""

    def __init__(self, base: str, token: str, sku_id: int):
        self.base, self.sku_id = base, sku_id
        self.headers = {"Authorization": f"Token {token}"}
        self.records: list[dict] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(2)]

    def _run(self) -> None:
        session = requests.Session()
        while not self.stopping.is_set():
            record = {"sent": time.monotonic()}
            try:
                r = session.post(
                    f"{self.base}/api/v1/gifts/",
                    json={"sku_id": self.sku_id, "mode": "single"},
                    headers=self.headers,
                    timeout=REQUEST_TIMEOUT,
                )
                record.update(status=r.status_code, retry_after=r.headers.get("Retry-After"))
                try:
                    record["body"] = r.json()
                except ValueError:
                    record["body"] = r.text[:300]
            except requests.RequestException as exc:
                record.update(status=None, error=repr(exc))
            record["answered"] = time.monotonic()
            with self.lock:
                self.records.append(record)
            time.sleep(0.02)

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def stop(self) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join(REQUEST_TIMEOUT + 5)

    def count(self, *, status: int, sent_after: float = 0.0) -> int:
        with self.lock:
            return sum(1 for r in self.records if r["status"] == status and r["sent"] > sent_after)

    def answered_after(self, moment: float) -> int:
        with self.lock:
            return sum(1 for r in self.records if r["sent"] > moment)


@pytest.mark.worker
def test_requests_fail_cleanly_while_postgres_restarts_and_no_gift_is_half_written():
    pg = PrivatePostgres()
    server = None
    server_log = pg.dir / "gunicorn.log"
    try:
        pg.init()
        pg.start()
        with pg.connect("postgres") as conn:
            conn.execute("CREATE DATABASE giftshop_drill")
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "giftshop.settings.test",
            "DATABASE_URL": pg.url("giftshop_drill") + "?conn_max_age=60&conn_health_checks=true",
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "LOG_FORMAT": "plain",
        }
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, check=True, timeout=180)
        subprocess.run([*manage, "load_demo"], env=env, cwd=ROOT, check=True, timeout=120, capture_output=True)

        app_port = free_port()
        gunicorn = Path(sys.executable).parent / "gunicorn"
        with open(server_log, "wb") as log:
            server = subprocess.Popen(
                [str(gunicorn), "giftshop.wsgi", "-b", f"127.0.0.1:{app_port}", "-w", "2", "--timeout", "30"],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        base = f"http://127.0.0.1:{app_port}"

        def healthy():
            try:
                return requests.get(f"{base}/healthz", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_for(healthy, what="gunicorn to answer /healthz")
        token = requests.post(
            f"{base}/api/v1/auth/token/", json={"username": "alice", "password": "giftshop-demo"}, timeout=10
        ).json()["token"]

        with pg.connect("giftshop_drill") as conn:
            candidates = [
                row[0] for row in conn.execute("SELECT id FROM shops_sku WHERE stock > 0 ORDER BY stock DESC")
            ]
            last_gift_before = conn.execute("SELECT coalesce(max(id), 0) FROM gifts_gift").fetchone()[0]
        sku_id = next(
            (
                sku
                for sku in candidates
                if requests.post(
                    f"{base}/api/v1/gifts/",
                    json={"sku_id": sku, "mode": "single"},
                    headers={"Authorization": f"Token {token}"},
                    timeout=10,
                ).status_code
                == 201
            ),
            None,
        )
        assert sku_id is not None, "no demo SKU with stock that alice may gift"
        with pg.connect("giftshop_drill") as conn:
            conn.execute("UPDATE shops_sku SET stock = 100000 WHERE id = %s", [sku_id])  # enough for any stream
            initial_stock = conn.execute("SELECT stock FROM shops_sku WHERE id = %s", [sku_id]).fetchone()[0]
            first_gift = conn.execute("SELECT max(id) FROM gifts_gift").fetchone()[0] + 1

        stream = GiftStream(base, token, sku_id)
        stream.start()
        try:
            wait_for(lambda: stream.count(status=201) >= 5, what="gifts created before the outage")
            pg.stop("immediate")
            down_at = time.monotonic()
            wait_for(lambda: stream.answered_after(down_at) >= 4, what="answers while the database is down")
            pg.start()
            up_at = time.monotonic()
            wait_for(lambda: stream.count(status=201, sent_after=up_at) >= 5, what="gifts created after the restart")
        finally:
            stream.stop()

        records = stream.records
        unanswered = [r for r in records if r["status"] is None]
        assert not unanswered, f"requests without an answer within {REQUEST_TIMEOUT}s: {unanswered[:3]}"
        assert {r["status"] for r in records} <= {201, 503}, [r for r in records if r["status"] not in (201, 503)][:3]
        outage = [r for r in records if r["status"] == 503]
        assert outage, "no request saw the outage"
        for r in outage:
            assert r["body"]["code"] == "service_unavailable"
            assert r["retry_after"]
        created_ids = {r["body"]["id"] for r in records if r["status"] == 201}
        print(f"drill: {len(created_ids)} gifts created, {len(outage)} answered 503 during the outage")

        with pg.connect("giftshop_drill") as conn:
            gifts = conn.execute(
                "SELECT g.id, g.quantity * g.recipients_count, g.recipients_count,"
                " (SELECT count(*) FROM gifts_slot s WHERE s.gift_id = g.id),"
                " (SELECT count(*) FROM gifts_payment p WHERE p.gift_id = g.id)"
                " FROM gifts_gift g WHERE g.id > %s AND g.sku_id = %s",
                [last_gift_before, sku_id],
            ).fetchall()
            stock = conn.execute("SELECT stock FROM shops_sku WHERE id = %s", [sku_id]).fetchone()[0]
        half_written = [g for g in gifts if g[3] != g[2] or g[4] != 1]
        assert not half_written, f"gifts without all their slots or their payment: {half_written}"
        existing = {g[0] for g in gifts}
        assert created_ids <= existing, "a gift answered 201 is missing"
        units_since_probe = sum(g[1] for g in gifts if g[0] >= first_gift)
        assert stock == initial_stock - units_since_probe
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"{exc.cmd[:4]} failed: {exc.stderr or exc.stdout}")
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
        pg.cleanup()

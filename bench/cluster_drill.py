"""`make drill-cluster`: the app on several hosts (network namespaces made here), real journeys
through a load balancer, and four faults while they run.

Hosts, each a network namespace with one veth link to a bridge that lives in a namespace of its
own (nothing is added to the machine's own network namespace, no port of it is used):

    client 10.77.0.50 ──┐
    lb     10.77.0.2  ──┤ HAProxy, health-checks /readyz on both web hosts
    web1   10.77.0.11 ──┤ gunicorn, production settings
    web2   10.77.0.12 ──┤ gunicorn, production settings
    worker1 10.77.0.21 ─┤ celery worker
    worker2 10.77.0.22 ─┤ celery worker + celery beat
    db     10.77.0.31 ──┤ PostgreSQL primary (initdb in a temporary directory)
    replica 10.77.0.32 ─┤ PostgreSQL streaming replica (pg_basebackup of db)
    broker 10.77.0.41 ──┤ RabbitMQ (a node of its own: own data directory, cookie, epmd)
    cache  10.77.0.42 ──┘ Redis (cache, throttles, read-your-writes pins)

The client runs journeys (create, pay through the sandbox gateway, grab, accept, decline; the
sandbox courier then ships and delivers) while the drill stops web1, kills worker1 mid-batch,
stops the replica and cuts the broker off for 20 s. Afterwards it checks the database: every
journey's gift exists once and ended where it should, every refund settled once, one waybill
per parcel, stock adds up; reads that followed a write saw it. It prints requests by status
code and each fault's recovery time. Everything it started is stopped and every namespace
deleted at the end, failure or not.

Run as root: `make drill-cluster` (installs haproxy if missing). DRILL_SECONDS stretches the load.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).absolute().parent.parent
PY = str(Path(sys.executable))
PREFIX = "gsdrill-"
NET = "10.77.0"
HOSTS = {
    "lb": 2,
    "web1": 11,
    "web2": 12,
    "worker1": 21,
    "worker2": 22,
    "db": 31,
    "replica": 32,
    "broker": 41,
    "cache": 42,
    "client": 50,
}
PG_BIN = (
    Path(sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))[-1]).parent
    if Path("/usr/lib/postgresql").exists()
    else None
)
RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")


def ip(host: str) -> str:
    return f"{NET}.{HOSTS[host]}"


def log(msg: str) -> None:
    print(f"[drill {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(*cmd: str, check: bool = True, timeout: float = 300, env=None, capture: bool = True) -> str:
    done = subprocess.run(  # noqa: S603 (our own commands)
        list(cmd), capture_output=capture, text=True, timeout=timeout, env=env
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr or done.stdout}")
    return done.stdout or ""


# ----- network -----


class Network:
    """A bridge in a hub namespace and one namespace per host, each linked to the bridge by a veth pair."""

    def __init__(self):
        self.hub = PREFIX + "hub"
        self.made: list[str] = []

    def ns(self, host: str) -> str:
        return PREFIX + host

    @staticmethod
    def leftovers() -> list[str]:
        names = run("ip", "netns", "list").split("\n")
        return [n.split()[0] for n in names if n.startswith(PREFIX)]

    def up(self) -> None:
        for name in self.leftovers():  # a drill killed before its clean-up
            self._delete(name)
        run("ip", "netns", "add", self.hub)
        self.made.append(self.hub)
        run("ip", "-n", self.hub, "link", "add", "br0", "type", "bridge")
        run("ip", "-n", self.hub, "link", "set", "br0", "up")
        for host in HOSTS:
            ns = self.ns(host)
            run("ip", "netns", "add", ns)
            self.made.append(ns)
            run("ip", "-n", ns, "link", "set", "lo", "up")
            run("ip", "-n", self.hub, "link", "add", f"v-{host}", "type", "veth", "peer", "name", "eth0", "netns", ns)
            run("ip", "-n", self.hub, "link", "set", f"v-{host}", "master", "br0", "up")
            run("ip", "-n", ns, "addr", "add", f"{ip(host)}/24", "dev", "eth0")
            run("ip", "-n", ns, "link", "set", "eth0", "up")

    def cut(self, host: str) -> None:
        run("ip", "-n", self.hub, "link", "set", f"v-{host}", "down")

    def restore(self, host: str) -> None:
        run("ip", "-n", self.hub, "link", "set", f"v-{host}", "up")

    @staticmethod
    def _delete(name: str) -> None:
        for pid in run("ip", "netns", "pids", name, check=False).split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)  # only processes inside the drill's own namespaces
        run("ip", "netns", "del", name, check=False)

    def down(self) -> None:
        for name in reversed(self.made):
            self._delete(name)
        self.made.clear()


# ----- processes -----


class Proc:
    def __init__(self, name: str, ns: str, cmd: list[str], *, env: dict, log_dir: Path, user: str | None = None):
        self.name, self.ns, self.cmd, self.env = name, ns, cmd, env
        self.log_path = log_dir / f"{name}.log"
        self.user = user
        self.proc: subprocess.Popen | None = None

    def start(self) -> Proc:
        cmd = ["ip", "netns", "exec", self.ns]
        if self.user:
            cmd += ["runuser", "-u", self.user, "--"]
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(  # noqa: S603
                cmd + self.cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def send(self, sig: int) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)

    def stop(self, sig: int = signal.SIGTERM, wait: float = 30) -> None:
        if not self.alive():
            return
        self.send(sig)
        try:
            self.proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            self.send(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def kill(self) -> None:
        self.send(signal.SIGKILL)
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)

    def tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def wait_until(check, what: str, timeout: float = 120, every: float = 0.5):
    end = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except Exception:  # noqa: BLE001 (not up yet)
            result = None
        if result:
            return result
        if time.monotonic() > end:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(every)


# ----- the drill -----


class Cluster:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.net = Network()
        self.procs: dict[str, Proc] = {}
        self.logs = tmp / "logs"
        self.logs.mkdir()
        self.db_sock = tmp / "db-sock"
        self.replica_sock = tmp / "replica-sock"
        from cryptography.fernet import Fernet

        self.app_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "giftshop.settings.production",
            "SECRET_KEY": secrets.token_urlsafe(40),
            "PII_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "DATABASE_URL": f"postgres://postgres@{ip('db')}:5432/giftshop",
            "DATABASE_REPLICA_URL": f"postgres://postgres@{ip('replica')}:5432/giftshop",
            "CELERY_BROKER_URL": f"amqp://guest:guest@{ip('broker')}:5672//",
            "CACHE_URL": f"redis://{ip('cache')}:6379/0",
            "ALLOWED_HOSTS": "*",
            "SECURE_SSL_REDIRECT": "False",
            "ALLOW_SANDBOX": "True",
            "SANDBOX_ENABLED": "True",
            "SANDBOX_PAYMENT_SECRET": secrets.token_hex(16),
            "SANDBOX_CARRIER_SECRET": secrets.token_hex(16),
            "SANDBOX_CALLBACK_BASE_URL": f"http://{ip('lb')}",
            "SANDBOX_CARRIER_SCAN_DELAYS": "2,4,6",
            "NUM_PROXIES": "1",
            "THROTTLE_AUTH": "100000/min",
            "THROTTLE_CLAIM": "100000/min",
            "THROTTLE_CLAIM_IP": "100000/min",
            "READYZ_CHECKS_BROKER": "False",
            "OUTBOX_SWEEP_SECONDS": "2",
            "OUTBOX_RETRY_SECONDS": "8",
            "REPLICA_MAX_LAG_SECONDS": "5",
            "REPLICA_CHECK_SECONDS": "1",
            "LOG_FORMAT": "plain",
            "STATIC_ROOT": str(tmp / "static"),
            "CONN_MAX_AGE": "60",
        }

    # -- services --

    def start(self, name: str, host: str, cmd: list[str], *, env=None, user=None) -> Proc:
        proc = Proc(name, self.net.ns(host), cmd, env=env or self.app_env, log_dir=self.logs, user=user).start()
        self.procs[name] = proc
        return proc

    def pg(self, *args: str, host: str) -> str:
        return run("ip", "netns", "exec", self.net.ns(host), "runuser", "-u", "postgres", "--", *args)

    def start_postgres(self, host: str, data: Path, sock: Path) -> Proc:
        sock.mkdir(exist_ok=True)
        shutil.chown(sock, user="postgres")
        return self.start(
            host,
            host,
            [
                str(PG_BIN / "postgres"),
                "-D",
                str(data),
                "-c",
                "listen_addresses=*",
                "-c",
                "port=5432",
                "-c",
                f"unix_socket_directories={sock}",
                "-c",
                "max_connections=200",
                "-c",
                "fsync=off",  # a drill of the app's behaviour, not of the disk: no flush per commit
            ],
            env={"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"},
            user="postgres",
        )

    def psql_ready(self, sock: Path) -> bool:
        import psycopg

        with psycopg.connect(host=str(sock), port=5432, user="postgres", dbname="postgres", connect_timeout=2):
            return True

    def db(self, sql: str, params=()) -> list[tuple]:
        """A query on the primary through its Unix socket (the drill's own view of the truth)."""
        import psycopg

        with (
            psycopg.connect(
                host=str(self.db_sock), port=5432, user="postgres", dbname="giftshop", connect_timeout=3
            ) as conn,
            conn.cursor() as cur,
        ):
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def up(self) -> None:
        log(f"network: {len(HOSTS)} namespaces on a bridge ({NET}.0/24), in {self.tmp}")
        self.net.up()

        log("db: initdb and start the primary")
        data = self.tmp / "db"
        data.mkdir()
        shutil.chown(data, user="postgres")
        self.pg(
            str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8",
            "--no-locale", host="db",
        )  # fmt: skip
        with open(data / "pg_hba.conf", "a") as hba:
            hba.write(f"host all all {NET}.0/24 trust\nhost replication all {NET}.0/24 trust\n")
        self.start_postgres("db", data, self.db_sock)
        wait_until(lambda: self.psql_ready(self.db_sock), "the primary")
        self.pg(str(PG_BIN / "createdb"), "-h", str(self.db_sock), "giftshop", host="db")

        log("broker: a RabbitMQ node of its own; cache: redis-server")
        self.start_rabbitmq()
        self.start(
            "cache",
            "cache",
            ["redis-server", "--bind", ip("cache"), "--port", "6379", "--save", "", "--appendonly", "no",
             "--protected-mode", "no"],
        )  # fmt: skip

        log("schema and data (migrate, collectstatic, a shop and accounts)")
        self.manage("migrate", "--noinput", "-v0")
        self.manage("collectstatic", "--noinput", "-v0")
        run(
            "ip", "netns", "exec", self.net.ns("client"), PY, __file__, "setup", "--data", str(self.tmp / "data.json"),
            env=self.app_env, timeout=600,
        )  # fmt: skip

        log("replica: pg_basebackup from the primary, then start it as a hot standby")
        rdata = self.tmp / "replica"
        rdata.mkdir(mode=0o700)
        shutil.chown(rdata, user="postgres")
        self.pg(
            str(PG_BIN / "pg_basebackup"), "-h", ip("db"), "-U", "postgres", "-D", str(rdata), "-X", "stream", "-R",
            "-c", "fast", host="replica",
        )  # fmt: skip
        self.start_postgres("replica", rdata, self.replica_sock)
        wait_until(lambda: self.psql_ready(self.replica_sock), "the replica")

        log("web1, web2 (gunicorn -w 2), worker1, worker2 (celery -c 2), beat on worker2, lb (HAProxy)")
        for web in ("web1", "web2"):
            self.start_web(web)
        for worker in ("worker1", "worker2"):
            self.start_worker(worker)
        self.start(
            "beat", "worker2", [PY, "-m", "celery", "-A", "giftshop", "beat", "-l", "info", "-s",
                                str(self.tmp / "beat-schedule")],
        )  # fmt: skip
        self.start_lb()
        wait_until(lambda: self.lb_status() == {"web1": "UP", "web2": "UP"}, "both web hosts UP at the lb", 180)

    def manage(self, *args: str) -> None:
        run("ip", "netns", "exec", self.net.ns("client"), PY, "manage.py", *args, env=self.app_env, timeout=900)

    def start_rabbitmq(self) -> None:
        home = self.tmp / "rabbitmq"
        home.mkdir()
        (home / "rabbitmq.conf").write_text("loopback_users = none\nlisteners.tcp.default = 5672\n")
        (home / "enabled_plugins").write_text("[].\n")
        cookie = home / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(16))
        cookie.chmod(0o400)
        self.rabbit_env = {
            "PATH": os.environ.get("PATH", ""),
            "LANG": "C.UTF-8",
            "HOME": str(home),
            "RABBITMQ_NODENAME": "rabbit@localhost",
            "RABBITMQ_MNESIA_BASE": str(home / "mnesia"),
            "RABBITMQ_LOG_BASE": str(home / "log"),
            "RABBITMQ_CONFIG_FILE": str(home / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(home / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(home / "pid"),
        }
        self.start("broker", "broker", [str(RABBIT_BIN / "rabbitmq-server")], env=self.rabbit_env)
        ctl = ["ip", "netns", "exec", self.net.ns("broker"), str(RABBIT_BIN / "rabbitmqctl"), "-q"]
        # The node registers with epmd a few seconds after it starts; until then the CLI fails at once.
        wait_until(lambda: run(*ctl, "await_startup", "--timeout", "5", env=self.rabbit_env) is not None, "RabbitMQ")

    def start_web(self, web: str) -> Proc:
        return self.start(
            web,
            web,
            [PY, "-m", "gunicorn", "giftshop.wsgi", "-w", "2", "-b", f"{ip(web)}:8000", "--timeout", "60",
             "--graceful-timeout", "20", "--access-logfile", "-"],
        )  # fmt: skip

    def start_worker(self, worker: str) -> Proc:
        return self.start(
            worker,
            worker,
            [PY, "-m", "celery", "-A", "giftshop", "worker", "-l", "info", "-c", "2", "-n", f"{worker}@drill",
             "--without-gossip", "--without-mingle"],
        )  # fmt: skip

    def start_lb(self) -> None:
        haproxy = shutil.which("haproxy")
        if haproxy is None:
            raise RuntimeError("haproxy is not installed: `make drill-cluster` installs it (apt-get install haproxy)")
        self.lb_sock = self.tmp / "haproxy.sock"
        cfg = self.tmp / "haproxy.cfg"
        cfg.write_text(
            f"""global
    maxconn 2000
    stats socket {self.lb_sock} mode 600 level admin

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout check 3s
    # A request that never reached a web host (connection refused or timed out) goes to the
    # other one. A GET is also sent again when a host closed its connection without answering
    # (a stopping gunicorn drops what waits in its accept queue); a POST never is: it might have
    # been done, and the client decides.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response

frontend www
    bind {ip("lb")}:80
    option forwardfor
    http-request disable-l7-retry unless METH_GET
    default_backend web

backend web
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 1s fall 2 rise 2
    server web1 {ip("web1")}:8000 check
    server web2 {ip("web2")}:8000 check
"""
        )
        self.start("lb", "lb", [haproxy, "-db", "-f", str(cfg)], env={"PATH": os.environ.get("PATH", "")})

    def lb_status(self) -> dict[str, str]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect(str(self.lb_sock))
            s.sendall(b"show stat\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        status = {}
        for line in data.decode().splitlines():
            fields = line.split(",")
            if len(fields) > 17 and fields[0] == "web" and fields[1] in ("web1", "web2"):
                status[fields[1]] = fields[17].split()[0]
        return status

    def down(self) -> None:
        for proc in reversed(list(self.procs.values())):
            with contextlib.suppress(Exception):
                proc.stop(wait=15)
        self.net.down()


# ----- faults, in order, while the journeys run -----


def outbox_backlog_before(cluster: Cluster, moment: float) -> int:
    """Outbox jobs recorded before `moment` (a time.time()) that have not run to the end yet."""
    return cluster.db(
        "SELECT count(*) FROM outbox_job WHERE created_at <= to_timestamp(%s) AND failed_at IS NULL", (moment,)
    )[0][0]


def until(check, timeout: float, every: float = 0.25) -> float | None:
    start = time.time()
    while time.time() - start < timeout:
        with contextlib.suppress(Exception):
            if check():
                return time.time() - start
        time.sleep(every)
    return None


def tasks_in_flight(log_path: Path) -> set[str]:
    """Task ids a worker received and has not finished, from its log (Celery's own lines)."""
    received, finished = set(), set()
    for line in log_path.read_text(errors="replace").splitlines():
        if "[" not in line or "]" not in line:
            continue
        task_id = line.split("[", 1)[1].split("]", 1)[0]
        if line.rstrip().endswith(" received"):
            received.add(task_id)
        elif " succeeded in " in line or " raised unexpected" in line or " retry:" in line:
            finished.add(task_id)
    return received - finished


def run_faults(cluster: Cluster, faults: list[dict], scale: float) -> list[threading.Thread]:
    """The four faults on a fixed timeline; recoveries are measured by watchers beside it."""
    watchers: list[threading.Thread] = []

    def watch(fault: dict, key: str, check, timeout: float, since: float) -> None:
        """fault[key] = seconds from `since` until check() holds (None: not within timeout)."""

        def measure() -> None:
            took = until(check, timeout)
            fault[key] = None if took is None else time.time() - since

        thread = threading.Thread(target=measure, daemon=True)
        thread.start()
        watchers.append(thread)

    def at(offset: float) -> None:
        time.sleep(max(0.0, t0 + offset * scale - time.time()))

    t0 = time.time()
    at(15)
    log("fault 1: stop web1 (gunicorn gets SIGTERM, finishes what it holds)")
    web1 = {"fault": "web1 stopped", "at": time.time()}
    cluster.procs["web1"].stop(signal.SIGTERM)
    watch(web1, "detected_s", lambda: cluster.lb_status().get("web1") == "DOWN", 60, web1["at"])
    faults.append(web1)

    at(30)
    worker_log = cluster.procs["worker1"].log_path
    held = until(lambda: tasks_in_flight(worker_log), 20, every=0.05)
    in_flight = sorted(tasks_in_flight(worker_log))
    log(f"fault 2: kill -9 worker1 mid-batch (holding {len(in_flight)} tasks: {', '.join(in_flight[:4])})")
    worker1 = {"fault": "worker1 killed", "at": time.time(), "in_flight": len(in_flight), "waited_s": held}
    cluster.procs["worker1"].kill()
    job_ids = [int(t.removeprefix("outbox-")) for t in in_flight if t.startswith("outbox-")]
    watch(
        worker1,
        "recovered_s",
        lambda: not cluster.db("SELECT count(*) FROM outbox_job WHERE id = ANY(%s)", (job_ids,))[0][0],
        240,
        worker1["at"],
    )
    faults.append(worker1)

    at(45)
    log("fault 3: stop the replica (immediate shutdown)")
    faults.append({"fault": "replica stopped", "at": time.time()})
    cluster.procs["replica"].stop(signal.SIGQUIT)

    at(55)
    log("fault 4: cut the broker off the network for 20 s")
    broker = {"fault": "broker cut off 20 s", "at": time.time()}
    cluster.net.cut("broker")
    time.sleep(20)
    cluster.net.restore("broker")
    broker["restored_at"] = time.time()
    log("broker back on the network")
    watch(
        broker,
        "recovered_s",
        lambda: outbox_backlog_before(cluster, broker["restored_at"]) == 0,
        300,
        broker["restored_at"],
    )
    faults.append(broker)

    at(85)
    log("bringing web1, worker1 and the replica back")
    back = time.time()
    cluster.start_web("web1")
    cluster.start_worker("worker1")
    cluster.start_postgres("replica", cluster.tmp / "replica", cluster.replica_sock)
    web1["back_at"] = faults[2]["back_at"] = back
    watch(web1, "back_up_s", lambda: cluster.lb_status().get("web1") == "UP", 120, back)
    return watchers


# ----- the journeys (run inside the client namespace) -----


class Http:
    def __init__(self, base: str, out):
        self.base, self.out, self.lock = base, out, threading.Lock()

    def call(self, method: str, path: str, label: str, *, token=None, body=None, retry: bool = True, final=True):
        """One logical call: a 502/503/504 or a dropped connection is tried again (up to 5 times,
        a second apart) unless retry is False; every attempt is recorded, and the last one is
        recorded once more as the call's outcome (label "final")."""
        for _ in range(5):
            status, payload = self.attempt(method, path, label, token=token, body=body)
            if not retry or not (str(status).startswith("error") or status in (502, 503, 504)):
                break
            time.sleep(1)
        if final:
            self.record(label="final", start=time.time(), end=time.time(), status=status, call=label)
        return status, payload

    def attempt(self, method: str, path: str, label: str, *, token=None, body=None, accept_json=True):
        data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if token:
            req.add_header("Authorization", f"Token {token}")
        if body is not None:
            req.add_header("Content-Type", "application/json")
        if accept_json:
            req.add_header("Accept", "application/json")
        start = time.time()
        status, payload = None, None
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 (our own lb)
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            status, raw = f"error:{exc.__class__.__name__}", b""
        with contextlib.suppress(ValueError):
            payload = json.loads(raw) if raw else None
        self.record(label=label, start=start, end=time.time(), status=status)
        return status, payload

    def record(self, **row) -> None:
        with self.lock:
            self.out.write(json.dumps(row) + "\n")
            self.out.flush()


ADDRESS = {
    "name": "演练收件人",
    "phone": "13800138000",
    "province": "广东省",
    "city": "深圳市",
    "district": "南山区",
    "detail": "科技园南路 88 号",
}


def journey(http: Http, data: dict, n: int, kind: str, results: list) -> None:
    sender = data["senders"][n % len(data["senders"])]
    recipients = data["recipients"]
    mine = [recipients[(2 * n) % len(recipients)], recipients[(2 * n + 1) % len(recipients)]]
    tag = f"drill-{n}"
    body = {"sku_id": data["sku_id"], "recipients": 2 if kind == "group" else 1, "message": tag}
    if kind == "group":
        body["mode"] = "group"
    # Creating is not idempotent: after an answer that says nothing (502, a dropped connection) the
    # client looks in its own list (read-your-writes) before it tries again.
    for _ in range(5):
        status, gift = http.call("POST", "/api/v1/gifts/", "create", token=sender, body=body, retry=False, final=False)
        if status == 201 or isinstance(status, int) and status < 500:
            break
        time.sleep(1)
        _, listing = http.call("GET", "/api/v1/gifts/", "list-own", token=sender)
        found = None
        for row in (listing or {}).get("results", [])[:10]:
            _, detail = http.call("GET", f"/api/v1/gifts/{row['id']}/", "gift", token=sender)
            if (detail or {}).get("message") == tag:
                found = detail
                break
        if found is not None:
            status, gift = 201, found
            break
    http.record(label="final", start=time.time(), end=time.time(), status=status, call="create")
    outcome = {"n": n, "kind": kind, "tag": tag, "created": status == 201}
    results.append(outcome)
    if status != 201:
        return
    gift_id = gift["id"]
    # Read-your-writes: the sender's own list, right after creating (served from the primary).
    status, listing = http.call("GET", "/api/v1/gifts/", "list-own", token=sender)
    if status == 200 and gift_id not in [g["id"] for g in listing["results"]]:
        http.record(label="stale-read", start=time.time(), end=time.time(), status="created gift missing")
    status, _ = http.call("POST", f"/sandbox/pay/{gift['payment']['out_trade_no']}/", "pay")
    outcome["paid"] = status == 200
    deadline = time.time() + 120
    token = None
    while time.time() < deadline:  # the payment notice comes back through a worker
        status, detail = http.call("GET", f"/api/v1/gifts/{gift_id}/", "gift", token=sender)
        if status == 200 and detail["status"] == "sent":
            token = detail["claim_url"].rstrip("/").rsplit("/", 1)[-1]
            break
        time.sleep(1)
    if token is None:
        outcome["stuck"] = "never sent"
        return
    claim = f"/api/v1/claims/{token}/"
    takers = mine if kind == "group" else mine[:1]
    for who in takers:
        if kind == "group":
            grabbed, _ = http.call("POST", claim + "grab/", "grab", token=who)
            status, card = http.call("GET", claim, "card-after-write", token=who)
            if grabbed == 200 and status == 200 and not card.get("your_slot"):
                http.record(label="stale-read", start=time.time(), end=time.time(), status="grab not seen")
        if kind == "decline":
            answered, _ = http.call("POST", claim + "decline/", "decline", token=who)
            expect = ("declined", "refunded")
        else:
            answered, _ = http.call("POST", claim + "accept/", "accept", token=who, body={"address": ADDRESS})
            expect = ("accepted", "processing", "to_ship", "shipped", "delivered")
        outcome.setdefault("answers", []).append(answered)
        status, card = http.call("GET", claim, "card-after-write", token=who)
        seen = (card or {}).get("your_slot") or {}
        if answered in (200, 202) and status == 200 and seen.get("status") not in expect:
            http.record(label="stale-read", start=time.time(), end=time.time(), status=f"saw {seen.get('status')}")


def run_journeys(args) -> None:
    data = json.loads(Path(args.data).read_text())
    results: list[dict] = []
    stop_at = time.time() + args.seconds
    counter = iter(range(10**6))
    lock = threading.Lock()
    kinds = ["accept", "decline", "group"]
    with open(args.out, "w") as out:
        http = Http(f"http://{ip('lb')}", out)

        def loop() -> None:
            while time.time() < stop_at:
                with lock:
                    n = next(counter)
                try:
                    journey(http, data, n, kinds[n % len(kinds)], results)
                except Exception as exc:  # noqa: BLE001 (recorded, never hidden)
                    http.record(label="journey-crash", start=time.time(), end=time.time(), status=repr(exc)[:200])

        def ready_probe() -> None:
            while time.time() < stop_at + 5:
                start = time.time()
                try:
                    with urllib.request.urlopen(f"http://{ip('lb')}/readyz", timeout=5) as resp:  # noqa: S310
                        replica = json.loads(resp.read())["checks"].get("replica")
                except Exception as exc:  # noqa: BLE001
                    replica = f"error:{exc.__class__.__name__}"
                http.record(label="readyz-replica", start=start, end=time.time(), status=replica)
                time.sleep(0.5)

        threads = [threading.Thread(target=loop) for _ in range(args.clients)]
        threads.append(threading.Thread(target=ready_probe))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    Path(args.results).write_text(json.dumps(results))


# ----- data and checks (run inside the client namespace, production settings) -----


def setup_data(args) -> None:
    import django

    django.setup()
    sys.path.insert(0, str(ROOT))
    from bench.common import bulk_users, catalogue

    cat = catalogue(slug="drill", stock=100_000, merchant_username="drill-merchant")
    senders = [t for _, t in bulk_users("drill-sender-", 8, with_tokens=True)]
    recipients = [t for _, t in bulk_users("drill-recipient-", 400, with_tokens=True)]
    Path(args.data).write_text(
        json.dumps({"sku_id": cat.sku.pk, "stock": 100_000, "senders": senders, "recipients": recipients})
    )


def verify(args) -> None:
    """What the database says after the run: printed as one JSON object."""
    import django

    django.setup()
    from django.db.models import Count

    from fulfilment.models import Shipment
    from gifts.models import Gift, Slot
    from outbox.models import Job
    from payments.models import Payment, Refund
    from sandbox.models import SandboxWaybill
    from shops.models import Sku

    data = json.loads(Path(args.data).read_text())
    journeys = json.loads(Path(args.results).read_text())
    problems: list[str] = []
    by_tag = {g.message: g for g in Gift.objects.filter(message__startswith="drill-")}
    twice = Gift.objects.values("message").annotate(n=Count("id")).filter(n__gt=1, message__startswith="drill-")
    problems += [f"{row['message']}: {row['n']} gifts for one journey" for row in twice]
    expected_final = {"accept": {"delivered"}, "decline": {"refunded"}, "group": {"delivered"}}
    finals: Counter = Counter()
    for j in journeys:
        gift = by_tag.get(j["tag"])
        if j["created"] and gift is None:
            problems.append(f"{j['tag']}: created (201) but no gift")
            continue
        if gift is None or not j.get("answers"):
            continue  # never created, or stopped before anyone answered (the run ended): nothing promised
        statuses = set(Slot.objects.filter(gift=gift, recipient__isnull=False).values_list("status", flat=True))
        finals[(j["kind"], ",".join(sorted(statuses)))] += 1
        if not statuses <= expected_final[j["kind"]]:
            problems.append(f"{j['tag']} ({j['kind']}): slots {sorted(statuses)}")
    refunds = Refund.objects.filter(payment__gift__message__startswith="drill-")
    twice_refunded = refunds.values("slot_id", "reason").annotate(n=Count("id")).filter(n__gt=1)
    problems += [f"slot {r['slot_id']}: {r['n']} refunds" for r in twice_refunded]
    unsettled = refunds.exclude(status="succeeded").count()
    declined = Slot.objects.filter(gift__message__startswith="drill-", status="refunded").count()
    drill_slots = Slot.objects.filter(gift__message__startswith="drill-")
    with_waybill = Shipment.objects.filter(slot__in=drill_slots).exclude(waybill_no="")
    issued = SandboxWaybill.objects.filter(
        request_key__in=[f"slot-{pk}" for pk in drill_slots.values_list("pk", flat=True)]
    )
    shipments_without = Shipment.objects.filter(slot__in=drill_slots, waybill_no="").count()
    paid_twice = Payment.objects.filter(gift__message__startswith="drill-").values("gift").annotate(
        n=Count("id")
    ).filter(n__gt=1).count()  # fmt: skip
    sku = Sku.objects.get(pk=data["sku_id"])
    taken_units = drill_slots.exclude(status__in=["refunded", "expired", "declined"]).count()
    pending_jobs = Job.objects.filter(failed_at__isnull=True).count()
    failed_jobs = Job.objects.filter(failed_at__isnull=False).count()
    if unsettled:
        problems.append(f"{unsettled} refunds not settled")
    if issued.count() != with_waybill.count():
        problems.append(f"the courier issued {issued.count()} waybills for {with_waybill.count()} parcels")
    if data["stock"] - sku.stock != taken_units:
        problems.append(f"stock fell by {data['stock'] - sku.stock} for {taken_units} slots that hold a unit")
    if paid_twice:
        problems.append(f"{paid_twice} gifts with more than one payment")
    if failed_jobs:
        problems.append(f"{failed_jobs} outbox jobs gave up")
    print(
        json.dumps(
            {
                "gifts": len(by_tag),
                "journeys": len(journeys),
                "finals": {f"{k[0]}: {k[1]}": v for k, v in sorted(finals.items())},
                "refunds": refunds.count(),
                "refunded_slots": declined,
                "waybills": issued.count(),
                "shipments_without_waybill": shipments_without,
                "stock_left": sku.stock,
                "stock_start": data["stock"],
                "slots_holding_a_unit": taken_units,
                "pending_jobs": pending_jobs,
                "problems": problems,
            }
        )
    )


# ----- report -----


def report(rows: list[dict], faults: list[dict], checks: dict, started: float, clients: int) -> bool:
    requests = [r for r in rows if r["label"] not in ("readyz-replica", "stale-read", "journey-crash", "final")]
    finals = [r for r in rows if r["label"] == "final"]
    by_status = Counter(str(r["status"]) for r in requests)
    by_label = Counter((r["label"], str(r["status"])) for r in requests)
    stale = [r for r in rows if r["label"] == "stale-read"]
    crashes = [r for r in rows if r["label"] == "journey-crash"]
    errors = [r for r in requests if not (isinstance(r["status"], int) and r["status"] < 500)]
    print()
    print(f"== cluster drill: {len(requests)} requests from {clients} clients through the lb ==")
    print("requests by status code: " + ", ".join(f"{k}: {v}" for k, v in sorted(by_status.items())))
    for (label, status), n in sorted(by_label.items()):
        print(f"   {label:<18} {status:<24} {n}")
    print("faults (seconds after the fault):")
    probes = sorted((r for r in rows if r["label"] == "readyz-replica"), key=lambda r: r["start"])
    for f in faults:
        window_end = f.get("restored_at", f["at"]) + 30
        during = [r for r in errors if f["at"] <= r["start"] <= window_end]
        slow = max((r["end"] - r["start"] for r in requests if f["at"] <= r["start"] <= window_end), default=0)
        line = f"   {f['fault']:<22} errors in the 30 s after: {len(during)}, slowest answer {slow:.1f} s"
        if f["fault"] == "web1 stopped":
            line += f"; lb marked web1 DOWN after {fmt(f.get('detected_s'))}, UP again {fmt(f.get('back_up_s'))} after restart"
        elif f["fault"] == "worker1 killed":
            line += f"; the {f['in_flight']} task(s) it held all done after {fmt(f.get('recovered_s'))}"
        elif f["fault"] == "replica stopped":
            fell = next(
                (p["start"] - f["at"] for p in probes if p["start"] >= f["at"] and p["status"] == "fallback"), None
            )
            back = next((p["start"] - f["back_at"] for p in probes if p["start"] >= f.get("back_at", 1e18) and p["status"] == "ok"), None)  # fmt: skip
            line += f"; reads on the primary after {fmt(fell)}, replica in use again {fmt(back)} after restart"
        else:
            line += f"; work recorded during the cut all done {fmt(f.get('recovered_s'))} after it ended"
        print(line)
    print(f"reads after a write that missed it: {len(stale)}")
    print("database: " + json.dumps({k: v for k, v in checks.items() if k != "problems"}, ensure_ascii=False))
    problems = list(checks.get("problems", []))
    if stale:
        problems.append(f"{len(stale)} reads after a write did not see it: {[s['status'] for s in stale[:5]]}")
    if crashes:
        problems.append(f"{len(crashes)} journeys crashed: {[c['status'] for c in crashes[:3]]}")
    failed = [r for r in finals if not (isinstance(r["status"], int) and r["status"] < 500)]
    print(f"calls that failed even after the client's retries: {len(failed)} of {len(finals)}")
    if failed:
        problems.append(f"{len(failed)} calls failed after retries: {Counter(r['call'] for r in failed)}")
    if any(f.get("recovered_s") is None for f in faults if "recovered_s" in f):
        problems.append("a fault's work was not done within its deadline")
    print(f"took {time.time() - started:.0f} s")
    if problems:
        print("FAILED:\n  " + "\n  ".join(problems))
        return False
    print("PASSED: no journey lost or done twice, every refund settled once, every slot where it should be")
    return True


def fmt(seconds) -> str:
    return "never" if seconds is None else f"{seconds:.1f} s"


def orchestrate(args) -> int:
    if os.geteuid() != 0:
        print("the drill makes network namespaces: run it as root", file=sys.stderr)
        return 2
    started = time.time()
    tmp = Path(tempfile.mkdtemp(prefix="giftshop-drill-"))
    tmp.chmod(0o755)
    cluster = Cluster(tmp)
    ok = False
    try:
        cluster.up()
        scale = args.seconds / 100
        log(f"journeys: {args.clients} clients for {args.seconds:.0f} s; faults at 15, 30, 45, 55 (x{scale:.2f})")
        load = Proc(
            "journeys",
            cluster.net.ns("client"),
            [PY, __file__, "journeys", "--data", str(tmp / "data.json"), "--out", str(tmp / "requests.jsonl"),
             "--results", str(tmp / "journeys.json"), "--seconds", str(args.seconds), "--clients", str(args.clients)],
            env=cluster.app_env,
            log_dir=cluster.logs,
        ).start()  # fmt: skip
        cluster.procs["journeys"] = load
        faults: list[dict] = []
        watchers = run_faults(cluster, faults, scale)
        load.proc.wait(timeout=args.seconds + 600)
        log("load finished: waiting for the last deliveries, refunds and scans")
        until(lambda: cluster.db("SELECT count(*) FROM outbox_job WHERE failed_at IS NULL")[0][0] == 0, 300, 1)
        for watcher in watchers:
            watcher.join(timeout=300)
        time.sleep(3)
        out = run(
            "ip", "netns", "exec", cluster.net.ns("client"), PY, __file__, "verify", "--data", str(tmp / "data.json"),
            "--results", str(tmp / "journeys.json"), env=cluster.app_env, timeout=600,
        )  # fmt: skip
        checks = json.loads(out.strip().splitlines()[-1])
        rows = [json.loads(line) for line in (tmp / "requests.jsonl").read_text().splitlines() if line.strip()]
        ok = report(rows, faults, checks, started, args.clients)
    except Exception:
        for proc in cluster.procs.values():
            print(f"--- {proc.name} ---\n{proc.tail(15)}", file=sys.stderr)
        raise
    finally:
        log("tearing down: every process, every namespace")
        cluster.down()
        if ok and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log(f"logs kept in {tmp}")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("DRILL_SECONDS", "100")))
    parser.add_argument("--clients", type=int, default=int(os.environ.get("DRILL_CLIENTS", "4")))
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs) after a pass")
    for name in ("setup", "verify", "journeys"):
        p = sub.add_parser(name)
        p.add_argument("--data", required=True)
        if name in ("verify", "journeys"):
            p.add_argument("--results", required=True)
        if name == "journeys":
            p.add_argument("--out", required=True)
            p.add_argument("--seconds", type=float, required=True)
            p.add_argument("--clients", type=int, required=True)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.command == "setup":
        setup_data(args)
        return 0
    if args.command == "verify":
        verify(args)
        return 0
    if args.command == "journeys":
        random.seed(21)
        run_journeys(args)
        return 0
    return orchestrate(args)


if __name__ == "__main__":
    sys.exit(main())

"""Real Celery workers on Redis, started as subprocesses on the database pytest-django created.

The test process publishes to the same broker (eager mode off while a worker fixture is active)
and polls the database for the state the workers should reach, with a bounded deadline. Every
process started here (workers, a throwaway redis-server) is stopped in teardown, whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.db import connection
from kombu import pools as kombu_pools
from kombu.exceptions import OperationalError

from gifts.services.checkout import gift_create
from giftshop.celery import app
from tests.conftest import pay
from tests.servers import RedisServer

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 60.0  # seconds; generous for a loaded 2-core CI machine, and never a pass/fail timing
READY_DEADLINE = 90.0
WORKER_BROKER_URL = os.environ.get("WORKER_TEST_BROKER_URL", "redis://127.0.0.1:6379/14")


def wait_for(check: Callable[[], object], *, what: str, timeout: float = DEADLINE, workers=()) -> object:
    """Poll `check` until it returns something truthy; fail with the workers' log tails if it never does."""
    end = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        for worker in workers:
            if worker.exited():
                pytest.fail(f"worker exited while waiting for {what}:\n{worker.log_tail()}")
        if time.monotonic() > end:
            logs = "\n".join(w.log_tail() for w in workers)
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{logs}")
        time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_database_url() -> str:
    """The database pytest-django created (test_giftshop or TEST_DATABASE_NAME), as a URL for the worker."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "postgres")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _drop_broker_connections() -> None:
    """Close and forget pooled broker connections so the next publish connects to the current broker_url."""
    kombu_pools.reset()  # closes every pool and empties kombu's registry (a closed pool would be reused)
    app._pool = None
    if "amqp" in app.__dict__:
        app.amqp._producer_pool = None


@contextlib.contextmanager
def publishing_to(broker_url: str) -> Iterator[None]:
    """The test process sends tasks to a real broker instead of running them eagerly."""
    saved = app.conf.task_always_eager, app.conf.broker_url
    # Celery reads the CELERY_BROKER_URL environment variable before its configuration: while it is
    # set (to keep this suite's own Redis database), it must name the drill's broker too.
    saved_env = os.environ.get("CELERY_BROKER_URL")
    _drop_broker_connections()
    app.conf.task_always_eager, app.conf.broker_url = False, broker_url
    os.environ["CELERY_BROKER_URL"] = broker_url
    try:
        yield
    finally:
        _drop_broker_connections()
        app.conf.task_always_eager, app.conf.broker_url = saved
        if saved_env is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = saved_env


def reconnect() -> None:
    """After the broker restarted: drop the test process's stale connections."""
    _drop_broker_connections()


@contextlib.contextmanager
def eager_tasks() -> Iterator[None]:
    """Run tasks in this process for a moment (setting up gifts the way the eager suite does)."""
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = saved


def flush_redis(url: str) -> None:
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    try:
        client.flushdb()
    finally:
        client.close()


class Worker:
    """`celery -A giftshop worker` as a subprocess in its own process group."""

    def __init__(self, *, broker_url: str, log_path: Path, pool: str = "prefork", concurrency: int = 2, env=None):
        self.broker_url = broker_url
        self.log_path = log_path
        self.hostname = f"drill-{uuid.uuid4().hex[:8]}@localhost"
        self.command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "giftshop",
            "worker",
            "-l",
            "info",
            "-P",
            pool,
            "-c",
            str(concurrency),
            "-Q",
            "celery",
            "-n",
            self.hostname,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "giftshop.settings.test",
            "CELERY_TASK_ALWAYS_EAGER": "False",
            "CELERY_BROKER_URL": broker_url,
            "DATABASE_URL": worker_database_url(),
            "PYTHONUNBUFFERED": "1",
            **{k: str(v) for k, v in (env or {}).items()},
        }
        self.proc: subprocess.Popen | None = None

    def start(self) -> Worker:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
                self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self

    def exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def ping(self) -> bool:
        try:
            return bool(app.control.ping(destination=[self.hostname], timeout=1.0))
        except (OperationalError, OSError):  # the broker is not reachable (yet)
            return False

    def wait_ready(self, timeout: float = READY_DEADLINE) -> Worker:
        """Ready means it answers a broadcast ping: connected to the broker and consuming."""
        wait_for(self.ping, what=f"{self.hostname} to answer a ping", timeout=timeout, workers=[self])
        return self

    def idle(self) -> bool:
        """Nothing queued on the broker and nothing active, reserved or waiting for its countdown."""
        client = redis.Redis.from_url(self.broker_url, socket_connect_timeout=2, socket_timeout=5)
        try:
            if client.llen("celery"):
                return False
        finally:
            client.close()
        inspect = app.control.inspect(destination=[self.hostname], timeout=1.0)
        for listing in (inspect.active(), inspect.reserved(), inspect.scheduled()):
            if not listing or any(listing.values()):
                return False
        return True

    def holds_scheduled(self) -> bool:
        """The worker holds a task waiting for its countdown (received, not yet acknowledged)."""
        scheduled = app.control.inspect(destination=[self.hostname], timeout=1.0).scheduled()
        return bool(scheduled and any(scheduled.values()))

    def wait_idle(self) -> None:
        """Idle twice in a row, so a task between the queue and the pool is not missed."""
        wait_for(lambda: self.idle() and self.idle(), what=f"{self.hostname} to go idle", workers=[self])

    def pool_children(self) -> list[int]:
        """Pids of the prefork pool processes (children of the main worker process)."""
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == self.proc.pid:
                children.append(int(entry.name))
        return children

    def kill(self) -> None:
        """kill -9 the whole worker (main process and pool): the machine died mid-task."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGQUIT)  # cold shutdown: do not wait for tasks
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left of the group (a stuck main process, orphaned pool children) dies now.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=15)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return f"[{self.hostname}: no log]"
        return f"--- {self.hostname} log tail ---\n" + "\n".join(text)


class Beat(Worker):
    """`celery -A giftshop beat` as a subprocess: the schedule, the outbox's publisher included."""

    def __init__(self, *, broker_url: str, log_path: Path, env=None):
        super().__init__(broker_url=broker_url, log_path=log_path, env=env)
        self.hostname = "beat"
        schedule = log_path.with_suffix(".schedule")
        self.command = [sys.executable, "-m", "celery", "-A", "giftshop", "beat", "-l", "info", "-s", str(schedule)]


@pytest.fixture
def broker_url():
    """The Redis DB reserved for these drills, empty before and after. Not settings.CELERY_BROKER_URL
    (DB 15): the benchmark's own workers consume and flush that one."""
    url = WORKER_BROKER_URL
    flush_redis(url)
    yield url
    flush_redis(url)


@pytest.fixture
def start_worker(transactional_db, tmp_path):
    """Start real workers; each is stopped (and its process group killed) before the database is flushed."""
    started: list[Worker] = []

    def _start(*, broker_url: str, ready: bool = True, **kwargs) -> Worker:
        worker = Worker(broker_url=broker_url, log_path=tmp_path / f"worker-{len(started)}.log", **kwargs)
        started.append(worker)
        worker.start()
        return worker.wait_ready() if ready else worker

    yield _start
    for worker in started:
        worker.stop()


@pytest.fixture
def start_beat(transactional_db, tmp_path):
    """Start one real beat; stopped before the database is flushed."""
    started: list[Beat] = []

    def _start(*, broker_url: str, env=None) -> Beat:
        beat = Beat(broker_url=broker_url, log_path=tmp_path / f"beat-{len(started)}.log", env=env)
        started.append(beat)
        return beat.start()

    yield _start
    for beat in started:
        beat.stop()


@pytest.fixture
def own_redis(tmp_path):
    """A private redis-server the test may kill and start again empty."""
    server = RedisServer(log_path=tmp_path / "redis.log").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def live_broker(broker_url):
    """Publish to the test broker for the duration of the test."""
    with publishing_to(broker_url):
        yield broker_url


@pytest.fixture
def paid_gift(sender, sku):
    """Create and pay a gift in this process (eager payment callback), committed for the worker to see."""

    def _make(**kwargs):
        with eager_tasks():
            gift = gift_create(sender=kwargs.pop("sender", sender), sku_id=kwargs.pop("sku_id", sku.pk), **kwargs)
            pay(gift)
        gift.refresh_from_db()
        assert gift.status == "sent"
        return gift

    return _make

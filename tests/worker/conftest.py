"""Real Celery workers on Redis or RabbitMQ, started as subprocesses on the database pytest-django created.

`live_broker` is Redis for every test, and RabbitMQ too for the tests marked `both_brokers` (the
claim → waybill → courier pipeline, a worker killed mid-task, after-sales refunds, a retried SMS):
the broker-down drills kill a private redis-server, which has no RabbitMQ twin here, and running
every test twice would add minutes to CI for no new path. RabbitMQ runs in a vhost of this test
run's own (created on first use; `WORKER_TEST_RABBITMQ_URL` names another).

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
from amqp.exceptions import AMQPError, ChannelError
from django.conf import settings
from django.db import connection
from kombu import Connection
from kombu import pools as kombu_pools
from kombu.exceptions import OperationalError

from gifts.services.checkout import gift_create
from giftshop.broker import broker_settings
from giftshop.celery import app
from tests.conftest import pay
from tests.servers import RedisServer

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 60.0  # seconds; generous for a loaded 2-core CI machine, and never a pass/fail timing
READY_DEADLINE = 90.0
WORKER_BROKER_URL = os.environ.get("WORKER_TEST_BROKER_URL", "redis://127.0.0.1:6379/14")
RABBITMQ_URL = os.environ.get("WORKER_TEST_RABBITMQ_URL") or (
    "amqp://guest:guest@127.0.0.1:5672/giftshop_" + os.environ.get("TEST_DATABASE_NAME", "test_giftshop")
)
# Where a countdown waits on RabbitMQ (Celery's native delayed delivery): celery_delayed_0 … 27.
DELAYED_QUEUES = [f"celery_delayed_{level}" for level in range(28)]
BROKER_CONF_KEYS = (
    "task_always_eager",
    "broker_url",
    "broker_transport",
    "task_default_queue_type",
    "task_default_exchange_type",
    "control_queue_exclusive",
    "broker_heartbeat",
    "task_publish_retry",
    "task_publish_retry_policy",
    "broker_transport_options",
)


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
    # The queues, exchanges and producer pool are built from the broker settings on first use.
    app.__dict__.pop("amqp", None)
    # Broadcasts (ping, inspect) keep the producer pool they first used: forget it with the rest.
    app.control.mailbox.__dict__.pop("producer_pool", None)


@contextlib.contextmanager
def publishing_to(broker_url: str) -> Iterator[None]:
    """The test process sends tasks to a real broker instead of running them eagerly, with the
    broker settings that broker's scheme gets in production (giftshop/broker.py)."""
    saved = {key: app.conf[key] for key in BROKER_CONF_KEYS}
    # Celery reads the CELERY_BROKER_URL environment variable before its configuration: while it is
    # set (to keep this suite's own Redis database), it must name the drill's broker too.
    saved_env = os.environ.get("CELERY_BROKER_URL")
    _drop_broker_connections()
    app.conf.update(
        task_always_eager=False,
        broker_url=broker_url,
        **broker_settings(broker_url, settings.CELERY_BROKER_TRANSPORT_OPTIONS),
    )
    os.environ["CELERY_BROKER_URL"] = broker_url
    try:
        yield
    finally:
        _drop_broker_connections()
        app.conf.update(saved)
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


def queued(broker_url: str) -> int:
    """Messages waiting on the broker: the task queue, and on RabbitMQ the countdowns' queues too."""
    if not broker_url.startswith("amqp://"):
        client = redis.Redis.from_url(broker_url, socket_connect_timeout=2, socket_timeout=5)
        try:
            return client.llen("celery")
        finally:
            client.close()
    total = 0
    with Connection(broker_url, connect_timeout=5) as conn:
        for name in ["celery", *DELAYED_QUEUES]:
            channel = conn.channel()
            try:
                total += channel.queue_declare(queue=name, passive=True).message_count
            except ChannelError:  # not declared yet: nothing waits there
                pass
            finally:
                with contextlib.suppress(Exception):
                    channel.close()
    return total


def purge_rabbitmq(url: str) -> None:
    """Empty this run's vhost of tasks (and create it, and let guest in, on first use)."""
    try:
        with Connection(url, connect_timeout=5) as conn:
            conn.ensure_connection(max_retries=1)
    except (OperationalError, AMQPError, OSError):  # NOT_ALLOWED: the vhost does not exist yet
        vhost = url.rsplit("/", 1)[1]
        for command in (["add_vhost", vhost], ["set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"]):
            done = subprocess.run(["rabbitmqctl", *command], capture_output=True, text=True, timeout=120)  # noqa: S603,S607
            if done.returncode != 0 and "already exists" not in done.stderr:
                pytest.fail(f"rabbitmqctl {' '.join(command)} failed: {done.stderr.strip()}")
    with Connection(url, connect_timeout=5) as conn:
        for name in ["celery", *DELAYED_QUEUES]:
            channel = conn.channel()
            try:
                channel.queue_purge(queue=name)
            except ChannelError:
                pass
            finally:
                with contextlib.suppress(Exception):
                    channel.close()


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
        if queued(self.broker_url):
            return False
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


def pytest_generate_tests(metafunc):
    """`broker_kind`: Redis for every test; RabbitMQ too for the tests marked both_brokers."""
    if "broker_kind" in metafunc.fixturenames:
        both = metafunc.definition.get_closest_marker("both_brokers") is not None
        metafunc.parametrize("broker_kind", ["redis", "rabbitmq"] if both else ["redis"], scope="function")


@pytest.fixture
def broker_url(broker_kind):
    """The broker reserved for these drills, empty before and after: a Redis DB (not
    settings.CELERY_BROKER_URL, DB 15: the benchmark's own workers consume and flush that one), or
    this run's RabbitMQ vhost."""
    if broker_kind == "rabbitmq":
        purge_rabbitmq(RABBITMQ_URL)
        yield RABBITMQ_URL
        purge_rabbitmq(RABBITMQ_URL)
        return
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

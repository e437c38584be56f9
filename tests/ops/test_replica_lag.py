"""The router's lag check against a real streaming replica.

A throwaway primary (initdb in a temporary directory, a free port) and a standby made from it with
pg_basebackup; the `replica` alias is pointed at the standby for the test. Caught up: lag 0 and in
use. Replay paused while the primary writes: the lag grows past REPLICA_MAX_LAG_SECONDS and reads
go to the primary. Replay resumed: in use again. Standby stopped: not used.
"""

from __future__ import annotations

import subprocess
import time

import psycopg
import pytest
from django.db import connections

from giftshop import replica as router
from tests.ops.test_database_restart import PrivatePostgres

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica"])


def wait_until(check, what: str, timeout: float = 60.0):
    end = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)
    return result


@pytest.fixture
def streaming_pair():
    primary, standby = PrivatePostgres(), PrivatePostgres()
    try:
        primary.init()
        primary.start()
        cmd = [
            str(primary.bin / "pg_basebackup"),
            *("-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
            *("-D", str(standby.data), "-X", "stream", "-R", "-c", "fast"),
        ]
        if standby.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, timeout=120, capture_output=True)  # noqa: S603
        standby.start()
        yield primary, standby
    finally:
        standby.cleanup()
        primary.cleanup()


@pytest.fixture
def replica_alias(settings, streaming_pair):
    """The `replica` alias on the real standby (database `postgres`) for the test's length."""
    _, standby = streaming_pair
    conn = connections["replica"]
    saved = dict(conn.settings_dict)
    conn.close()
    conn.settings_dict.update(HOST="127.0.0.1", PORT=standby.port, NAME="postgres", USER="postgres", PASSWORD="")
    settings.REPLICA_ENABLED = True
    settings.REPLICA_MAX_LAG_SECONDS = 1.0
    settings.REPLICA_CHECK_SECONDS = 0  # every call checks again
    router.forget_replica_health()
    try:
        yield
    finally:
        conn.close()
        conn.settings_dict.clear()
        conn.settings_dict.update(saved)
        router.forget_replica_health()


def test_lag_on_a_real_standby_decides_whether_reads_use_it(streaming_pair, replica_alias):
    primary, standby = streaming_pair
    with primary.connect("postgres") as p, standby.connect("postgres") as s:
        p.execute("CREATE TABLE drill (id serial PRIMARY KEY, at timestamptz DEFAULT now())")
        p.execute("INSERT INTO drill DEFAULT VALUES")
        wait_until(lambda: _count(s) == 1, "the standby to replay the first row")
        wait_until(lambda: router.replica_lag_seconds() == 0, "the standby to report itself caught up")
        assert router.replica_usable() and router.replica_status() == "ok"

        s.execute("SELECT pg_wal_replay_pause()")
        p.execute("INSERT INTO drill DEFAULT VALUES")  # received by the standby, not replayed
        wait_until(lambda: router.replica_lag_seconds() > 1.0, "the paused standby to fall behind")
        assert not router.replica_usable() and router.replica_status() == "fallback"
        assert _count(s) == 1  # what a read there would have missed

        s.execute("SELECT pg_wal_replay_resume()")
        wait_until(router.replica_usable, "the standby to catch up and be used again")
        assert _count(s) == 2

    standby.stop("immediate")
    assert not router.replica_usable() and router.replica_status() == "fallback"


def _count(conn) -> int:
    try:
        return conn.execute("SELECT count(*) FROM drill").fetchone()[0]
    except psycopg.errors.UndefinedTable:  # the CREATE TABLE is not replayed yet
        return 0

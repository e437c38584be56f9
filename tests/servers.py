"""Servers a test runs as separate processes and stops at will: a throwaway redis-server (the broker
drills in tests/worker, the cache outage in tests/ops)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check: Callable[[], object], *, what: str, timeout: float = 60.0) -> object:
    """Poll until check() is truthy; a deadline for a hang, never a timing assertion."""
    end = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)
    return result


class RedisServer:
    """A throwaway redis-server that a test can stop and start again on the same port."""

    def __init__(self, *, log_path: Path, aof_dir: Path | None = None):
        self.aof_dir = aof_dir  # persistence as production should run it: appendonly, fsync each write
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed; the broker-down drill needs it (apt-get install redis-server)")
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def _answers(self) -> bool:
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def queued(self, queue: str = "celery") -> int:
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1, socket_timeout=1)
        try:
            return client.llen(queue)
        finally:
            client.close()

    def start(self) -> RedisServer:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        if self.aof_dir is not None:
            self.aof_dir.mkdir(exist_ok=True)
            args[-1:] = ["yes", "--appendfsync", "always", "--dir", str(self.aof_dir)]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # noqa: S603
        wait_for(self._answers, what=f"redis-server on port {self.port}", timeout=30)
        return self

    def kill(self) -> None:
        """kill -9: the broker dies mid-stream and keeps nothing (no persistence)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=15)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)

"""A served instance, as production runs it: gunicorn with two workers, the production settings,
PostgreSQL, a Redis cache of its own, static files collected into the manifest storage. Reached from
outside over HTTP, behind a pretend TLS proxy (`X-Forwarded-Proto: https`, the only header the
settings trust from it).

Its database is its own (migrated by the production settings), filled with the demo data; a staging
declaration (`ALLOW_SANDBOX` with secrets of its own) lets it take sandbox payments. Celery runs
eagerly in the web process. One instance serves the whole session (the fuzzer and the findings).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import requests
from cryptography.fernet import Fernet
from django.conf import settings
from django.db import connections

from tests.servers import RedisServer, free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "giftshop-demo"
PROXY = {"X-Forwarded-Proto": "https"}  # what the TLS-terminating proxy in front adds


class BehindProxy(requests.Session):
    """The cookies a browser would send to https://<our host>: requests keeps Secure cookies from
    an http:// address (the TLS proxy is pretended), so they are sent by hand."""

    def prepare_request(self, request):
        prepared = super().prepare_request(request)
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.cookies)
        if cookies:
            prepared.headers["Cookie"] = cookies
        return prepared


@dataclass
class Served:
    url: str
    env: dict
    log_path: Path
    database_url: str
    tokens: dict = field(default_factory=dict)

    def session(self) -> requests.Session:
        """A client behind the proxy: sends the proxy's header, and its Secure cookies over our http."""
        s = BehindProxy()
        s.headers.update(PROXY)
        return s

    def token(self, username: str) -> str:
        if username not in self.tokens:
            r = self.session().post(
                f"{self.url}/api/v1/auth/token/", json={"username": username, "password": PASSWORD}, timeout=30
            )
            assert r.status_code == 200, r.text
            self.tokens[username] = r.json()["token"]
        return self.tokens[username]

    def api(self, username: str | None = None) -> requests.Session:
        s = self.session()
        if username:
            s.headers["Authorization"] = f"Token {self.token(username)}"
        return s

    def signed_in(self, username: str, *, login_path: str = "/accounts/password/login/", password: str = PASSWORD):
        """A browser-like session after posting the sign-in form (CSRF token and Referer included);
        returns (session, the answer to the form)."""
        s = self.session()
        page = s.get(self.url + login_path, timeout=30)
        assert page.status_code == 200, page.status_code
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        field = "login" if "/accounts/" in login_path else "username"
        answer = s.post(
            self.url + login_path,
            data={"csrfmiddlewaretoken": token, field: username, "password": password},
            headers={"Referer": f"https://127.0.0.1:{self.url.rsplit(':', 1)[1]}{login_path}"},
            allow_redirects=False,
            timeout=30,
        )
        return s, answer

    def form_token(self, s: requests.Session, path: str) -> str:
        page = s.get(self.url + path, timeout=30)
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)

    def shell(self, code: str) -> str:
        """Run Python in the app against this instance's database, in a process of its own, as
        load_demo does (the sandboxes deliver their callbacks in-process: host testserver, plain
        http); its standard output."""
        env = {**self.env, "ALLOWED_HOSTS": "testserver", "SECURE_SSL_REDIRECT": "False"}
        command = [sys.executable, str(ROOT / "manage.py"), "shell", "-c", code]
        result = subprocess.run(command, env=env, cwd=ROOT, timeout=300, capture_output=True, text=True)  # noqa: S603
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    def query(self, sql: str, *params):
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()

    def log_lines(self) -> list[dict]:
        lines = []
        for raw in self.log_path.read_text(errors="replace").splitlines():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                lines.append({"message": raw, "level": "RAW"})
        return lines


def _database_url(name: str) -> str:
    db = settings.DATABASES["default"]
    user, host, port = db.get("USER") or "postgres", db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{name}"


def _run(command: list[str], *, env: dict) -> None:
    result = subprocess.run(command, env=env, cwd=ROOT, timeout=300, capture_output=True, text=True)  # noqa: S603
    assert result.returncode == 0, f"{command[2:]} failed: {result.stdout[-2000:]} {result.stderr[-3000:]}"


@pytest.fixture(scope="session")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("served")
    name = f"{connections['default'].creation._get_test_db_name()}_served"
    with psycopg.connect(_database_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    database_url = _database_url(name)
    cache = RedisServer(log_path=tmp / "redis.log").start()
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "PII_", "SECRET_"))}
    env = {
        **base,
        "DATABASE_URL": database_url,
        "PII_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "CACHE_URL": cache.url,
        "STATIC_ROOT": str(tmp / "static"),
        "MEDIA_ROOT": str(tmp / "media"),
        "PRIVATE_MEDIA_ROOT": str(tmp / "private"),
        "SITE_URL": f"http://127.0.0.1:{port}",
        "ALLOW_SANDBOX": "True",
        "SANDBOX_ENABLED": "True",
        "SANDBOX_PAYMENT_SECRET": secrets.token_urlsafe(32),
        "SANDBOX_CARRIER_SECRET": secrets.token_urlsafe(32),
        "CELERY_TASK_ALWAYS_EAGER": "True",
        "THROTTLE_CLAIM": "6000/min",  # the fuzzer claims on one account; the sign-in limit stays as shipped
        "METRICS_TOKEN": secrets.token_urlsafe(24),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    env["DJANGO_SETTINGS_MODULE"] = "giftshop.settings.production"
    _run([*manage, "migrate", "--noinput", "-v0"], env=env)
    # load_demo pays through the app in-process (Django's test client: host testserver, plain http).
    _run(
        [*manage, "load_demo", "--staging"], env={**env, "ALLOWED_HOSTS": "testserver", "SECURE_SSL_REDIRECT": "False"}
    )
    _run([*manage, "collectstatic", "--noinput", "-v0"], env=env)
    log_path = tmp / "gunicorn.log"
    gunicorn = Path(sys.executable).parent / "gunicorn"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(  # noqa: S603
            [str(gunicorn), "giftshop.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2", "--timeout", "60"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited: {log_path.read_text()[-3000:]}")
        try:
            return requests.get(f"{url}/healthz", headers=PROXY, timeout=2).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_for(healthy, what="gunicorn (production settings) to answer /healthz", timeout=90)
        instance = Served(url=url, env=env, log_path=log_path, database_url=database_url)
        for name in ("alice", "bob", "merchant", "merchant2"):  # before any test spends the sign-in limit
            instance.token(name)
        yield instance
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)
        cache.stop()
        with psycopg.connect(_database_url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

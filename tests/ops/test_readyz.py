"""/readyz and the broker: behind a load balancer a broker outage must not take every web host out."""

import socket

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker_gone(settings, monkeypatch):
    """Not eager, and the broker is a port nobody listens on (Celery reads the variable first)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setenv("CELERY_BROKER_URL", f"redis://127.0.0.1:{port}/0")


def test_a_missing_broker_fails_readiness_by_default(broker_gone, settings):
    settings.READYZ_CHECKS_BROKER = True
    r = Client().get("/readyz")
    assert r.status_code == 503 and r.json()["checks"]["broker"].startswith("error")


def test_behind_a_load_balancer_the_broker_is_not_asked(broker_gone, settings):
    settings.READYZ_CHECKS_BROKER = False
    r = Client().get("/readyz")
    assert r.status_code == 200
    assert r.json()["checks"] == {"database": "ok", "broker": "not checked", "replica": "off"}

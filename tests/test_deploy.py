"""Production settings pass Django's deployment checklist, and refuse to start without secrets."""

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "PII_", "SECRET_"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**base, "DJANGO_SETTINGS_MODULE": "giftshop.settings.production", **env},
    )


def test_check_deploy_reports_nothing_with_production_settings():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY="x" * 20 + "production-secret-key-with-enough-entropy-9f8e7d6c5b4a",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres",
        PII_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="gifts.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    result = _manage(
        "check",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres",
        PII_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
    )
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_demo_accounts_are_not_in_production_settings_or_migrations():
    for path in [*ROOT.glob("giftshop/settings/*.py"), *ROOT.glob("*/migrations/*.py")]:
        text = path.read_text()
        assert "giftshop-demo" not in text, path

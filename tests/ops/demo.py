"""The embedded demo as `make run` starts it: `manage.py` on the demo settings (SQLite, eager
Celery, in-memory broker) against a database file of the test's own, in a process of its own."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def demo_env(db_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "DATABASE_", "DJANGO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="giftshop.settings.local",
        DATABASE_URL=f"sqlite:///{db_path}",
        SCHEDULE_SWEEP_SECONDS="1",
        SITE_URL="http://127.0.0.1:8000",
    )
    return env


def manage(env, *args, input_text=None) -> str:
    done = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        input=input_text,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout

"""The one-command demo: SQLite, Celery eager, console email, the sandbox providers."""

from giftshop.settings.base import *  # noqa: F403
from giftshop.settings.base import env

DEBUG = env.bool("DEBUG", default=True)
# The demo serves uploaded photos from MEDIA_ROOT itself.
MEDIA_SERVE = env.bool("MEDIA_SERVE", default=True)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
# Eager tasks need no broker: `make run` starts `celery beat` beside the web server, and beat runs
# each scheduled task in its own process (eager), so the demo expires, draws, cancels and retries
# on schedule with no Redis. Point CELERY_BROKER_URL at Redis and unset eager to use real workers.
CELERY_BROKER_URL = env(
    "CELERY_BROKER_URL", default="memory://" if CELERY_TASK_ALWAYS_EAGER else "redis://127.0.0.1:6379/0"
)
if CELERY_BROKER_URL.startswith("memory://"):
    CELERY_BROKER_TRANSPORT = None
# Two processes share the SQLite file (the web server and beat): wait for the other's write lock.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20  # noqa: F405
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
# A fixed development key so the demo data stays readable across restarts. Never use it in production.
PII_ENCRYPTION_KEYS = env.list("PII_ENCRYPTION_KEYS", default=["ZGV2LW9ubHktZ2lmdHNob3AtcGlpLWtleS0zMmJ5dGU="])
# Serve static files straight from the finders; no collectstatic needed outside production.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True

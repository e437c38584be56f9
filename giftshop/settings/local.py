"""The one-command demo: SQLite, Celery eager, console email, the sandbox providers."""

from giftshop.settings.base import *  # noqa: F403
from giftshop.settings.base import env

DEBUG = env.bool("DEBUG", default=True)
# The demo serves uploaded photos from MEDIA_ROOT itself.
MEDIA_SERVE = env.bool("MEDIA_SERVE", default=True)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
# A fixed development key so the demo data stays readable across restarts. Never use it in production.
PII_ENCRYPTION_KEYS = env.list("PII_ENCRYPTION_KEYS", default=["ZGV2LW9ubHktZ2lmdHNob3AtcGlpLWtleS0zMmJ5dGU="])
# Serve static files straight from the finders; no collectstatic needed outside production.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True

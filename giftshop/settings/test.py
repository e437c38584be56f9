"""The test suite: PostgreSQL, eager Celery unless a test starts a real worker."""

import tempfile
from pathlib import Path

from giftshop.settings.base import *  # noqa: F403
from giftshop.settings.base import env

_DATABASE_URL = env("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/giftshop")
DATABASES = {"default": env.db_url_config(_DATABASE_URL)}
DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME", default="test_giftshop")}
# A second alias for the same database, as a replica would be: the router's tests turn
# REPLICA_ENABLED on and check which alias served each query (the cluster drill runs a real one).
DATABASES["replica"] = replica_database(DATABASE_REPLICA_URL or _DATABASE_URL, DATABASES["default"])  # noqa: F405
REPLICA_ENABLED = bool(DATABASE_REPLICA_URL)  # noqa: F405
# Eager unless a worker test starts a real worker with CELERY_TASK_ALWAYS_EAGER=False.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
# The sandbox courier's pause after issuing a waybill: lets a worker drill kill a dispatch mid-flight.
SANDBOX_CARRIER_DELAY_SECONDS = env.float("SANDBOX_CARRIER_DELAY_SECONDS", default=0.0)
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/15")
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
PII_ENCRYPTION_KEYS = ["dGVzdC1vbmx5LWdpZnRzaG9wLXBpaS1rZXktMzJieXQ="]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(Path(tempfile.gettempdir()) / "giftshop-test-private")},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Uploaded photos in a folder of the test run's own (tests may point MEDIA_ROOT elsewhere), served
# by the app so a test can fetch an og:image like a chat preview would.
MEDIA_ROOT = env.path("TEST_MEDIA_ROOT", default=str(Path(tempfile.gettempdir()) / "giftshop-test-media"))
MEDIA_SERVE = True
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_THROTTLE_RATES": {
        "auth": "1000/min",
        "claim": "10000/min",
        "claim_ip": "100000/min",
        "lottery": "1000/min",
    },
}
# Serve static files straight from the finders; no collectstatic needed outside production.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True

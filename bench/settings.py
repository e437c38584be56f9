"""Settings for `make bench`: production-like (DEBUG off, a real broker, no eager Celery) on a
dedicated database that bench/run.py creates and drops. Not for serving anything real."""

import base64
import warnings

from giftshop.settings.base import *  # noqa: F403
from giftshop.settings.base import CACHES, REST_FRAMEWORK, cache_config, env

DEBUG = False
SECRET_KEY = "bench-only-not-a-secret"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

DATABASES = {"default": env.db("BENCH_DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = 60

# 20,000 accounts are created per run; their passwords are never checked (token auth).
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
PII_ENCRYPTION_KEYS = [base64.urlsafe_b64encode(b"giftshop-bench-key-not-a-secret!").decode()]

# As production: the shared cache (tokens, throttles, a grab's facts of a gift) and the grab gate in Redis.
CACHES = {
    **CACHES,
    "default": cache_config(env("BENCH_CACHE_URL", default="redis://127.0.0.1:6379/12"), socket_timeout=0.5),
}
GRAB_GATE_URL = env("BENCH_GRAB_GATE_URL", default="redis://127.0.0.1:6379/12")

CELERY_TASK_ALWAYS_EAGER = False
CELERY_BROKER_URL = env("BENCH_BROKER_URL", default="redis://127.0.0.1:6379/15")

# A storm of 20,000 grabs from one machine is exactly what the throttles exist to stop: off.
# BENCH_THROTTLES=1 keeps them counting as in production (a round trip to Redis per limit) at a rate
# the bench never reaches, to see what production pays for them.
if env.bool("BENCH_THROTTLES", default=False):
    REST_FRAMEWORK = {
        **REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": dict.fromkeys(REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "100000000/day"),
    }
else:
    REST_FRAMEWORK = {
        **REST_FRAMEWORK,
        "DEFAULT_THROTTLE_CLASSES": [],
        "DEFAULT_THROTTLE_RATES": dict.fromkeys(REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]),
    }

GIFT_MAX_RECIPIENTS = 1000
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SANDBOX_ENABLED = True
SANDBOX_CALLBACK_BASE_URL = ""

# STATIC_ROOT is not collected for the bench; whitenoise would warn in every process.
warnings.filterwarnings("ignore", message="No directory at")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    # 19,000 refused grabs would each log a 409 warning line.
    "loggers": {"django.request": {"level": "ERROR"}},
}

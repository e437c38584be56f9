"""Production: every secret from the environment, HTTPS only, PostgreSQL and a real broker."""

from giftshop.settings.base import *  # noqa: F403
from giftshop.settings.base import env, logging_config

DEBUG = False
SECRET_KEY = env("SECRET_KEY")
PII_ENCRYPTION_KEYS = env.list("PII_ENCRYPTION_KEYS")
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
# A connection left dead by a database restart is noticed before use and replaced.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASE_REPLICA_URL:  # noqa: F405
    DATABASES["replica"] = replica_database(DATABASE_REPLICA_URL, DATABASES["default"])  # noqa: F405
SANDBOX_ENABLED = env.bool("SANDBOX_ENABLED", default=False)
# The sandbox providers are refused here (giftshop/checks.py) unless a staging site says so.
PRODUCTION = True
ALLOW_SANDBOX = env.bool("ALLOW_SANDBOX", default=False)

METRICS_PUBLIC = env.bool("METRICS_PUBLIC", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# Uploaded photos: the bucket named by MEDIA_STORAGE_* (base.py), else MEDIA_ROOT on local disk
# served by the web server in front (MEDIA_SERVE stays off here).
STORAGES = {
    "default": STORAGES["default"],  # noqa: F405
    "private": STORAGES["private"],  # noqa: F405
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_SERVE = env.bool("MEDIA_SERVE", default=False)
# One JSON object per line for the log collector (giftshop/logs.py); LOG_FORMAT=plain to read by eye.
LOG_FORMAT = env("LOG_FORMAT", default="json")
LOGGING = logging_config(log_format=LOG_FORMAT, level=env("LOG_LEVEL", default="INFO"))

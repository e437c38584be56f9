"""Settings shared by every environment. Values come from the environment via django-environ."""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF

from giftshop.broker import broker_settings
from giftshop.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key-change-me")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "giftshop.apps.LockoutConfig",  # django-axes: failed sign-ins and lockout (giftshop/lockout.py)
    "csp",  # the Content-Security-Policy header (django-csp; CONTENT_SECURITY_POLICY below)
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our static files: the docs work offline
    "django_prometheus",
    "imagekit",  # product photo sizes (shops/images.py)
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.weixin",  # replaced by accounts.wechat.provider (our endpoints)
    "outbox",
    "shops",
    "payments",
    "accounts",
    "gifts",
    "privacy",
    "fulfilment",
    "campaigns",
    "aftersales",
    "merchant",
    "sandbox",
    "giftshop",  # the project itself: operator commands (load_demo, stuck_work)
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "giftshop.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "giftshop.middleware.AppErrorPageMiddleware",
    "giftshop.middleware.DatabaseUnavailableMiddleware",
    "giftshop.replica.ReplicaMiddleware",  # after the one above: sees a replica's failure first
    "axes.middleware.AxesMiddleware",  # turns a locked-out sign-in into giftshop.lockout's answer
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "giftshop.urls"
WSGI_APPLICATION = "giftshop.wsgi.application"
ASGI_APPLICATION = "giftshop.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
            ],
            "builtins": ["shops.templatetags.money"],
        },
    }
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The hot paths' statements (giftshop/rows.py) are prepared on a connection once it has run them this
# many times, and planned once. Empty: never (PgBouncer in transaction mode before 1.21, or without
# max_prepared_statements, cannot keep prepared statements).
DATABASE_PREPARE_THRESHOLD = int(env("DATABASE_PREPARE_THRESHOLD", default="5") or 0) or None

# Read replica (giftshop/replica.py): with DATABASE_REPLICA_URL set (a PostgreSQL streaming replica
# of DATABASE_URL; its user needs the pg_monitor role to see the replication status), the
# read-heavy views below read from it on GET and HEAD; everything else, every write and every
# read inside a transaction stays on the primary. A client that wrote reads from the primary for
# REPLICA_PIN_SECONDS; a replica that does not answer or replays more than REPLICA_MAX_LAG_SECONDS
# behind is left alone until a check (at most one per REPLICA_CHECK_SECONDS per process) finds it
# fit again.
DATABASE_REPLICA_URL = env("DATABASE_REPLICA_URL", default="")


def replica_database(url: str, primary: dict) -> dict:
    replica = environ.Env.db_url_config(url)
    replica["CONN_MAX_AGE"] = primary.get("CONN_MAX_AGE", 0)
    replica["CONN_HEALTH_CHECKS"] = primary.get("CONN_HEALTH_CHECKS", False)
    # A replica host that is gone costs a read at most this long before the primary takes over.
    replica.setdefault("OPTIONS", {}).setdefault("connect_timeout", env.int("REPLICA_CONNECT_TIMEOUT", default=2))
    replica["TEST"] = {"MIRROR": "default"}
    return replica


if DATABASE_REPLICA_URL:
    DATABASES["replica"] = replica_database(DATABASE_REPLICA_URL, DATABASES["default"])
REPLICA_ENABLED = bool(DATABASE_REPLICA_URL)
DATABASE_ROUTERS = ["giftshop.replica.ReplicaRouter"]
REPLICA_MAX_LAG_SECONDS = env.float("REPLICA_MAX_LAG_SECONDS", default=5.0)
REPLICA_CHECK_SECONDS = env.float("REPLICA_CHECK_SECONDS", default=2.0)
REPLICA_PIN_SECONDS = env.int("REPLICA_PIN_SECONDS", default=15)
# URL names whose GET may read from the replica: pages and lists that many people read and that
# decide nothing (a stale second shows an old count, never takes stock, money or a slot).
REPLICA_READ_VIEWS = [
    # shop pages
    "home",
    "shop-detail",
    "product-detail",
    # the sender's gifts and tracker, the recipient's card and list
    "gift-list",
    "gift-detail",
    "gift-tracker",
    "gift-tracker-csv",
    "claim",
    "received",
    # the merchant's lists and dashboard
    "merchant:index",
    "merchant:dashboard",
    "merchant:wb-to-ship",
    "merchant:wb-exceptions",
    "merchant:wb-after-sales",
    "merchant:wb-orders-today",
    "merchant:wb-catalogue",
    "merchant:gifts_slot_changelist",
    "merchant:shops_product_changelist",
    "merchant:shops_sku_changelist",
    # the API's lists and cards
    "api-products",
    "api-product",
    "api-gifts",
    "api-gift",
    "api-claim",
    "api-received",
    "api-notifications",
    "api-gift-tracker",
    "api-gift-tracker-csv",
    "api-merchant-orders",
    "api-merchant-products",
    "api-merchant-shops",
    "api-merchant-after-sales",
]
# Apps whose rows are always read from the primary, on any page: money, and what sign-in looks up
# (a session or token made a moment ago must be found).
REPLICA_NEVER_APPS = [
    "payments",
    "sessions",
    "auth",
    "authtoken",
    "axes",
    "account",
    "socialaccount",
    "accounts",
    "outbox",
]

# Lockout (django-axes, giftshop/lockout.py): AXES_FAILURE_LIMIT wrong passwords for one account from
# one client address lock that pair for AXES_COOLOFF_MINUTES; kept in the database, so every
# process and host agrees. The client address is the one every throttle uses (NUM_PROXIES).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "giftshop.client_ip.client_ip"
AXES_USERNAME_CALLABLE = "giftshop.lockout.attempted_username"
AXES_LOCKOUT_CALLABLE = "giftshop.lockout.locked_out"
AXES_VERBOSE = False  # its log lines name the account (a phone number, say): ours say less
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins are not kept (personal data we do not need)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out client before any password check
    "django.contrib.auth.backends.ModelBackend",  # the merchant and operator sites
    "allauth.account.auth_backends.AuthenticationBackend",  # the shop: username or phone + password
]

# Accounts (django-allauth; accounts/). The shop's default way in is a phone number and a one-time
# SMS code (accounts/services/codes.py): the first code creates the account, a password is optional.
# Username (or phone) + password stays for existing accounts; /merchant/ and /admin/ keep their own.
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "accounts.adapter.SocialAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username", "phone"}
ACCOUNT_SIGNUP_FIELDS = ["phone", "username*", "password1*"]  # the phone is optional for accounts made before phones
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_REDIRECT_URL = "/"
ACCOUNT_SESSION_REMEMBER = True
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_LOGIN_ON_GET = False
# One-time sign-in codes: 6 digits, hashed at rest, sent through the outbox by a worker.
PHONE_CODE_TTL = timedelta(minutes=env.int("PHONE_CODE_TTL_MINUTES", default=5))
PHONE_CODE_MAX_ATTEMPTS = env.int("PHONE_CODE_MAX_ATTEMPTS", default=5)
PHONE_CODE_RESEND_SECONDS = env.int("PHONE_CODE_RESEND_SECONDS", default=60)
PHONE_CODE_PER_PHONE_PER_DAY = env.int("PHONE_CODE_PER_PHONE_PER_DAY", default=10)
PHONE_CODE_PER_IP_PER_HOUR = env.int("PHONE_CODE_PER_IP_PER_HOUR", default=30)
PHONE_CODE_FAILS_PER_PHONE_PER_HOUR = env.int("PHONE_CODE_FAILS_PER_PHONE_PER_HOUR", default=10)
PHONE_CODE_FAILS_PER_IP_PER_HOUR = env.int("PHONE_CODE_FAILS_PER_IP_PER_HOUR", default=50)

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")


def cache_config(url: str, *, socket_timeout: float) -> dict:
    """CACHE_URL as Django's CACHES entry. On Redis through django-redis, failing open: with Redis
    down a read misses and a write is dropped (each logged by giftshop.cache), so the throttles that
    every API request reads let it through instead of answering 500, and a dead or unreachable Redis
    costs a request at most socket_timeout per cache call. Production refuses an in-process cache
    (giftshop/checks.py): a limit must hold across processes and hosts."""
    config = environ.Env.cache_url_config(url)
    if url.startswith(("redis://", "rediss://")):
        config["BACKEND"] = "django_redis.cache.RedisCache"
        config["OPTIONS"] = {
            **config.get("OPTIONS", {}),
            "IGNORE_EXCEPTIONS": True,
            "SOCKET_CONNECT_TIMEOUT": socket_timeout,
            "SOCKET_TIMEOUT": socket_timeout,
        }
    return config


CACHES = {
    "default": cache_config(
        env("CACHE_URL", default="locmemcache://"),
        socket_timeout=env.float("CACHE_SOCKET_TIMEOUT_SECONDS", default=0.5),
    ),
    # Per process, for facts that are the same everywhere and may be seconds old (a grab's facts of
    # a gift): saves a round trip to the shared cache. Never for anything a user can change.
    "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "giftshop-local"},
}
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
DJANGO_REDIS_LOGGER = "giftshop.cache"

# The group grab's gate (gifts/services/grab_gate.py): a Redis that settles the contest for a group
# gift's slots before any SQL. Unset (the demo): the database decides every grab. In production give
# it the cache's own URL (CACHE_URL, same database number; the keys do not meet): one script then
# reads the API token's cache entry and looks at the gate, one round trip per refused grab, not two.
# PostgreSQL stays the truth, so a Redis that is down or restarted empty only sends grabs to the
# database path.
GRAB_GATE_URL = env("GRAB_GATE_URL", default="")
GRAB_GATE_TIMEOUT_SECONDS = env.float("GRAB_GATE_TIMEOUT_SECONDS", default=0.25)
GRAB_GATE_TTL_SECONDS = env.int("GRAB_GATE_TTL_SECONDS", default=60)
# How long an API token's account is kept in the cache (dropped at once on sign-out or account change).
API_TOKEN_CACHE_SECONDS = env.int("API_TOKEN_CACHE_SECONDS", default=300)
# How long a grab trusts its cached facts of a gift (id, mode, sender, expiry) behind a claim link.
GRAB_FACTS_CACHE_SECONDS = env.int("GRAB_FACTS_CACHE_SECONDS", default=10)


# Browser security headers. Content-Security-Policy (django-csp): scripts, styles, images and fetches
# from this site only; no inline script or style anywhere (every page's code is a file under static/),
# except the API docs page, whose start-up script and style carry a per-request nonce (the nonce
# goes into the header only on a page that uses it). WeChat's JS-SDK for the share card is the one
# outside script. Product photos may come from the bucket's domain (MEDIA_STORAGE_*), and
# CSP_EXTRA_IMG_SRC adds more image origins (a CDN, say). Pages can't be framed (frame-ancestors).
# SecurityMiddleware sends Referrer-Policy (a claim link's token never leaves in a Referer) and
# Cross-Origin-Opener-Policy; django-permissions-policy sends Permissions-Policy.
def csp_image_sources(*, bucket: str, endpoint_url: str, custom_domain: str, extra: list[str]) -> list[str]:
    sources = []
    if custom_domain:
        sources.append(f"https://{custom_domain}")
    elif bucket and endpoint_url:
        sources.append(f"https://{bucket}.{endpoint_url.split('://', 1)[-1].rstrip('/')}")
    return sources + extra


CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, "https://res.wx.qq.com", "https://res2.wx.qq.com", NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [
            SELF,
            "data:",  # the waybill barcode on printed labels, the docs' icons
            *csp_image_sources(
                bucket=env("MEDIA_STORAGE_BUCKET", default=""),
                endpoint_url=env("MEDIA_STORAGE_ENDPOINT_URL", default=""),
                custom_domain=env("MEDIA_STORAGE_CUSTOM_DOMAIN", default=""),
                extra=env.list("CSP_EXTRA_IMG_SRC", default=[]),
            ),
        ],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
    },
}
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
PERMISSIONS_POLICY = {
    "accelerometer": [],
    "camera": [],
    "geolocation": [],
    "gyroscope": [],
    "magnetometer": [],
    "microphone": [],
    "payment": [],
    "usb": [],
}

# /metrics (giftshop/health.py): public in the demo and tests; in production only for a scraper
# with the bearer token METRICS_TOKEN or from an address in METRICS_ALLOWED_IPS (e.g. 10.0.0.0/8).
METRICS_PUBLIC = env.bool("METRICS_PUBLIC", default=True)
# /readyz fails (503) when the broker does not answer. Behind a load balancer that health-checks
# /readyz, set it False: a broker outage hits every web host alike, and taking them all out of
# rotation would refuse requests the outbox can hold (the broker is then not asked at all: a
# check that waits for a broker that is cut off would tie up a web process each time).
READYZ_CHECKS_BROKER = env.bool("READYZ_CHECKS_BROKER", default=True)
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])

# Uploaded files (product photos) go through Django's storage API. By default a local folder,
# served by the app itself only where MEDIA_SERVE is on (the demo, the tests); in production name
# an S3-compatible bucket (Tencent COS, Aliyun OSS, …) and django-storages stores them there, and
# pages link straight to the bucket or its CDN domain.
MEDIA_URL = env("MEDIA_URL", default="/media/")
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
MEDIA_SERVE = env.bool("MEDIA_SERVE", default=env.bool("DEBUG", default=False))
MEDIA_STORAGE_BUCKET = env("MEDIA_STORAGE_BUCKET", default="")
if MEDIA_STORAGE_BUCKET:
    _media_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": MEDIA_STORAGE_BUCKET,
            # e.g. https://cos.ap-shanghai.myqcloud.com (COS) or https://oss-cn-shanghai.aliyuncs.com (OSS)
            "endpoint_url": env("MEDIA_STORAGE_ENDPOINT_URL"),
            "region_name": env("MEDIA_STORAGE_REGION", default="") or None,
            "access_key": env("MEDIA_STORAGE_ACCESS_KEY_ID"),
            "secret_key": env("MEDIA_STORAGE_SECRET_ACCESS_KEY"),
            # Both COS and OSS want <bucket>.<endpoint> host names.
            "addressing_style": "virtual",
            "signature_version": env("MEDIA_STORAGE_SIGNATURE_VERSION", default="s3v4"),
            # A CDN or the bucket's public domain for the links pages give out (no scheme).
            "custom_domain": env("MEDIA_STORAGE_CUSTOM_DOMAIN", default="") or None,
            # Product photos are public: plain, cacheable URLs that chat previews can fetch.
            "querystring_auth": False,
            "default_acl": env("MEDIA_STORAGE_DEFAULT_ACL", default="") or None,
            "file_overwrite": False,
            "location": env("MEDIA_STORAGE_PREFIX", default="media"),
            # Every stored name is random or a content hash, so a file never changes under its name.
            "object_parameters": {"CacheControl": "public, max-age=31536000, immutable"},
        },
    }
    # Private uploads (after-sales photos): the same bucket under their own prefix, never public;
    # the app reads them and serves them only to who may see them.
    _private_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            **_media_storage["OPTIONS"],
            "custom_domain": None,
            "querystring_auth": True,
            "default_acl": "private",
            "location": env("PRIVATE_STORAGE_PREFIX", default="private"),
            "object_parameters": {},
        },
    }
else:
    _media_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    _private_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": env.path("PRIVATE_MEDIA_ROOT", default=BASE_DIR / "var" / "private")},
    }
STORAGES = {
    "default": _media_storage,
    "private": _private_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Product photo uploads (validated in shops/images.py): size of the file and of the picture.
PRODUCT_IMAGE_MAX_BYTES = env.int("PRODUCT_IMAGE_MAX_BYTES", default=5 * 1024 * 1024)
PRODUCT_IMAGE_MAX_SIDE = env.int("PRODUCT_IMAGE_MAX_SIDE", default=4096)
PRODUCT_IMAGE_MIN_SIDE = env.int("PRODUCT_IMAGE_MIN_SIDE", default=200)
IMAGEKIT_CACHEFILE_DIR = "sizes"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "giftshop.token_auth.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "giftshop.errors.api_exception_handler",
    # DRF's negotiation, its choice remembered per Accept header (giftshop/negotiation.py).
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "giftshop.negotiation.RememberingContentNegotiation",
    # How many trusted proxies stand in front (each appends to X-Forwarded-For): 0 means the header
    # is ignored and the socket's address counts (giftshop/client_ip.py). Behind one nginx: 1.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "DEFAULT_THROTTLE_RATES": {
        "auth": env("THROTTLE_AUTH", default="20/min"),
        "claim": env("THROTTLE_CLAIM", default="60/min"),
        "claim_ip": env("THROTTLE_CLAIM_IP", default="300/min"),
        "lottery": env("THROTTLE_LOTTERY", default="20/hour"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Giftshop API",
    "DESCRIPTION": "Send a physical gift to a friend without knowing their address.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "SlotStatusEnum": "gifts.models.SlotStatus",
        "GiftStatusEnum": "gifts.models.GiftStatus",
        "GiftModeEnum": "gifts.models.Gift.Mode",
        "GiftCreateModeEnum": ["single", "group"],
    },
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "giftshop.errors.schema_error_responses",
    ],
}

# Celery: a real broker in production; eager in the one-command demo.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# One immediate retry, no back-off sleep: with the broker down a request that published answers at
# once and its outbox job waits for beat (kombu's default would sleep 2 s per publish).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    "max_retries": 1,
    "interval_start": 0,
}
# Workers and beat reconnect for as long as it takes, at start-up too (only the worker's consumer
# and beat read these; a web process publishing keeps the fast-fail path above, and its job waits
# in the outbox).
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# On Redis, kombu's transport with the guard in giftshop/broker.py: without it a worker that loses
# Redis while holding an unacknowledged message exits.
if CELERY_BROKER_URL.startswith("redis://"):
    CELERY_BROKER_TRANSPORT = "giftshop.broker:Transport"
CELERY_TIMEZONE = TIME_ZONE
# ---- Broker durability by CELERY_BROKER_URL's scheme (giftshop/broker.py; README "Running it on
# several machines"). RabbitMQ (amqp://, recommended): quorum queue, publisher confirms, topic
# exchange so countdowns wait in RabbitMQ. Redis: the guarded transport, run with appendonly yes.
# Kept apart from the worker settings above; only the scheme decides these.
_broker = broker_settings(CELERY_BROKER_URL, CELERY_BROKER_TRANSPORT_OPTIONS)
CELERY_BROKER_TRANSPORT = _broker["broker_transport"]
CELERY_TASK_DEFAULT_QUEUE_TYPE = _broker["task_default_queue_type"]
CELERY_TASK_DEFAULT_EXCHANGE_TYPE = _broker["task_default_exchange_type"]
CELERY_CONTROL_QUEUE_EXCLUSIVE = _broker["control_queue_exclusive"]
CELERY_BROKER_HEARTBEAT = _broker["broker_heartbeat"]
CELERY_TASK_PUBLISH_RETRY = _broker["task_publish_retry"]
if "task_publish_retry_policy" in _broker:
    CELERY_TASK_PUBLISH_RETRY_POLICY = _broker["task_publish_retry_policy"]
CELERY_BROKER_TRANSPORT_OPTIONS = _broker["broker_transport_options"]
# ---- end of the broker block

# The sweeps that keep the promises pages make (expiry, unpaid orders, draws, after-sales
# deadlines) run every SCHEDULE_SWEEP_SECONDS (a minute); a demo or a test may run them faster.
SWEEP_EVERY = timedelta(seconds=env.int("SCHEDULE_SWEEP_SECONDS", default=60))
CELERY_BEAT_SCHEDULE = {
    "publish-due-jobs": {
        "task": "outbox.tasks.publish_due_jobs",
        "schedule": timedelta(seconds=env.int("OUTBOX_SWEEP_SECONDS", default=10)),
    },
    "cancel-unpaid-gifts": {"task": "gifts.tasks.cancel_unpaid_gifts", "schedule": SWEEP_EVERY},
    "expire-unclaimed-slots": {"task": "gifts.tasks.expire_unclaimed_slots", "schedule": SWEEP_EVERY},
    "remind-expiring-slots": {"task": "gifts.tasks.remind_expiring_slots", "schedule": timedelta(minutes=10)},
    "query-unsettled-payments": {"task": "payments.tasks.query_unsettled_payments", "schedule": timedelta(minutes=2)},
    "query-pending-refunds": {"task": "payments.tasks.query_pending_refunds", "schedule": timedelta(minutes=5)},
    # The gateways publish a day's bill the next morning (WeChat Pay from 10:00, China time).
    "reconcile-yesterday": {"task": "payments.tasks.reconcile_yesterday", "schedule": crontab(hour=10, minute=30)},
    "rollup-shop-stats": {"task": "merchant.tasks.rollup_shop_stats", "schedule": timedelta(minutes=10)},
    "group-gifts-due": {"task": "campaigns.tasks.group_gifts_due", "schedule": SWEEP_EVERY},
    "purge-personal-data": {"task": "privacy.tasks.purge_personal_data", "schedule": timedelta(hours=1)},
    "after-sales-deadlines": {
        "task": "aftersales.tasks.after_sales_deadlines",
        "schedule": SWEEP_EVERY,
    },
}

# The outbox (outbox/jobs.py): a job not finished this long after it was published is published
# again by beat (doubling each time, at most OUTBOX_MAX_PUBLICATIONS times); beat looks every
# OUTBOX_SWEEP_SECONDS. Work whose message died with the broker is done within about
# OUTBOX_RETRY_SECONDS + OUTBOX_SWEEP_SECONDS of the broker coming back.
OUTBOX_RETRY_AFTER = timedelta(seconds=env.int("OUTBOX_RETRY_SECONDS", default=30))
OUTBOX_SWEEP_SECONDS = env.int("OUTBOX_SWEEP_SECONDS", default=10)
OUTBOX_MAX_PUBLICATIONS = env.int("OUTBOX_MAX_PUBLICATIONS", default=12)
# Batched jobs (claims, waybills): a process publishes their batch task at most once per this many
# seconds (a later job rides on a batch that starts at the end of the window).
OUTBOX_KICK_SECONDS = env.float("OUTBOX_KICK_SECONDS", default=0.25)
# The claim pipeline: claims moved to to-ship per transaction, waybills asked for per batch, and
# how many courier calls are in flight at once (they wait on the network, not the CPU).
CLAIM_BATCH_SIZE = env.int("CLAIM_BATCH_SIZE", default=100)
DISPATCH_BATCH_SIZE = env.int("DISPATCH_BATCH_SIZE", default=100)
COURIER_CONCURRENCY = env.int("COURIER_CONCURRENCY", default=16)

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Giftshop <noreply@giftshop.local>")

# Personal data (recipient addresses): Fernet keys, newest first. Rotating = prepend a new key.
PII_ENCRYPTION_KEYS = env.list("PII_ENCRYPTION_KEYS", default=[])

# Gifting rules and windows.
GIFT_MAX_ORIGINAL_PRICE_FEN = env.int("GIFT_MAX_ORIGINAL_PRICE_FEN", default=1_000_000)
GIFT_MAX_RECIPIENTS = env.int("GIFT_MAX_RECIPIENTS", default=500)
GIFT_MAX_QUANTITY = env.int("GIFT_MAX_QUANTITY", default=99)
# The *_SECONDS forms, when set, win: a browser test of the schedule runs them in seconds.
GIFT_PAYMENT_WINDOW = timedelta(
    seconds=env.int("GIFT_PAYMENT_WINDOW_SECONDS", default=60 * env.int("GIFT_PAYMENT_WINDOW_MINUTES", default=15))
)
GIFT_CLAIM_WINDOW = timedelta(
    seconds=env.int("GIFT_CLAIM_WINDOW_SECONDS", default=3600 * env.int("GIFT_CLAIM_WINDOW_HOURS", default=24))
)
GIFT_REMINDER_BEFORE = timedelta(hours=env.int("GIFT_REMINDER_BEFORE_HOURS", default=3))
SWEEP_BATCH_SIZE = env.int("SWEEP_BATCH_SIZE", default=500)
# The sender may remind a gift's recipients once per this long (gifts/services/sender.py).
GIFT_REMIND_INTERVAL = timedelta(minutes=env.int("GIFT_REMIND_INTERVAL_MINUTES", default=60))

# After-sales (aftersales/services.py): the shop answers within AFTER_SALES_ANSWER_HOURS or the
# request is approved; return-and-refund is open this many days after delivery; a return the
# shop does not confirm is taken as received this many days after the recipient sent it.
AFTER_SALES_ANSWER_WINDOW = timedelta(hours=env.int("AFTER_SALES_ANSWER_HOURS", default=48))
AFTER_SALES_RETURN_WINDOW = timedelta(days=env.int("AFTER_SALES_RETURN_DAYS", default=7))
AFTER_SALES_RECEIVE_WINDOW = timedelta(days=env.int("AFTER_SALES_RECEIVE_DAYS", default=10))

# Providers. The sandbox gateway and courier stand in for outside services.
PAYMENT_PROVIDER = env("PAYMENT_PROVIDER", default="sandbox")
CARRIER_PROVIDER = env("CARRIER_PROVIDER", default="sandbox")
SANDBOX_ENABLED = env.bool("SANDBOX_ENABLED", default=True)
# WeChat Pay API v3 (payments/wechatpay.py): enabled when WECHATPAY_MCHID is set. The private key
# and keys below are PEM text or a path to a PEM file. Platform public key mode when
# WECHATPAY_PUBLIC_KEY is set, else platform certificate mode (certificates fetched and refreshed
# by the SDK, cached in WECHATPAY_CERT_DIR). Service-provider mode (服务商) when
# WECHATPAY_PARTNER_MODE: WECHATPAY_MCHID is then the sp_mchid and each shop has its sub_mchid.
WECHATPAY_MCHID = env("WECHATPAY_MCHID", default="")
WECHATPAY_APPID = env("WECHATPAY_APPID", default="")
WECHATPAY_APIV3_KEY = env("WECHATPAY_APIV3_KEY", default="")
WECHATPAY_PRIVATE_KEY = env("WECHATPAY_PRIVATE_KEY", default="")
WECHATPAY_CERT_SERIAL_NO = env("WECHATPAY_CERT_SERIAL_NO", default="")
WECHATPAY_PUBLIC_KEY = env("WECHATPAY_PUBLIC_KEY", default="")
WECHATPAY_PUBLIC_KEY_ID = env("WECHATPAY_PUBLIC_KEY_ID", default="")
WECHATPAY_CERT_DIR = env("WECHATPAY_CERT_DIR", default="")
WECHATPAY_PARTNER_MODE = env.bool("WECHATPAY_PARTNER_MODE", default=False)
WECHATPAY_API_BASE = env("WECHATPAY_API_BASE", default="https://api.mch.weixin.qq.com")
WECHATPAY_TIMEOUT_SECONDS = env.float("WECHATPAY_TIMEOUT_SECONDS", default=10.0)
# JSAPI inside WeChat needs the payer's openid: a silent snsapi_base OAuth round trip with the
# official account (WECHATPAY_APPID) and its AppSecret; without the secret, WeChat's browser gets H5.
WECHAT_APP_SECRET = env("WECHAT_APP_SECRET", default="")
WECHAT_OAUTH_BASE = env("WECHAT_OAUTH_BASE", default="https://open.weixin.qq.com")
WECHAT_API_BASE = env("WECHAT_API_BASE", default="https://api.weixin.qq.com")
# The official account (公众号) whose JS-SDK configures the share card inside WeChat
# (giftshop/wechat_mp.py): usually the same AppID and AppSecret as above. Empty: no wx.config.
# The site's domain must be listed under 公众号设置 → 功能设置 → JS接口安全域名.
WECHAT_MP_APPID = env("WECHAT_MP_APPID", default=WECHATPAY_APPID)
WECHAT_MP_SECRET = env("WECHAT_MP_SECRET", default=WECHAT_APP_SECRET)
WECHAT_MP_API_BASE = env("WECHAT_MP_API_BASE", default="https://api.weixin.qq.com")
WECHAT_MP_TIMEOUT_SECONDS = env.float("WECHAT_MP_TIMEOUT_SECONDS", default=3.0)
# The share poster's font: a TrueType/OpenType file with Chinese glyphs. Empty: the first found of
# the usual system fonts (gifts/poster.py), else Pillow's built-in font (Latin only).
POSTER_FONT_PATH = env("POSTER_FONT_PATH", default="")
# WeChat sign-in (accounts/wechat/, django-allauth's weixin provider). Inside WeChat's browser: the
# official account above (WECHAT_MP_APPID + WECHAT_MP_SECRET), scope snsapi_base (silent) or
# snsapi_userinfo; its openid also serves WeChat Pay JSAPI. On a desktop: the open platform's website
# app (QR login, snsapi_login). Each is enabled when its appid and secret are set.
WECHAT_OPEN_APPID = env("WECHAT_OPEN_APPID", default="")
WECHAT_OPEN_SECRET = env("WECHAT_OPEN_SECRET", default="")
WECHAT_MP_LOGIN_SCOPE = env("WECHAT_MP_LOGIN_SCOPE", default="snsapi_base")


def wechat_login_apps(*, mp_appid, mp_secret, open_appid, open_secret, mp_scope) -> list[dict]:
    apps = []
    if mp_appid and mp_secret:
        apps.append({"client_id": mp_appid, "secret": mp_secret, "settings": {"context": "mp", "scope": [mp_scope]}})
    if open_appid and open_secret:
        apps.append(
            {"client_id": open_appid, "secret": open_secret, "settings": {"context": "web", "scope": ["snsapi_login"]}}
        )
    return apps


SOCIALACCOUNT_PROVIDERS = {
    "weixin": {
        "provider_class": "accounts.wechat.provider.WechatProvider",
        "APPS": wechat_login_apps(
            mp_appid=WECHAT_MP_APPID,
            mp_secret=WECHAT_MP_SECRET,
            open_appid=WECHAT_OPEN_APPID,
            open_secret=WECHAT_OPEN_SECRET,
            mp_scope=WECHAT_MP_LOGIN_SCOPE,
        ),
    }
}
# Alipay (payments/alipay.py): enabled when ALIPAY_APP_ID is set; keys are PEM text or a path.
ALIPAY_APP_ID = env("ALIPAY_APP_ID", default="")
ALIPAY_PRIVATE_KEY = env("ALIPAY_PRIVATE_KEY", default="")
ALIPAY_PUBLIC_KEY = env("ALIPAY_PUBLIC_KEY", default="")
ALIPAY_GATEWAY = env("ALIPAY_GATEWAY", default="https://openapi.alipay.com/gateway.do")
ALIPAY_TIMEOUT_SECONDS = env.float("ALIPAY_TIMEOUT_SECONDS", default=10.0)
# Kuaidi100 (fulfilment/kuaidi100.py): e-waybills and push tracking; enabled when the key, secret,
# push salt and e-waybill account are set. The push callback is SITE_URL + /api/v1/carriers/notify/kuaidi100/.
KUAIDI100_KEY = env("KUAIDI100_KEY", default="")
KUAIDI100_SECRET = env("KUAIDI100_SECRET", default="")
KUAIDI100_PUSH_SALT = env("KUAIDI100_PUSH_SALT", default="")
KUAIDI100_PARTNER_ID = env("KUAIDI100_PARTNER_ID", default="")
KUAIDI100_PARTNER_KEY = env("KUAIDI100_PARTNER_KEY", default="")
KUAIDI100_NET = env("KUAIDI100_NET", default="")
KUAIDI100_TEMPLATE_ID = env("KUAIDI100_TEMPLATE_ID", default="")
KUAIDI100_DEFAULT_COMPANY = env("KUAIDI100_DEFAULT_COMPANY", default="zhongtong")
KUAIDI100_API_BASE = env("KUAIDI100_API_BASE", default="https://api.kuaidi100.com")
KUAIDI100_POLL_BASE = env("KUAIDI100_POLL_BASE", default="https://poll.kuaidi100.com")
KUAIDI100_TIMEOUT_SECONDS = env.float("KUAIDI100_TIMEOUT_SECONDS", default=10.0)
SANDBOX_PAYMENT_SECRET = env("SANDBOX_PAYMENT_SECRET", default="sandbox-payment-secret")
SANDBOX_CARRIER_SECRET = env("SANDBOX_CARRIER_SECRET", default="sandbox-carrier-secret")
# Where the sandbox sends its signed callbacks; empty means in-process delivery to this app.
SANDBOX_CALLBACK_BASE_URL = env("SANDBOX_CALLBACK_BASE_URL", default="")
SANDBOX_SIGNATURE_TOLERANCE = timedelta(seconds=env.int("SANDBOX_SIGNATURE_TOLERANCE_SECONDS", default=300))
# Seconds after a waybill at which the sandbox courier scans collected / in transit / delivered; empty = manual.
SANDBOX_CARRIER_SCAN_DELAYS = env.list("SANDBOX_CARRIER_SCAN_DELAYS", cast=int, default=[])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

# LOG_FORMAT=json: one JSON object per line with request_id / task / gift_id / slot_id (giftshop/logs.py).
LOG_FORMAT = env("LOG_FORMAT", default="plain")
LOGGING = logging_config(log_format=LOG_FORMAT, level=env("LOG_LEVEL", default="INFO"))
# How many copies of each payment callback the sandbox sends, and after how many seconds.
SANDBOX_CALLBACK_COPIES = env.int("SANDBOX_CALLBACK_COPIES", default=1)
SANDBOX_CALLBACK_DELAY = env.int("SANDBOX_CALLBACK_DELAY_SECONDS", default=0)
SANDBOX_CARRIER_FAILURE_RATE = env.float("SANDBOX_CARRIER_FAILURE_RATE", default=0.0)

# Group lottery (群礼物抽奖) and bulk gifts from a recipient list.
LOTTERY_MIN_LEAD = timedelta(
    seconds=env.int("LOTTERY_MIN_LEAD_SECONDS", default=60 * env.int("LOTTERY_MIN_LEAD_MINUTES", default=5))
)
LOTTERY_MAX_LEAD = timedelta(days=env.int("LOTTERY_MAX_LEAD_DAYS", default=7))
BULK_MAX_ROWS = env.int("BULK_MAX_ROWS", default=10_000)
BULK_CHUNK_SIZE = env.int("BULK_CHUNK_SIZE", default=500)
BULK_CODE_TTL = timedelta(minutes=env.int("BULK_CODE_TTL_MINUTES", default=10))
BULK_CODE_RESEND_AFTER = timedelta(seconds=env.int("BULK_CODE_RESEND_SECONDS", default=60))
BULK_CODE_MAX_ATTEMPTS = env.int("BULK_CODE_MAX_ATTEMPTS", default=5)
BULK_LINK_RESEND_INTERVAL = timedelta(minutes=env.int("BULK_LINK_RESEND_MINUTES", default=60))
# Days after delivery (or after decline / expiry for addresses never used) before recipients'
# name, phone and street are erased.
PII_RETENTION_DAYS = env.int("PII_RETENTION_DAYS", default=90)
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {"BulkStageEnum": "campaigns.models.BulkOrder.Stage", "TrackerStageEnum": "campaigns.services.tracker.STAGES"}
)
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {
        "AfterSalesKindEnum": "aftersales.models.AfterSalesRequest.Kind",
        "AfterSalesReasonEnum": "aftersales.models.AfterSalesRequest.Reason",
        "AfterSalesStatusEnum": "aftersales.models.AfterSalesRequest.Status",
    }
)

# SMS (giftshop/sms.py): `console` prints messages (the demo); `tencent` or `aliyun` send them.
SMS_PROVIDER = env("SMS_PROVIDER", default="console")
SMS_SIGN_NAME = env("SMS_SIGN_NAME", default="礼物小店")
SMS_TIMEOUT_SECONDS = env.float("SMS_TIMEOUT_SECONDS", default=10.0)
SMS_TENCENT_SECRET_ID = env("SMS_TENCENT_SECRET_ID", default="")
SMS_TENCENT_SECRET_KEY = env("SMS_TENCENT_SECRET_KEY", default="")
SMS_TENCENT_SDK_APP_ID = env("SMS_TENCENT_SDK_APP_ID", default="")
SMS_TENCENT_REGION = env("SMS_TENCENT_REGION", default="ap-guangzhou")
SMS_TENCENT_ENDPOINT = env("SMS_TENCENT_ENDPOINT", default="sms.tencentcloudapi.com")
SMS_TENCENT_TEMPLATES = env.dict("SMS_TENCENT_TEMPLATES", default={})  # login_code=1234567,gift_link=…
SMS_ALIYUN_ACCESS_KEY_ID = env("SMS_ALIYUN_ACCESS_KEY_ID", default="")
SMS_ALIYUN_ACCESS_KEY_SECRET = env("SMS_ALIYUN_ACCESS_KEY_SECRET", default="")
SMS_ALIYUN_ENDPOINT = env("SMS_ALIYUN_ENDPOINT", default="dysmsapi.aliyuncs.com")
SMS_ALIYUN_TEMPLATES = env.dict("SMS_ALIYUN_TEMPLATES", default={})  # login_code=SMS_123456789,…

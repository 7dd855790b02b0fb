"""One settings module, configured from the environment.

Embedded default (no DATABASE_URL, no REDIS_URL): SQLite file, in-memory channel layer and a
Celery worker inside the server process consuming the in-memory broker. Services mode:
PostgreSQL through DATABASE_URL (psycopg 3) and Redis through REDIS_URL for the Celery broker,
results and the channel layer.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DATABASE_URL = env.str("DATABASE_URL", default="")
REDIS_URL = env.str("REDIS_URL", default="")
SERVICES_MODE = bool(REDIS_URL)

DEBUG = env.bool("DEBUG", default=not (DATABASE_URL or REDIS_URL))
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-key-for-the-embedded-desk-do-not-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list(
    "CSRF_TRUSTED_ORIGINS", default=["http://127.0.0.1:8000", "http://localhost:8000"]
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our own static files, no CDN
    "simple_history",
    "django_celery_beat",
    "channels",
    "dealer",
    "dealer.market",
    "crm",
    "dealer.desk",
    "dealer.hedging",
    "dealer.reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "dealer.middleware.ApiBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "dealer.urls"
ASGI_APPLICATION = "dealer.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dealer.roles.roles_context",
            ],
        },
    },
]

if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    # Under ASGI persistent connections leak across threads: use psycopg's pool instead.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # The few fixed statements of the RFQ path run through `dealer.db.prepared_cursor`: bound by the
    # server and prepared on their fifth run (PostgreSQL planned each afresh: ~0.15 ms of planning
    # for a 0.04 ms claim). Django's own cursors stay bound on the client: binding every ORM query
    # on the server (DB_SERVER_SIDE_BINDING=1) measured worse on bench rfq (p99 60 ms against 30),
    # its IN lists of every length each prepared and evicted in turn.
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 5
    DATABASES["default"]["OPTIONS"]["server_side_binding"] = env.bool("DB_SERVER_SIDE_BINDING", default=False)
    # The pricing worker commits without waiting for its WAL to reach the disk (rundesk sets
    # DB_SYNCHRONOUS_COMMIT=off for it alone): what it writes (claims, quotes, expiries) a crash
    # could lose is priced again by the stuck-RFQ sweep, and an accept, committed synchronously
    # by the web process, flushes the WAL of the quote it read before it answers.
    if env.str("DB_SYNCHRONOUS_COMMIT", default=""):
        DATABASES["default"]["OPTIONS"]["options"] = f"-c synchronous_commit={env.str('DB_SYNCHRONOUS_COMMIT')}"
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": env.int("DB_POOL_MIN", default=2),
        "max_size": env.int("DB_POOL_MAX", default=10),
        "timeout": 10,
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env.str("SQLITE_PATH", default=str(BASE_DIR / "db.sqlite3")),
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            "TEST": {"NAME": env.str("SQLITE_TEST_PATH", default=str(BASE_DIR / "test.sqlite3"))},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
API_MAX_BODY_BYTES = 64 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "dealer.api_errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "COERCE_DECIMAL_TO_STRING": True,
    "DATETIME_FORMAT": "iso-8601",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Dealer desk API",
    "DESCRIPTION": "RFQ intake, quotes, trades, positions, clients and reports of the dealer desk.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # /api/docs/ loads Swagger UI from our static files (drf-spectacular-sidecar), never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No call to swagger.io's online validator either (its default; BaseLayout shows no badge).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # One name for the buy/sell choice, whichever field (side, desk_side) carries it.
    "ENUM_NAME_OVERRIDES": {"SideEnum": ["buy", "sell"]},
}

# Celery: the embedded default keeps a real broker queue in memory, consumed by a worker thread
# of the server process (dealer.embedded); never task_always_eager.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
# The memory transport polls: every 5 ms (a few hundred cheap checks a second) keeps a queued
# pricing run from waiting on the poll.
CELERY_BROKER_TRANSPORT_OPTIONS = {"polling_interval": 0.005} if not REDIS_URL else {}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
# Pricing and hedge decisions have workers of their own, so that a market tick, a sweep or a
# rollup never sits in front of an RFQ or a fresh trade.
CELERY_TASK_ROUTES = {
    "dealer.desk.tasks.price_rfqs": {"queue": "pricing"},
    "dealer.hedging.tasks.decide_hedge": {"queue": "hedging"},
    "dealer.hedging.tasks.decide_hedges": {"queue": "hedging"},
    "dealer.hedging.tasks.decide_stragglers": {"queue": "hedging"},
}
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = (
    "django_celery_beat.schedulers:DatabaseScheduler" if SERVICES_MODE else "celery.beat:Scheduler"
)
MARKET_TICK_SECONDS = env.float("MARKET_TICK_SECONDS", default=2.0)
SWEEP_SECONDS = env.float("SWEEP_SECONDS", default=1.0)
HITS_SETTLED_SECONDS = env.float("HITS_SETTLED_SECONDS", default=30.0)
# The hit ratios' catch-up: every few seconds, a few seconds of outcomes at a time (at 200 RFQs a
# second, a minute's worth at once was ~200 ms of one PostgreSQL backend, in the RFQs' way).
HITS_CATCH_UP_SECONDS = env.float("HITS_CATCH_UP_SECONDS", default=5.0)


def _every(task: str, seconds: float, stale_after: int) -> dict[str, Any]:
    """A periodic task whose runs go stale: one that waited `stale_after` seconds in the queue
    (a worker that was down or busy) is dropped rather than run late, so that a backlog of
    sweeps and ticks never piles up in front of the next ones (django-celery-beat keeps the
    option as `expire_seconds`)."""
    option = "expire_seconds" if SERVICES_MODE else "expires"
    return {"task": task, "schedule": seconds, "options": {option: stale_after}}


CELERY_BEAT_SCHEDULE = {
    "market-tick": _every("dealer.market.tasks.market_tick", MARKET_TICK_SECONDS, max(2, int(2 * MARKET_TICK_SECONDS))),
    "desk-sweep": _every("dealer.desk.tasks.sweep", SWEEP_SECONDS, max(2, int(2 * SWEEP_SECONDS))),
    "hedge-orders": _every("dealer.hedging.tasks.work_orders", SWEEP_SECONDS, max(2, int(2 * SWEEP_SECONDS))),
    "hedge-stragglers": _every("dealer.hedging.tasks.decide_stragglers", 5.0, 10),
    "winprob-refit": {"task": "dealer.desk.tasks.refit_winprob", "schedule": crontab(hour=2, minute=0)},
    "scores-nightly": {"task": "crm.tasks.recompute_scores", "schedule": crontab(hour=1, minute=30)},
    "rollups-nightly": {"task": "dealer.reports.tasks.refresh_rollups", "schedule": crontab(hour=0, minute=30)},
    "planner-statistics": _every("dealer.desk.tasks.keep_statistics", 10.0, 20),
    "rollups-hits": _every("dealer.reports.tasks.catch_up_hits", HITS_CATCH_UP_SECONDS,
                           max(2, int(2 * HITS_CATCH_UP_SECONDS))),
}

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Pub/sub: a group send is one PUBLISH (the list-based layer costs several round
            # trips per message); delivery is at most once either way, and pages re-sync over REST.
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

MARKET_SEED = env.int("MARKET_SEED", default=7)
FIX_PORT = env.int("FIX_PORT", default=9878)

# Behind TLS in production (HTTPS on by default when DEBUG is off); HTTPS=0 serves plain http on
# loopback, as the services-mode quickstart does.
HTTPS = env.bool("HTTPS", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
if HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"client_errors_one_line": {"()": "dealer.log_filters.ClientErrorsWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "celery": {"level": "WARNING"},
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"filters": ["client_errors_one_line"]},
        # The in-memory broker has no host: kombu says so at every start ("No hostname was supplied").
        **({} if REDIS_URL else {"kombu.connection": {"level": "ERROR"}}),
    },
}

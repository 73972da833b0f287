"""Meshport settings: one module, configured from the environment.

Embedded default: SQLite in ``MESHPORT_DATA_DIR`` (``./var/``), huey on SQLite.
Scale-out: ``DATABASE_URL`` for PostgreSQL, ``MESHPORT_REDIS_URL`` for huey on Redis.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from meshport.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("MESHPORT_DEBUG", default=False)
DATA_DIR = Path(env_str("MESHPORT_DATA_DIR", str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

_INSECURE_KEY = "django-insecure-meshport-development-key-do-not-use-in-production"
SECRET_KEY = env_str("MESHPORT_SECRET_KEY", _INSECURE_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "MESHPORT_SECRET_KEY must be set when MESHPORT_DEBUG is off "
        "(for a local try-out, set MESHPORT_DEBUG=1)."
    )
if not DEBUG and (SECRET_KEY == _INSECURE_KEY or len(SECRET_KEY) < 32):
    raise ImproperlyConfigured("MESHPORT_SECRET_KEY must be a random string of 32+ characters.")

ALLOWED_HOSTS = env_list(
    "MESHPORT_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("MESHPORT_ALLOWED_HOSTS must list the host names served.")
if not DEBUG and "*" in ALLOWED_HOSTS:
    raise ImproperlyConfigured("MESHPORT_ALLOWED_HOSTS='*' is only allowed with MESHPORT_DEBUG=1.")
CSRF_TRUSTED_ORIGINS = env_list("MESHPORT_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "huey.contrib.djhuey",
    "catalog",
    "lineage",
    "governance",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "meshport.security.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "meshport.access.ReadAccessMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "meshport.db.BusyDatabaseMiddleware",
]

ROOT_URLCONF = "meshport.urls"
WSGI_APPLICATION = "meshport.wsgi.application"
ASGI_APPLICATION = "meshport.asgi.application"

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
                "meshport.access.roles",
            ],
        },
    },
]

# --- database ---------------------------------------------------------------

SQLITE_PATH = DATA_DIR / "meshport.sqlite3"
SQLITE_AUTOCHECKPOINT_PAGES = env_int("MESHPORT_SQLITE_AUTOCHECKPOINT_PAGES", 10_000)
# Seconds between the checkpointer thread's passes over the WAL.
SQLITE_CHECKPOINT_SECONDS = 0.5
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(SQLITE_PATH),
            "OPTIONS": {
                # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue on
                # the busy timeout instead of failing with "database is locked" on upgrade.
                "transaction_mode": "IMMEDIATE",
                "timeout": env_int("MESHPORT_SQLITE_TIMEOUT", 30),
                "init_command": (
                    "PRAGMA journal_mode=WAL;"
                    "PRAGMA synchronous=NORMAL;"
                    "PRAGMA foreign_keys=ON;"
                    "PRAGMA cache_size=-65536;"
                    "PRAGMA mmap_size=268435456;"
                    # The web and worker processes copy the WAL back into the database
                    # from a thread of their own (meshport.db.WalCheckpointer), so that
                    # no commit waits for it. A commit still does it past this many pages
                    # (SQLite's default is 1,000), which bounds the WAL wherever that
                    # thread does not run (management commands) or falls behind.
                    f"PRAGMA wal_autocheckpoint={SQLITE_AUTOCHECKPOINT_PAGES};"
                ),
            },
            "TEST": {"NAME": str(DATA_DIR / "test-meshport.sqlite3")},
            # Each thread keeps its connection: opening one runs the PRAGMAs above and
            # starts with a cold page cache, and closing one is a WAL checkpoint when it
            # is the last. Per request, that was most of an ingest POST's time. Each
            # keeps up to cache_size (64 MB) of pages: a gunicorn worker of 8 threads
            # measured ~210 MB resident under the ingest benchmark.
            "CONN_MAX_AGE": None,
            "CONN_HEALTH_CHECKS": True,
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- auth, i18n, static -----------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "catalog:home"
LOGOUT_REDIRECT_URL = "catalog:home"
# Visitors may read the catalog without logging in (pages and API reads). On for the demo
# (MESHPORT_DEBUG=1), off by default otherwise; writes always need a user or a token.
MESHPORT_ANONYMOUS_READ = env_bool("MESHPORT_ANONYMOUS_READ", default=DEBUG)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # empty until collectstatic
# The web processes serve the static files (whitenoise): from STATIC_ROOT after
# collectstatic, else straight from the apps' folders, so gunicorn alone serves a styled
# portal.
WHITENOISE_USE_FINDERS = True
WHITENOISE_MAX_AGE = 0 if DEBUG else 3600

# --- web security (headers and CSP: meshport.security) -------------------------------

# Session and CSRF cookies travel over HTTPS only outside DEBUG; a plain-http deployment on
# a private network says so with MESHPORT_INSECURE_COOKIES=1.
_SECURE_COOKIES = not DEBUG and not env_bool("MESHPORT_INSECURE_COOKIES", False)
SESSION_COOKIE_SECURE = _SECURE_COOKIES
CSRF_COOKIE_SECURE = _SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("MESHPORT_SESSION_HOURS", 12) * 3600
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Behind a reverse proxy that terminates TLS and sets X-Forwarded-Proto and
# X-Forwarded-For (MESHPORT_BEHIND_PROXY=1), requests are taken as HTTPS when it says so,
# and the client address is the one it appended (meshport.access.client_ip). Without a
# proxy these headers come from the client and are ignored.
MESHPORT_BEHIND_PROXY = env_bool("MESHPORT_BEHIND_PROXY", False)
if MESHPORT_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# HSTS binds browsers to HTTPS for the domain for as long as it says: opt-in, by seconds.
SECURE_HSTS_SECONDS = env_int("MESHPORT_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("MESHPORT_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_SSL_REDIRECT = env_bool("MESHPORT_SSL_REDIRECT", False)
# `check --deploy` warns of settings left to the deployment on purpose: HSTS is opt-in
# (above), and its preload is a request to the browsers' makers that no setting makes;
# redirecting http to https is the TLS-terminating proxy's job unless
# MESHPORT_SSL_REDIRECT=1 asks the portal to do it.
SILENCED_SYSTEM_CHECKS = [
    "security.W021",
    *(["security.W004"] if not SECURE_HSTS_SECONDS else []),
    *(["security.W008"] if not SECURE_SSL_REDIRECT else []),
]
# Failed logins (meshport.access): per user name and per client address within the window,
# after which the login page refuses attempts until the window has passed.
MESHPORT_LOGIN_THROTTLE = {
    "USER_FAILURES": env_int("MESHPORT_LOGIN_USER_FAILURES", 5),
    "IP_FAILURES": env_int("MESHPORT_LOGIN_IP_FAILURES", 20),
    "WINDOW_SECONDS": env_int("MESHPORT_LOGIN_WINDOW_SECONDS", 15 * 60),
}
if SESSION_COOKIE_AGE < 1 or min(MESHPORT_LOGIN_THROTTLE.values()) < 1:
    raise ImproperlyConfigured("MESHPORT_SESSION_HOURS and MESHPORT_LOGIN_* must be 1 or more.")

# --- API ----------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "catalog.auth.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "meshport.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    # DRF's parser with a bounded read and a nesting limit (meshport.jsonlimits).
    "DEFAULT_PARSER_CLASSES": ["meshport.parsers.JSONParser"],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Meshport API",
    "DESCRIPTION": "Metadata catalog of a data mesh: OpenLineage ingestion and "
    "Marquez-compatible reads.",
    "VERSION": "1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    # Choice sets that share a field name with another get a name of their own.
    "ENUM_NAME_OVERRIDES": {
        "StatusEnum": "catalog.models.ProductStatus",
        "WebhookDeliveryStatusEnum": "governance.models.WebhookDelivery.Status",
        "OwnershipRoleEnum": "catalog.models.Ownership.Role",
        "TeamMemberRoleEnum": "catalog.models.TeamMember.Role",
        "OwnershipSourceEnum": "catalog.models.Ownership.Source",
        "SloStateEnum": "governance.models.SloState",
        "CheckStatusEnum": "governance.models.CheckStatus",
        "ScorecardRunStatusEnum": "governance.models.ScorecardRun.Status",
        "WaiverStatusEnum": "governance.models.Waiver.Status",
        "ScorecardSourceEnum": "governance.models.Scorecard.Source",
    },
}

# --- Meshport -----------------------------------------------------------------

MESHPORT_LINEAGE = {
    # Anonymous posting is for local demos only.
    "ALLOW_ANONYMOUS_WRITE": env_bool("MESHPORT_LINEAGE_ANONYMOUS_WRITE", False),
    # Largest accepted request body, after gzip decompression.
    "MAX_BODY_BYTES": env_int("MESHPORT_LINEAGE_MAX_BODY_BYTES", 16 * 1024 * 1024),
    "MAX_BATCH_EVENTS": env_int("MESHPORT_LINEAGE_MAX_BATCH_EVENTS", 5000),
    # Single events posted at the same time to one process share a transaction.
    "GROUP_COMMIT": env_bool("MESHPORT_LINEAGE_GROUP_COMMIT", True),
    # Backpressure: past this many events waiting for a group commit in one process, a
    # single post answers 503 at once instead of queueing; an event still waiting after
    # MAX_WAIT_SECONDS is withdrawn and answered 503 too (openlineage-python's client gives
    # up after 5 s by default, so an answer later than that reaches nobody).
    "MAX_PENDING": env_int("MESHPORT_LINEAGE_MAX_PENDING", 1000),
    "MAX_WAIT_SECONDS": env_int("MESHPORT_LINEAGE_MAX_WAIT_SECONDS", 4),
}
# The Retry-After of every 503 the API answers when the database is locked or overloaded.
MESHPORT_RETRY_AFTER_SECONDS = env_int("MESHPORT_RETRY_AFTER_SECONDS", 2)
MESHPORT_GRAPH = {
    # Hops a lineage question may ask for, and nodes an answer may hold.
    "DEFAULT_DEPTH": 2,
    "MAX_DEPTH": env_int("MESHPORT_GRAPH_MAX_DEPTH", 20),
    "DEFAULT_CAP": env_int("MESHPORT_GRAPH_DEFAULT_CAP", 300),
    "MAX_CAP": env_int("MESHPORT_GRAPH_MAX_CAP", 5000),
    # Cached walks live this long at most; a new graph generation retires them sooner.
    "CACHE_SECONDS": env_int("MESHPORT_GRAPH_CACHE_SECONDS", 600),
}
# Search engines by alias (catalog.search.backend()). The whoosh index lives in the data
# dir; catalog.search.whoosh_backend.MemoryBackend keeps it in RAM (tests). With several
# web hosts, catalog.search.postgres_backend.PostgresBackend keeps it in the PostgreSQL
# database of DATABASE_URL (the Django alias "DATABASE"; PATH is then unused).
MESHPORT_SEARCH: dict[str, dict[str, Any]] = {
    "default": {
        "BACKEND": env_str(
            "MESHPORT_SEARCH_BACKEND", "catalog.search.whoosh_backend.WhooshBackend"
        ),
        "PATH": env_str("MESHPORT_SEARCH_PATH", str(DATA_DIR / "search")),
        "DATABASE": "default",
        # The outbox writer: changes per index commit, and how often it looks when idle.
        "BATCH": env_int("MESHPORT_SEARCH_BATCH", 500),
        "POLL_SECONDS": 0.2,
        # Memory for a rebuild's posting pools, shared by its indexing processes: with
        # less than the postings need, whoosh sorts them in runs on disk (at 100k
        # documents 2048 rebuilds in ~78 s, peaking at ~1.4 GB per process; 1024 in ~110 s).
        "REBUILD_MB": env_int("MESHPORT_SEARCH_REBUILD_MB", 2048),
    },
}
# Bounded subgraphs, keyed by the graph generation, live in each web process: no state
# that another process needs, so scaling out needs nothing shared.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "graph": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "meshport-graph",
        "OPTIONS": {"MAX_ENTRIES": env_int("MESHPORT_GRAPH_CACHE_ENTRIES", 500)},
    },
}
MESHPORT_CATALOG = {
    # Largest descriptor bundle (product + contracts) accepted by the API and the portal.
    "MAX_DESCRIPTOR_BYTES": env_int("MESHPORT_MAX_DESCRIPTOR_BYTES", 5 * 1024 * 1024),
}
# Webhook delivery (governance.webhooks): each request's timeout, attempts before a
# delivery is given up as failed, and the wait after the 1st, 2nd … failed attempt.
MESHPORT_WEBHOOKS = {
    "TIMEOUT_SECONDS": env_int("MESHPORT_WEBHOOKS_TIMEOUT_SECONDS", 5),
    "MAX_ATTEMPTS": env_int("MESHPORT_WEBHOOKS_MAX_ATTEMPTS", 6),
    "BACKOFF_SECONDS": [30, 120, 600, 3600, 21600],
}
# Uncompressed bodies beyond Django's default 2.5 MB are fine for the lineage endpoint,
# which enforces MESHPORT_LINEAGE["MAX_BODY_BYTES"] itself.
DATA_UPLOAD_MAX_MEMORY_SIZE = MESHPORT_LINEAGE["MAX_BODY_BYTES"]

# --- background work (huey) ---------------------------------------------------

REDIS_URL = env_str("MESHPORT_REDIS_URL")
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.PriorityRedisHuey",
        "name": "meshport",
        "url": REDIS_URL,
        "immediate": False,
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "meshport",
        "filename": str(DATA_DIR / "huey.sqlite3"),
        "immediate": False,
    }
HUEY["consumer"] = {"workers": env_int("MESHPORT_WORKERS", 2), "worker_type": "thread"}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("MESHPORT_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

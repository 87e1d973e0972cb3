"""Django settings for optionsdesk, derived entirely from `optionsdesk.config.AppSettings`.

Nothing here reads `os.environ` directly: every variable is declared, typed and documented in
`config.py` and `.env.example`.
"""

from __future__ import annotations

import contextlib
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url

from optionsdesk.config import BASE_DIR, load_settings, split_list, unknown_variables_warn

APP = load_settings()
VAR_DIR = APP.VAR_DIR
VAR_DIR.mkdir(parents=True, exist_ok=True)
with contextlib.suppress(OSError):  # e.g. a volume owned by someone else: leave it as it is
    VAR_DIR.chmod(0o700)  # database, secret key, exports: the owner's only (docs/operations.md)
(VAR_DIR / "static").mkdir(exist_ok=True)

DEBUG = APP.DEBUG
SECRET_KEY = APP.secret_key()
ALLOWED_HOSTS = split_list(APP.ALLOWED_HOSTS)
CSRF_TRUSTED_ORIGINS = split_list(APP.CSRF_TRUSTED_ORIGINS)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_htmx",
    "template_partials",
    "django_celery_beat",
    "django_celery_results",
    "axes",
    "optionsdesk",
    "trading",
    "calibration",
    "greg",
    "backtests",
    "steward",
    "reviewbot",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "optionsdesk.api.errors.BadInputMiddleware",
    # Reads load the status and controls rows once per request (optionsdesk/readmemo.py).
    "optionsdesk.readmemo.ReadMemoMiddleware",
    # Last: locks out repeated failed logins (dashboard and admin share Django's login).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "optionsdesk.urls"
WSGI_APPLICATION = "optionsdesk.wsgi.application"
ASGI_APPLICATION = "optionsdesk.asgi.application"

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
                "optionsdesk.context_processors.dashboard",
                "trading.context_processors.agent_mode",
            ],
        },
    },
]


def _database(url: str) -> dict[str, Any]:
    config: dict[str, Any] = dict(
        dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    )
    if config["ENGINE"].endswith("sqlite3"):
        # WAL + immediate transactions let web, worker and beat share one SQLite file.
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
        # A file (not :memory:) so a real worker subprocess can see the test database.
        config["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
    return config


DATABASES = {"default": _database(APP.database_url)}


def _private_file(name: object) -> None:
    """Create a SQLite database file 0600 before SQLite does (its -wal/-shm files follow it)."""
    path = Path(str(name))
    if str(name).startswith(":") or not path.parent.is_dir():
        return
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        path.chmod(0o600)


if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    _private_file(DATABASES["default"]["NAME"])
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Login throttling by django-axes (docs/roles.md): LOGIN_FAILURE_LIMIT wrong passwords for one
# user name from one address lock that pair out for LOGIN_COOLOFF_MIN minutes (HTTP 429).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = APP.LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=APP.LOGIN_COOLOFF_MIN)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "trading:live"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if APP.is_production
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Outside production, serve static straight from the finders: no collectstatic step for the demo.
WHITENOISE_USE_FINDERS = not APP.is_production
MEDIA_ROOT = VAR_DIR / "media"

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Security (hardened in production; `make check` runs `check --deploy` on it) ---
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if APP.is_production:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 31_536_000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_REDIRECT_EXEMPT = [r"^health$"]

# --- REST API ---
# What the next tick does with orders, for /api/status (an app's selector, named here so that
# `optionsdesk` imports no app).
AGENT_MODE_SELECTOR = "trading.selectors.agent_mode_effective"
# /health's exchange probe (the exchange clock in ms); by name, so optionsdesk imports no app.
HEALTH_EXCHANGE_TIME = "trading.exchange.exchange_time_ms"
# The health re-check interval in effect (a runtime control over HEALTH_RECHECK_INTERVAL_S), for
# `sync_periodic_tasks`; by name, so optionsdesk imports no app.
HEALTH_RECHECK_INTERVAL_SELECTOR = "trading.selectors.health_recheck_interval_effective"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first so unauthenticated API calls get 401 with a WWW-Authenticate header.
        "optionsdesk.api.auth.HashedTokenAuthentication",  # stored hashed, shown once
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Logged-in users read, admins write, unless a view names its role (optionsdesk.roles).
    "DEFAULT_PERMISSION_CLASSES": ["optionsdesk.api.permissions.ViewerReadsAdminWrites"],
    "DEFAULT_PAGINATION_CLASS": "optionsdesk.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["optionsdesk.api.filters.StrictFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "optionsdesk.api.errors.exception_handler",
    # JSON bodies only (nesting-limited); forms and multipart are a 415 (docs/roles.md).
    "DEFAULT_PARSER_CLASSES": ["optionsdesk.api.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_THROTTLE_RATES": {"agent_health": APP.AGENT_HEALTH_RATE},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "optionsdesk API",
    "DESCRIPTION": "Automated BTC/ETH options trading agent for Deribit.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ReconcileActionEnum": "trading.models.ReconcileAction",
        "DecisionActionEnum": "trading.domain.proposal.ActionType",
        "KindEnum": "backtests.models.BacktestRun.Kind",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "optionsdesk.api.schema.add_error_responses",
    ],
}

# --- Celery (read by optionsdesk/celery.py with the CELERY_ namespace) ---
CELERY_BROKER_URL = APP.CELERY_BROKER_URL
BROKER_DIR = VAR_DIR / "celery" / "broker"
if CELERY_BROKER_URL.startswith("filesystem"):
    for folder in ("queue", "processed", "control"):
        (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_CACHE_BACKEND = "default"
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_SOFT_TIME_LIMIT = 300
CELERY_TASK_TIME_LIMIT = 360
CELERY_TASK_TRACK_STARTED = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = APP.CELERY_TASK_ALWAYS_EAGER
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Agent work and research work on queues of their own (optionsdesk/celery.py, docs/operations.md).
CELERY_TASK_ROUTES = ("optionsdesk.celery.task_route",)
# Record last_run_at and run counts after every sent task, so System Health stays current.
CELERY_BEAT_SYNC_EVERY = 1
HEARTBEAT_INTERVAL_S = APP.HEARTBEAT_INTERVAL_S
# Research limits (docs/operations.md): queued or running runs per user; cells per grid.
RESEARCH_QUEUED_RUNS_PER_USER = APP.RESEARCH_QUEUED_RUNS_PER_USER
GRID_MAX_CELLS = APP.GRID_MAX_CELLS

# --- Exchange, LLM, Telegram ---
DERIBIT_ENV = APP.DERIBIT_ENV
DERIBIT_BASE_URL = APP.deribit_base_url
DERIBIT_SIM_URL = APP.DERIBIT_SIM_URL
DERIBIT_CLIENT_ID, DERIBIT_CLIENT_SECRET = APP.deribit_credentials
DERIBIT_TIMEOUT_S = APP.DERIBIT_TIMEOUT_S
DERIBIT_MARKET_DATA = APP.DERIBIT_MARKET_DATA
DERIBIT_PUBLIC_DATA_URL = APP.DERIBIT_PUBLIC_DATA_URL.rstrip("/")
DRY_RUN_DEFAULT = APP.DRY_RUN
RISK_INCLUDE_SANDBOX = APP.RISK_INCLUDE_SANDBOX
LLM_ENABLED = APP.llm_enabled
# The seeds' agent settings that are set (trading.services.controls.agent_defaults) and the
# health guard's; an unknown optionsdesk-like variable is a start-up warning.
AGENT_SEED_DEFAULTS = APP.agent_seed_defaults()
HEALTH_CHECK_ON_STARTUP = APP.HEALTH_CHECK_ON_STARTUP
AUTO_KILL_ON_HEALTH_FAIL = APP.AUTO_KILL_ON_HEALTH_FAIL
HEALTH_RECHECK_INTERVAL_S = APP.HEALTH_RECHECK_INTERVAL_S
AGENT_STREAM = APP.AGENT_STREAM
AGENT_STREAM_MAX_AGE_S = APP.AGENT_STREAM_MAX_AGE_S
UNKNOWN_VARIABLES = unknown_variables_warn()
TELEGRAM_ENABLED = APP.telegram_enabled

# --- Calibration (harvester, auto-calibration) ---
CALIBRATION_DATA_DIR = APP.CALIBRATION_DATA_DIR or VAR_DIR / "harvest"
CALIBRATION_UNDERLYINGS = split_list(APP.CALIBRATION_UNDERLYINGS)
HARVEST_INTERVAL_S = APP.HARVEST_INTERVAL_S

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "optionsdesk.redaction.RedactingFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}
    },
    "root": {"handlers": ["console"], "level": APP.LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

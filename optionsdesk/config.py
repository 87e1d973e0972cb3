"""Typed, env-driven configuration: the one place every environment variable is read.

Every variable is documented in `.env.example`. A missing or invalid value raises `ConfigError`
with one line naming the variable and the fix; `manage.py`, the WSGI app and the Celery app turn it
into a one-line message and a non-zero exit instead of a traceback.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import dj_database_url
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

BASE_DIR = Path(__file__).resolve().parent.parent

MAINNET_CONFIRMATION = "I-ACCEPT-REAL-MONEY-RISK"
# The simulated exchange's built-in account (trading/deribit/simulator), used when DERIBIT_ENV=sim.
SIM_CLIENT_ID = "optionsdesk-sim"
SIM_CLIENT_SECRET = "optionsdesk-sim-secret"
DERIBIT_URLS = {
    "testnet": "https://test.deribit.com/api/v2",
    "mainnet": "https://www.deribit.com/api/v2",
}
BROKER_SCHEMES = ("filesystem", "redis", "rediss", "memory", "amqp", "pyamqp", "sqla+")
DATABASE_SCHEMES = ("sqlite", "postgres", "postgresql", "pgsql")

# The fix to suggest for each variable, shown when its value is rejected.
FIXES: dict[str, str] = {
    "DATABASE_URL": "use sqlite:///var/optionsdesk.sqlite3 or postgres://user@host:5432/dbname",
    "CELERY_BROKER_URL": "use filesystem:// (default), redis://127.0.0.1:6379/0 or memory://",
    "DERIBIT_ENV": "set it to sim, testnet or mainnet",
    "DERIBIT_MAINNET_CONFIRM": f"mainnet trades real money: set it to {MAINNET_CONFIRMATION}",
    "DJANGO_ENV": "set it to dev or production",
    "SECRET_KEY": "set a random string of at least 50 characters",
    "ALLOWED_HOSTS": "list host names separated by commas, e.g. desk.example.com,localhost",
}


class ConfigError(Exception):
    """Start-up configuration is invalid; the message is one line naming the variable and fix."""


class AppSettings(BaseSettings):
    """All of optionsdesk's environment variables, validated once at start-up."""

    model_config = SettingsConfigDict(
        env_file=BASE_DIR / ".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=True
    )

    DJANGO_ENV: Literal["dev", "production"] = "dev"
    DEBUG: bool = False
    SECRET_KEY: SecretStr | None = None
    ALLOWED_HOSTS: str = "localhost,127.0.0.1,[::1]"
    CSRF_TRUSTED_ORIGINS: str = ""
    VAR_DIR: Path = BASE_DIR / "var"
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    DATABASE_URL: str = ""
    CELERY_BROKER_URL: str = "filesystem://"
    CELERY_TASK_ALWAYS_EAGER: bool = False
    HEARTBEAT_INTERVAL_S: int = Field(default=30, ge=5, le=3600)

    DERIBIT_ENV: Literal["sim", "testnet", "mainnet"] = "sim"
    DERIBIT_MAINNET_CONFIRM: str = ""
    DERIBIT_SIM_URL: str = "http://127.0.0.1:8082/api/v2"
    DERIBIT_CLIENT_ID: str = ""
    DERIBIT_CLIENT_SECRET: SecretStr = SecretStr("")
    DERIBIT_TIMEOUT_S: float = Field(default=10.0, gt=0, le=120)
    # Where research (backtest history, harvester) reads public market data: the configured
    # environment, or Deribit mainnet's public API with no keys (it can never trade: the client
    # refuses every private method, so no real-money confirmation is needed).
    DERIBIT_MARKET_DATA: Literal["configured", "mainnet_public"] = "configured"

    # Calibration (issue #13): where the harvester writes Parquet (default VAR_DIR/harvest), how
    # often it runs, and which underlyings the daily auto-calibration and the harvester cover.
    CALIBRATION_DATA_DIR: Path | None = None
    CALIBRATION_UNDERLYINGS: str = "BTC,ETH"
    HARVEST_INTERVAL_S: int = Field(default=900, ge=60, le=86_400)
    DERIBIT_PUBLIC_DATA_URL: str = "https://www.deribit.com/api/v2"
    DRY_RUN: bool = True
    # Greg's sandbox paper positions count in the risk engine's book (stress, delta) when true.
    RISK_INCLUDE_SANDBOX: bool = False

    OPENAI_BASE_URL: str = ""
    OPENAI_API_KEY: SecretStr = SecretStr("")
    OPENAI_MODEL: str = "gpt-4o-mini"
    OPENAI_FALLBACK_MODELS: str = ""
    OPENAI_TIMEOUT_S: float = Field(default=30.0, gt=0, le=600)
    CHAT_QUESTIONS_PER_MINUTE: int = Field(default=20, ge=1, le=10_000)
    # The review bot's models (empty: OPENAI_MODEL), both followed by OPENAI_FALLBACK_MODELS,
    # and the reasoning effort sent to reasoning models (empty: not sent).
    OPENAI_MODEL_REVIEW: str = ""
    OPENAI_MODEL_FAST: str = ""
    OPENAI_REASONING_EFFORT: Literal["", "low", "medium", "high"] = ""

    AGENT_HEALTH_RATE: str = Field(default="6/min", pattern=r"^\d+/(s|sec|m|min|h|hour|d|day)$")
    RESEARCH_QUEUED_RUNS_PER_USER: int = Field(default=30, ge=1, le=10_000)
    GRID_MAX_CELLS: int = Field(default=2000, ge=1, le=1_000_000)
    LOGIN_FAILURE_LIMIT: int = Field(default=10, ge=1, le=1_000)
    LOGIN_COOLOFF_MIN: int = Field(default=15, ge=1, le=10_080)

    # The agent's health guard (seed names; docs/operations.md). AUTO_KILL_ON_HEALTH_FAIL
    # pauses the agent (it never presses the kill switch); 0 s disables the re-check.
    HEALTH_CHECK_ON_STARTUP: bool = True
    AUTO_KILL_ON_HEALTH_FAIL: bool = True
    HEALTH_RECHECK_INTERVAL_S: int = Field(default=600, ge=0, le=86_400)

    # The agent's market stream (docs/architecture.md "Streamed state"): off, every tick reads
    # REST; on, the tick uses the streamed state when it was heard within the age limit.
    AGENT_STREAM: bool = True
    AGENT_STREAM_MAX_AGE_S: float = Field(default=5.0, gt=0, le=300)

    # The seeds' agent settings: configured defaults per mode, under the operator's runtime
    # controls (docs/agent.md "Modes and parameters"). Unset means the built-in default.
    MODE: Literal["research", "production"] | None = None
    LOOP_INTERVAL_SEC: int | None = Field(default=None, ge=10, le=86_400)
    RESEARCH_DELTA_MIN: float | None = Field(default=None, ge=0, le=1)
    RESEARCH_DELTA_MAX: float | None = Field(default=None, ge=0, le=1)
    RESEARCH_DTE_MIN: float | None = Field(default=None, ge=0, le=365)
    RESEARCH_DTE_MAX: float | None = Field(default=None, gt=0, le=365)
    RESEARCH_IVRV_MIN: float | None = Field(default=None, ge=0, le=10)
    RESEARCH_MAX_EXPIRY_EXPOSURE: float | None = Field(default=None, gt=0, le=1)
    DELTA_MIN: float | None = Field(default=None, ge=0, le=1)
    DELTA_MAX: float | None = Field(default=None, ge=0, le=1)
    DTE_MIN: float | None = Field(default=None, ge=0, le=365)
    DTE_MAX: float | None = Field(default=None, gt=0, le=365)
    IVRV_MIN: float | None = Field(default=None, ge=0, le=10)
    MAX_EXPIRY_EXPOSURE: float | None = Field(default=None, gt=0, le=1)
    EXPLORE_PROB: float | None = Field(default=None, ge=0, le=1)
    EXPLORE_TOP_K: int | None = Field(default=None, ge=1, le=50)
    MAX_MARGIN_USED_PCT: float | None = Field(default=None, gt=0, le=100)
    MAX_NET_DELTA_ABS: float | None = Field(default=None, ge=0)
    PREMIUM_MIN_USD: float | None = Field(default=None, ge=0)
    LLM_ENABLED: bool | None = None
    LLM_MODEL_NAME: str = ""

    TELEGRAM_BOT_TOKEN: SecretStr = SecretStr("")
    TELEGRAM_ALLOWED_USERS: str = ""
    TELEGRAM_API_BASE_URL: str = "https://api.telegram.org/bot"

    ADMIN_PASSWORD: SecretStr = SecretStr("")

    @field_validator("DATABASE_URL")
    @classmethod
    def _database_url_parses(cls, value: str) -> str:
        if not value:
            return value
        scheme = urlsplit(value).scheme
        if scheme not in DATABASE_SCHEMES:
            raise ValueError(f"unsupported scheme {scheme!r}")
        try:
            dj_database_url.parse(value)
        except (ValueError, KeyError) as exc:
            raise ValueError(f"cannot parse ({exc})") from exc
        if scheme != "sqlite" and not urlsplit(value).path.strip("/"):
            raise ValueError("no database name")
        return value

    @field_validator("CELERY_BROKER_URL")
    @classmethod
    def _broker_url_known(cls, value: str) -> str:
        if not value.startswith(BROKER_SCHEMES):
            raise ValueError(f"unsupported broker {value.split(':', 1)[0]!r}")
        return value

    @model_validator(mode="after")
    def _safety_gates(self) -> AppSettings:
        if self.DERIBIT_ENV == "mainnet" and self.DERIBIT_MAINNET_CONFIRM != MAINNET_CONFIRMATION:
            raise _variable_error("DERIBIT_MAINNET_CONFIRM", "mainnet needs a second confirmation")
        if self.DJANGO_ENV == "production":
            key = self.SECRET_KEY.get_secret_value() if self.SECRET_KEY else ""
            if len(key) < 50:
                raise _variable_error("SECRET_KEY", "production needs a strong secret key")
        return self

    @property
    def is_production(self) -> bool:
        """Whether production hardening (secure cookies, HSTS, manifest static) applies."""
        return self.DJANGO_ENV == "production"

    @property
    def database_url(self) -> str:
        """The database URL, defaulting to a SQLite file under the var directory."""
        return self.DATABASE_URL or f"sqlite:///{self.VAR_DIR / 'optionsdesk.sqlite3'}"

    @property
    def deribit_base_url(self) -> str:
        """The Deribit JSON-RPC base URL for the chosen environment."""
        if self.DERIBIT_ENV == "sim":
            return self.DERIBIT_SIM_URL.rstrip("/")
        return DERIBIT_URLS[self.DERIBIT_ENV]

    @property
    def deribit_credentials(self) -> tuple[str, str]:
        """Client id and secret; in sim mode the simulator's default account when unset."""
        client_id = self.DERIBIT_CLIENT_ID
        secret = self.DERIBIT_CLIENT_SECRET.get_secret_value()
        if self.DERIBIT_ENV == "sim" and not client_id:
            return SIM_CLIENT_ID, SIM_CLIENT_SECRET
        return client_id, secret

    @property
    def llm_enabled(self) -> bool:
        """The LLM is on only when both a server URL and a key are configured (and the seed's
        `LLM_ENABLED` is not false)."""
        if self.LLM_ENABLED is False:
            return False
        return bool(self.OPENAI_BASE_URL and self.OPENAI_API_KEY.get_secret_value())

    @property
    def llm_model(self) -> str:
        """The primary model: `OPENAI_MODEL`, or the seed's `LLM_MODEL_NAME` when that is set."""
        return self.LLM_MODEL_NAME or self.OPENAI_MODEL

    def agent_seed_defaults(self) -> dict[str, Any]:
        """The seed settings that are set, shaped for `trading.domain.params.AgentDefaults`:
        `mode`, `loop_interval_s`, per-mode values under `research` / `production`, `risk`."""
        per_mode = {
            "research": {
                "delta_min": self.RESEARCH_DELTA_MIN,
                "delta_max": self.RESEARCH_DELTA_MAX,
                "dte_min_days": self.RESEARCH_DTE_MIN,
                "dte_max_days": self.RESEARCH_DTE_MAX,
                "ivrv_min": self.RESEARCH_IVRV_MIN,
                "max_expiry_exposure_frac": self.RESEARCH_MAX_EXPIRY_EXPOSURE,
                # The seeds explore in research only: production never explores.
                "explore_prob": self.EXPLORE_PROB,
                "explore_top_k": self.EXPLORE_TOP_K,
            },
            "production": {
                "delta_min": self.DELTA_MIN,
                "delta_max": self.DELTA_MAX,
                "dte_min_days": self.DTE_MIN,
                "dte_max_days": self.DTE_MAX,
                "ivrv_min": self.IVRV_MIN,
                "max_expiry_exposure_frac": self.MAX_EXPIRY_EXPOSURE,
            },
        }
        risk = {
            "max_margin_used_pct": self.MAX_MARGIN_USED_PCT,
            "max_net_delta_abs": self.MAX_NET_DELTA_ABS,
            "premium_min_usd": self.PREMIUM_MIN_USD,
        }
        values: dict[str, Any] = {
            mode: {k: v for k, v in fields.items() if v is not None}
            for mode, fields in per_mode.items()
        }
        values["risk"] = {k: v for k, v in risk.items() if v is not None}
        if self.MODE is not None:
            values["mode"] = self.MODE
        if self.LOOP_INTERVAL_SEC is not None:
            values["loop_interval_s"] = self.LOOP_INTERVAL_SEC
        return values

    @property
    def telegram_enabled(self) -> bool:
        """The Telegram bot is on only when a token is configured."""
        return bool(self.TELEGRAM_BOT_TOKEN.get_secret_value())

    def secret_key(self) -> str:
        """The configured secret key, or one generated once and kept in the var directory."""
        if self.SECRET_KEY and self.SECRET_KEY.get_secret_value():
            return self.SECRET_KEY.get_secret_value()
        key_file = self.VAR_DIR / "secret_key"
        if not key_file.exists():
            self.VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:  # never readable by others, not even briefly
                handle.write(secrets.token_urlsafe(64))
        key_file.chmod(0o600)
        return key_file.read_text().strip()


#: Prefixes of variables that look meant for optionsdesk (the project's and the seeds').
SEED_LIKE_PREFIXES = (
    "OPTIONSDESK_",
    "RESEARCH_",
    "PRODUCTION_",
    "DERIBIT_",
    "OPENAI_",
    "LLM_",
    "HEALTH_",
    "EXPLORE_",
    "TELEGRAM_",
)
#: Seed-like variables read elsewhere (not fields of `AppSettings`).
OTHER_KNOWN_VARIABLES = frozenset(
    {
        "OPTIONSDESK_REQUIRE_BROWSER",
        "OPTIONSDESK_REQUIRE_SERVICES",
        "OPTIONSDESK_SHARED_DIR",
        "OPTIONSDESK_SHOW_WORKER_LOG",
    }
)


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """Variables that look like optionsdesk or seed settings but are not read: a typo or a
    setting this project does not have (logged as a start-up warning)."""
    known = set(AppSettings.model_fields) | OTHER_KNOWN_VARIABLES
    return sorted(
        name for name in environ if name.startswith(SEED_LIKE_PREFIXES) and name not in known
    )


def unknown_variables_warn(environ: Mapping[str, str] | None = None) -> list[str]:
    """Log a start-up warning naming each unknown optionsdesk-like variable; returns them."""
    import logging
    import os

    names = unknown_variables(os.environ if environ is None else environ)
    if names:
        logging.getLogger("optionsdesk.config").warning(
            "ignored environment variable(s) %s: not optionsdesk settings (typo? see .env.example)",
            ", ".join(names),
        )
    return names


def split_list(value: str) -> list[str]:
    """Split a comma-separated environment value into its non-empty items."""
    return [item.strip() for item in value.split(",") if item.strip()]


def _variable_error(variable: str, reason: str) -> ValueError:
    return ValueError(f"{variable}: {reason}")


def load_settings(**overrides: object) -> AppSettings:
    """Read and validate the environment, raising `ConfigError` with a one-line reason."""
    try:
        return AppSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    """Turn pydantic's report into one line: which variable, what is wrong, how to fix it."""
    first = exc.errors()[0]
    variable = str(first["loc"][0]) if first["loc"] else ""
    message = str(first["msg"]).removeprefix("Value error, ")
    if not variable and ": " in message:
        variable, message = message.split(": ", 1)
    fix = FIXES.get(variable, "see .env.example")
    value = first.get("input")
    secret = any(word in variable for word in ("SECRET", "KEY", "TOKEN", "PASSWORD"))
    shown = f" (got {value!r})" if isinstance(value, str) and not secret else ""
    return f"{variable} is invalid{shown}: {message}; fix: {fix}"

"""Configuration: defaults run offline; bad values stop start-up with one line naming the fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from optionsdesk.config import MAINNET_CONFIRMATION, ConfigError, load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith(("DERIBIT_", "DATABASE_", "CELERY_", "OPENAI_", "TELEGRAM_", "DJANGO_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    return monkeypatch


def test_it_defaults_to_sqlite_filesystem_broker_sim_and_dry_run(clean_env: pytest.MonkeyPatch):
    app = load_settings(_env_file=None)
    assert app.database_url.startswith("sqlite:///")
    assert app.CELERY_BROKER_URL == "filesystem://"
    assert app.DERIBIT_ENV == "sim"
    assert app.DRY_RUN is True
    assert app.DEBUG is False
    assert app.llm_enabled is False
    assert app.telegram_enabled is False


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("DERIBIT_ENV", "moon", "DERIBIT_ENV"),
        ("DATABASE_URL", "mysql//nonsense", "DATABASE_URL"),
        ("DATABASE_URL", "postgres://host:5432/", "DATABASE_URL"),
        ("CELERY_BROKER_URL", "carrier-pigeon://coop", "CELERY_BROKER_URL"),
        ("DERIBIT_TIMEOUT_S", "-1", "DERIBIT_TIMEOUT_S"),
    ],
)
def test_it_rejects_bad_values_naming_the_variable(
    clean_env: pytest.MonkeyPatch, variable: str, value: str, named: str
):
    clean_env.setenv(variable, value)
    with pytest.raises(ConfigError) as excinfo:
        load_settings(_env_file=None)
    message = str(excinfo.value)
    assert message.startswith(named)
    assert "fix:" in message
    assert "\n" not in message


def test_it_refuses_mainnet_without_the_second_confirmation(clean_env: pytest.MonkeyPatch):
    clean_env.setenv("DERIBIT_ENV", "mainnet")
    with pytest.raises(ConfigError, match="DERIBIT_MAINNET_CONFIRM"):
        load_settings(_env_file=None)
    clean_env.setenv("DERIBIT_MAINNET_CONFIRM", "yes")
    with pytest.raises(ConfigError, match="DERIBIT_MAINNET_CONFIRM"):
        load_settings(_env_file=None)
    clean_env.setenv("DERIBIT_MAINNET_CONFIRM", MAINNET_CONFIRMATION)
    assert load_settings(_env_file=None).deribit_base_url == "https://www.deribit.com/api/v2"


def test_it_requires_a_strong_secret_key_in_production(clean_env: pytest.MonkeyPatch):
    clean_env.setenv("DJANGO_ENV", "production")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings(_env_file=None)
    clean_env.setenv("SECRET_KEY", "x" * 60)
    assert load_settings(_env_file=None).is_production


def test_it_never_echoes_a_secret_value_in_the_error(clean_env: pytest.MonkeyPatch):
    clean_env.setenv("DJANGO_ENV", "production")
    clean_env.setenv("SECRET_KEY", "short-but-secret")
    with pytest.raises(ConfigError) as excinfo:
        load_settings(_env_file=None)
    assert "short-but-secret" not in str(excinfo.value)


def test_it_generates_and_keeps_a_dev_secret_key(clean_env: pytest.MonkeyPatch, tmp_path: Path):
    first = load_settings(_env_file=None).secret_key()
    second = load_settings(_env_file=None).secret_key()
    assert first == second
    assert len(first) >= 50
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DERIBIT_ENV": "moon"}, "DERIBIT_ENV"),
        ({"DERIBIT_ENV": "mainnet"}, "DERIBIT_MAINNET_CONFIRM"),
        ({"DATABASE_URL": "postgres//broken"}, "DATABASE_URL"),
    ],
)
def test_manage_py_stops_with_one_line_reason(tmp_path: Path, env: dict[str, str], named: str):
    run_env = {**os.environ, "VAR_DIR": str(tmp_path), **env}
    run_env.pop("DATABASE_URL", None) if "DATABASE_URL" not in env else None
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=REPO_ROOT,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"optionsdesk: configuration error: {named}")

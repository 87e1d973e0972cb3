"""Tokens are stored hashed and shown once; the public probe says little; var/ files are private."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from optionsdesk.services import api_token_create
from optionsdesk.tokens import token_digest

pytestmark = pytest.mark.django_db


def test_a_token_is_stored_as_a_hash_and_works(client, admin_user):
    secret = api_token_create(user=admin_user)
    stored = Token.objects.get(user=admin_user).key
    assert stored != secret
    assert stored == token_digest(secret)
    assert client.get("/api/agent/status", HTTP_AUTHORIZATION=f"Token {secret}").status_code == 200
    # the stored value itself is not a credential
    assert client.get("/api/agent/status", HTTP_AUTHORIZATION=f"Token {stored}").status_code == 401


def test_a_new_token_replaces_the_old_one(client, admin_user):
    old = api_token_create(user=admin_user)
    new = api_token_create(user=admin_user)
    assert client.get("/api/agent/status", HTTP_AUTHORIZATION=f"Token {old}").status_code == 401
    assert client.get("/api/agent/status", HTTP_AUTHORIZATION=f"Token {new}").status_code == 200


def test_the_command_prints_the_token_once(client, admin_user, capsys):
    call_command("api_token", "admin")
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert client.get("/api/agent/status", HTTP_AUTHORIZATION=f"Token {secret}").status_code == 200
    assert secret not in str(list(Token.objects.values_list("key", flat=True)))


def test_the_admin_cannot_add_a_plain_token(logged_in_client):
    assert logged_in_client.get("/admin/authtoken/tokenproxy/add/").status_code == 403


def test_var_files_are_the_owners_only(settings, tmp_path):
    import stat
    from pathlib import Path

    from optionsdesk.config import load_settings

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    var = Path(settings.VAR_DIR)
    assert mode(var) & 0o077 == 0, oct(mode(var))
    app = load_settings(VAR_DIR=tmp_path / "var", SECRET_KEY=None)
    app.secret_key()
    assert mode(tmp_path / "var" / "secret_key") == 0o600
    url = settings.APP.database_url  # the real database, not pytest's test copy
    if url.startswith("sqlite:///"):
        database = Path(url.removeprefix("sqlite:///"))
        assert mode(database) == 0o600, oct(mode(database))


def test_decision_and_training_exports_are_0600(settings, tmp_path):
    import stat

    import pandas as pd

    from backtests.domain.training import export_frame
    from trading.services.export import _write, export_dir

    settings.VAR_DIR = tmp_path
    path = export_frame(pd.DataFrame({"a": [1]}), tmp_path / "x" / "t.csv", "csv")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    class _Decision:  # the two attributes `_write` reads
        from datetime import UTC, datetime

        market_time = datetime(2026, 1, 1, tzinfo=UTC)
        log_line = "{}"

    from trading.services.export import ExportReport

    report = ExportReport()
    _write([_Decision()], report)  # type: ignore[list-item]
    (written,) = report.files
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert stat.S_IMODE(export_dir().stat().st_mode) & 0o077 == 0


def test_a_failed_backtest_shows_no_server_path():
    from optionsdesk.redaction import public_error

    exc = FileNotFoundError(2, "No such file or directory", "/work/shared/data/deribit/x.parquet")
    message = public_error(exc)
    assert "/work" not in message
    assert "x.parquet" in message

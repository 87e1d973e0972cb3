"""Fixtures of the review bot tests: the fake Telegram Bot API, a small repository with planted
secrets, a symlink out of the tree and a git history, and a runner for updates."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from telegram import Update

from optionsdesk.asyncrun import run_sync
from reviewbot.bot import build_application
from tests.fake_telegram import TOKEN, FakeTelegram, FakeTelegramServer

ALLOWED = 1001
OTHER_ALLOWED = 1002
STRANGER = 6666
PLANTED_OPENAI = "sk-proj0123456789abcdefghijklmnop"
PLANTED_STRIPE = "sk_live_51HabcdEFGHijklMNOP"
PLANTED_PASSWORD = "hunter2-very-secret"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAzzzz\n-----END RSA PRIVATE KEY-----"


@pytest.fixture(scope="module")
def tg_server() -> Iterator[FakeTelegramServer]:
    """The fake Bot API, one per module."""
    server = FakeTelegramServer().start()
    yield server
    server.stop()


@pytest.fixture
def tg(tg_server: FakeTelegramServer) -> FakeTelegram:
    """The fake's state, emptied for this test."""
    tg_server.fake.calls.clear()
    tg_server.fake.updates.clear()
    return tg_server.fake


@pytest.fixture
def bot_settings(settings: Any, tg_server: FakeTelegramServer, tmp_path: Path) -> Any:
    """Token, allowed users and the fake's URL; VAR_DIR in a temp folder."""
    settings.APP = settings.APP.model_copy(
        update={
            "TELEGRAM_BOT_TOKEN": __import__("pydantic").SecretStr(TOKEN),
            "TELEGRAM_ALLOWED_USERS": f"{ALLOWED}, {OTHER_ALLOWED}",
            "TELEGRAM_API_BASE_URL": tg_server.base_url,
        }
    )
    settings.VAR_DIR = tmp_path / "var"
    return settings


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(settings: Any, tmp_path: Path) -> Path:
    """A small repository: apps, a file with planted secrets, `.env`, `var/secret_key`, a
    symlink out of the tree, one commit and an uncommitted change."""
    root = tmp_path / "repo"
    (root / "trading").mkdir(parents=True)
    (root / "trading" / "__init__.py").write_text('"""The live agent."""\n')
    (root / "trading" / "gate.py").write_text(
        "def order_gate(order):\n    '''The one order gate.'''\n    return check(order)\n"
    )
    (root / "docs").mkdir()
    (root / "docs" / "agent.md").write_text("# Agent\nThe kill switch stops new orders.\n")
    (root / "var").mkdir()
    (root / "var" / "secret_key").write_text("django-secret-xyz\n")
    (root / ".env").write_text(f"OPENAI_API_KEY={PLANTED_OPENAI}\n")
    (root / "link_out").symlink_to("/etc")
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "first")
    (root / "trading" / "settings_demo.py").write_text(
        f'OPENAI = "{PLANTED_OPENAI}"\nSTRIPE = "{PLANTED_STRIPE}"\n'
        f'DB_PASSWORD = "{PLANTED_PASSWORD}"\nKEY = """{PEM}"""\n'
        "Authorization: Bearer abcdefgh12345678\n"
    )
    (root / "trading" / "gate.py").write_text(
        "import subprocess\n\ndef order_gate(order):\n"
        "    subprocess.run(order.cmd, shell=True)\n    return True\n"
    )
    _git(root, "add", "-N", "trading/settings_demo.py")
    settings.REVIEWBOT_REPO_DIR = root
    return root


def run_updates(updates: list[dict[str, Any]], **options: Any) -> None:
    """Build the bot against the fake API and process `updates` in order."""
    from django.conf import settings

    app = build_application(token=TOKEN, base_url=settings.APP.TELEGRAM_API_BASE_URL, **options)

    async def go() -> None:
        async with app:
            for payload in updates:
                await app.process_update(Update.de_json(payload, app.bot))

    run_sync(go())

"""`manage.py run_reviewbot` as a real process polls the fake Bot API and answers, with the
real trading link (the effective mode read from the test database)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fake_telegram import TOKEN, FakeTelegramServer
from tests.reviewbot.conftest import ALLOWED, STRANGER
from tests.workers import database_url_for_subprocess

REPO_ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_the_bot_process_answers_allowed_users_and_refuses_strangers_once(
    tg_server: FakeTelegramServer,
):
    fake = tg_server.fake
    fake.calls.clear()
    fake.queue(fake.message(ALLOWED, "/health"))
    fake.queue(fake.message(STRANGER, "/health"))
    fake.queue(fake.message(STRANGER, "/status"))
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocess(),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_ALLOWED_USERS": str(ALLOWED),
        "TELEGRAM_API_BASE_URL": tg_server.base_url,
        "OPENAI_BASE_URL": "",
        "PYTHONUNBUFFERED": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "run_reviewbot"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(fake.sent()) < 2:
            time.sleep(0.2)
        time.sleep(1.0)  # a second refusal would arrive now
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=20)
    log = output.decode(errors="replace")
    assert TOKEN not in log
    (health,) = fake.sent(ALLOWED)
    assert health.text.startswith("Orders: dry run: orders are simulated"), log[-2000:]
    (refusal,) = fake.sent(STRANGER)
    assert "only its allowed users" in refusal.text

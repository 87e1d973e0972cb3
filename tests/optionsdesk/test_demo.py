"""`manage.py demo` (what `make demo` runs) starts everything offline and Ctrl-C stops it all."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.workers import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.slow]


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def test_demo_serves_login_reports_health_and_stops_every_process(tmp_path: Path):
    port, sim_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CELERY_"))}
    env.update(
        VAR_DIR=str(tmp_path),
        ADMIN_PASSWORD="demo-password-123",
        HEARTBEAT_INTERVAL_S="5",
        DERIBIT_SIM_URL=f"http://127.0.0.1:{sim_port}/api/v2",
        PYTHONUNBUFFERED="1",
    )
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        demo = subprocess.Popen(
            [sys.executable, "manage.py", "demo", "--port", str(port), "--sim-port", str(sim_port)],
            cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        health: dict = {}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if demo.poll() is not None:
                pytest.fail(f"demo exited early:\n{log.read_text()}")
            try:
                status, body = get(f"http://127.0.0.1:{port}/health")
                health = json.loads(body)
                if health["checks"]["worker"]["status"] == "ok":
                    break
            except (OSError, ValueError):
                pass
            time.sleep(1)
        output = log.read_text()
        assert f"running at http://127.0.0.1:{port}/" in output
        assert health["checks"]["database"]["status"] == "ok", health
        assert health["checks"]["broker"]["status"] == "ok", health
        assert health["checks"]["worker"]["status"] == "ok", (health, output)
        assert health["checks"]["exchange"]["status"] == "ok", (health, output)
        assert "started sim" in output
        status, body = get(f"http://127.0.0.1:{port}/login/")
        assert status == 200
        assert b"Log in" in body
        status, _ = get(f"http://127.0.0.1:{port}/static/vendor/pico/pico.min.css")
        assert status == 200
        assert "demo-password-123" not in output
        with sqlite3.connect(tmp_path / "optionsdesk.sqlite3") as db:
            (runs,) = db.execute(
                "SELECT total_run_count FROM django_celery_beat_periodictask"
                " WHERE name = 'system.heartbeat'"
            ).fetchone()
        assert runs >= 1
    finally:
        children = [int(word) for word in log.read_text().split("(pid ")[1:] for word in
                    [word.split(")")[0]]]  # fmt: skip
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=60)
    assert demo.returncode == 0
    assert len(children) >= 3
    assert not [pid for pid in children if pid_alive(pid)]

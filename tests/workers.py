"""Real Celery processes (worker, beat) as subprocesses against pytest's database.

Used by the worker fixtures in tests/conftest.py (`worker_queue`, `celery_beat_and_worker`) and
by the security tests that kill or restart workers themselves (queues, chaos).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connection

REPO_ROOT = Path(__file__).resolve().parents[1]


def database_url_for_subprocess() -> str:
    """A URL for the database pytest-django created, so a subprocess writes where we read."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


@dataclass
class CeleryOnSim:
    """A real worker and beat (subprocesses) on a private queue, against a simulator served on
    loopback by the test process."""

    server: Any
    queue: str
    logs: list[Path]

    def output(self) -> str:
        """Both subprocesses' logs (for failure messages)."""
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in self.logs
        )


def free_port() -> int:
    """A TCP port free on loopback right now (for a server started as a subprocess)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def worker_env(**extra: str) -> dict[str, str]:
    """The test's database for the subprocess, no real exchange credentials, dry run on."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DERIBIT_")}
    env.update(DATABASE_URL=database_url_for_subprocess(), PYTHONUNBUFFERED="1", DRY_RUN="true")
    env.update(extra)
    return env


def celery_start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`celery -A optionsdesk <argv>` with its output appended to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "optionsdesk", *argv],
            cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def worker_start(
    queues: str, name: str, env: dict[str, str], log: Path, *extra: str
) -> subprocess.Popen[bytes]:
    """`celery worker -Q queues` (solo pool: one task at a time, killable as one process)."""
    return celery_start(
        ["worker", "--pool", "solo", "-Q", queues, "-n", f"{name}@%h", "--without-gossip",
         "--without-mingle", "-l", "info", *extra],
        env, log,
    )  # fmt: skip


def beat_start(env: dict[str, str], log: Path, schedule: Path) -> subprocess.Popen[bytes]:
    """`celery beat` on django-celery-beat's database scheduler, checking it every second."""
    return celery_start(
        ["beat", "-l", "info", "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
         "--schedule", str(schedule), "--max-interval", "1"],
        env, log,
    )  # fmt: skip


def worker_stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 20 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def worker_wait_ready(log: Path, timeout_s: float = 90) -> None:
    """Wait until the worker's log says it is ready to consume."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log.exists() and " ready." in log.read_text(errors="replace"):
            return
        time.sleep(0.3)
    raise AssertionError(f"worker not ready in {timeout_s} s:\n{log.read_text(errors='replace')}")


def queue_purge(*queues: str) -> None:
    """Drop messages a previous run may have left in these queues."""
    from optionsdesk.celery import app

    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in queues:
            with contextlib.suppress(Exception):  # an unknown queue: nothing to purge
                channel.queue_purge(queue)  # type: ignore[attr-defined]

"""Real Celery worker subprocesses for the security tests (queues, chaos)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.optionsdesk.test_celery_worker import database_url_for_subprocess

REPO_ROOT = Path(__file__).resolve().parents[2]


def worker_env(**extra: str) -> dict[str, str]:
    """The test's database for the subprocess, no real exchange credentials, dry run on."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DERIBIT_")}
    env.update(DATABASE_URL=database_url_for_subprocess(), PYTHONUNBUFFERED="1", DRY_RUN="true")
    env.update(extra)
    return env


def worker_start(
    queues: str, name: str, env: dict[str, str], log: Path, *extra: str
) -> subprocess.Popen[bytes]:
    """`celery worker -Q queues` (solo pool: one task at a time, killable as one process)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "optionsdesk", "worker", "--pool", "solo",
             "-Q", queues, "-n", f"{name}@%h", "--without-gossip", "--without-mingle",
             "-l", "info", *extra],
            cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
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

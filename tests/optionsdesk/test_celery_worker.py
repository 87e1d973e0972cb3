"""A real Celery worker process consumes tasks from the configured broker and writes the database.

In CI the broker is Redis and the database PostgreSQL; locally the filesystem broker and SQLite.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django_celery_results.models import TaskResult

from optionsdesk.models import WorkerHeartbeat
from optionsdesk.tasks import heartbeat

REPO_ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def database_url_for_subprocess() -> str:
    """A URL for the database pytest-django created, so a subprocess writes where we read."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker_queue() -> Iterator[str]:
    """Start `celery worker` as a real subprocess on a private queue; stop it afterwards."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": database_url_for_subprocess(), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "optionsdesk", "worker", "--pool", "solo",
         "-Q", queue, "-n", f"{queue}@%h", "--without-gossip", "--without-mingle", "-l", "info"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        yield queue
    finally:
        proc.terminate()
        try:
            output, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
        if os.environ.get("OPTIONSDESK_SHOW_WORKER_LOG"):
            sys.stderr.write(output.decode(errors="replace"))


def test_a_real_worker_runs_the_heartbeat_and_records_its_result(worker_queue: str):
    if os.environ.get("OPTIONSDESK_REQUIRE_SERVICES"):
        assert settings.CELERY_BROKER_URL.startswith("redis://")
        assert connection.vendor == "postgresql"
    result = heartbeat.apply_async(queue=worker_queue)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if TaskResult.objects.filter(task_id=result.id, status="SUCCESS").exists():
            break
        time.sleep(0.5)
    stored = TaskResult.objects.get(task_id=result.id)
    assert stored.status == "SUCCESS"
    assert stored.task_name == "system.heartbeat"
    beat = WorkerHeartbeat.objects.get(hostname__startswith=worker_queue)
    assert beat.last_task_id == result.id
    assert beat.beats == 1

"""A real Celery worker process consumes tasks from the configured broker and writes the database.

In CI the broker is Redis and the database PostgreSQL; locally the filesystem broker and SQLite.
"""

from __future__ import annotations

import os
import time

import pytest
from django.conf import settings
from django.db import connection
from django_celery_results.models import TaskResult

from optionsdesk.models import WorkerHeartbeat
from optionsdesk.tasks import heartbeat

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


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

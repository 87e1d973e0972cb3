"""The admin shows the schedule, task results and worker heartbeats."""

from __future__ import annotations

import pytest
from django_celery_results.models import TaskResult

from optionsdesk.schedule import declared_schedule
from optionsdesk.services import heartbeat_record, periodic_tasks_sync

pytestmark = pytest.mark.django_db


def test_admin_lists_heartbeat_schedule_results_and_workers(logged_in_client):
    periodic_tasks_sync(specs=declared_schedule(30))
    heartbeat_record(hostname="celery@admin-test", task_id="abc")
    TaskResult.objects.create(task_id="abc", task_name="system.heartbeat", status="SUCCESS")
    pages = {
        "/admin/django_celery_beat/periodictask/": "system.heartbeat",
        "/admin/django_celery_results/taskresult/": "abc",
        "/admin/optionsdesk/workerheartbeat/": "celery@admin-test",
    }
    for url, expected in pages.items():
        response = logged_in_client.get(url)
        assert response.status_code == 200, url
        assert expected in response.content.decode(), url

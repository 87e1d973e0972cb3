"""System reads for the dashboard and the API."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_celery_beat.models import PeriodicTask
from django_celery_results.models import TaskResult

from optionsdesk.models import WorkerHeartbeat


def periodic_task_list() -> QuerySet[PeriodicTask]:
    """Every periodic task with its schedule, enabled or not."""
    return PeriodicTask.objects.select_related("interval", "crontab").order_by("name")


def task_result_recent(*, limit: int = 10) -> QuerySet[TaskResult]:
    """The most recent task results recorded by django-celery-results."""
    return TaskResult.objects.order_by("-date_done")[:limit]


def worker_heartbeat_list() -> QuerySet[WorkerHeartbeat]:
    """Every worker that has ever sent a heartbeat, freshest first."""
    return WorkerHeartbeat.objects.all()


def system_summary() -> dict[str, Any]:
    """Counts shown on the status endpoint."""
    return {
        "periodic_tasks": PeriodicTask.objects.count(),
        "periodic_tasks_enabled": PeriodicTask.objects.filter(enabled=True).count(),
        "workers": WorkerHeartbeat.objects.count(),
        "task_results": TaskResult.objects.count(),
    }

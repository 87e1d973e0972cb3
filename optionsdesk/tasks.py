"""System tasks."""

from __future__ import annotations

from typing import Any

from celery import shared_task


@shared_task(name="system.heartbeat", bind=True, acks_late=True, ignore_result=False)
def heartbeat(self: Any) -> str:
    """Record that the worker running this task is alive."""
    from optionsdesk.services import heartbeat_record

    hostname = self.request.hostname or "unknown"
    heartbeat_record(hostname=hostname, task_id=self.request.id or "")
    return hostname

"""System models: worker liveness."""

from __future__ import annotations

from django.db import models


class WorkerHeartbeat(models.Model):
    """The last time each Celery worker ran the `system.heartbeat` task."""

    hostname = models.CharField(max_length=255, unique=True)
    last_seen_at = models.DateTimeField(db_index=True)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    beats = models.PositiveBigIntegerField(default=0)
    last_task_id = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-last_seen_at"]

    def __str__(self) -> str:
        return f"{self.hostname} @ {self.last_seen_at:%Y-%m-%d %H:%M:%S}"

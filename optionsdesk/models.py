"""System models: worker liveness, and the abstract shapes the apps' settings rows share."""

from __future__ import annotations

from typing import Self

from django.db import models
from django.utils import timezone

from optionsdesk.readmemo import memoized


class SingletonRow(models.Model):
    """A row that exists once (pk=1): an app's settings or persisted state."""

    class Meta:
        abstract = True

    @classmethod
    def load(cls) -> Self:
        """The one row, created with its defaults on first use (read once per read request:
        `optionsdesk.readmemo`; ticks and writes read it fresh)."""
        return memoized(cls._meta.label, lambda: cls._default_manager.get_or_create(pk=1)[0])


class AuditedChange(models.Model):
    """One audited edit of a settings row: who, from where, and old -> new per field."""

    changed_at = models.DateTimeField(default=timezone.now, db_index=True)
    changed_by = models.CharField(max_length=150, blank=True, default="")
    source = models.CharField(max_length=16, default="service")
    changes = models.JSONField(default=dict, help_text='{"field": [old, new]}')

    class Meta:
        abstract = True
        ordering = ("-changed_at", "-id")

    def __str__(self) -> str:
        return f"{self.changed_at:%Y-%m-%d %H:%M} {self.changed_by or '?'}: {sorted(self.changes)}"


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

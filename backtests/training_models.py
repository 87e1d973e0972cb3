"""Training-mode runs (issue 15): several profiles over the same replayed decision times."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class TrainingRun(models.Model):
    """One multi-profile data collection: which profiles on which data, and the files it wrote.

    `files` maps a file kind (`decisions`, `candidates`, `corpus_train`, `corpus_validation`)
    to `{"path", "rows", "format"}`; `result` holds each profile's summary and the corpus's
    schema check. Runs on the research queue with progress (one step per profile).
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    TERMINAL = (Status.SUCCEEDED, Status.FAILED)

    name = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    progress = models.FloatField(default=0.0, help_text="0 to 1")
    source = models.JSONField(default=dict, help_text="SourceSpec: which market data")
    config = models.JSONField(default=dict, help_text="BacktestConfig: exits, fills, interval")
    profiles = models.JSONField(default=list, help_text="names of the training profiles")
    fmt = models.CharField(max_length=16, default="csv", help_text="csv, jsonl or parquet")
    validation_frac = models.FloatField(default=0.1)
    result = models.JSONField(default=dict, blank=True)
    files = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "backtests"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"training #{self.pk} {', '.join(self.profiles)} ({self.status})"

    @property
    def is_done(self) -> bool:
        """Finished one way or another."""
        return self.status in self.TERMINAL

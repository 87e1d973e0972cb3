"""Admin of training-mode runs (issue 15): read-only records of what was collected."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from backtests.training_models import TrainingRun


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    """Training runs: profiles, status, files written; launched from the tab, API or command."""

    list_display = ("id", "name", "status", "progress", "fmt", "created_at")
    list_filter = ("status", "fmt", "created_at")
    search_fields = ("name",)
    readonly_fields = (
        "status",
        "progress",
        "source",
        "config",
        "profiles",
        "fmt",
        "validation_frac",
        "result",
        "files",
        "error",
        "created_by",
        "created_at",
        "finished_at",
    )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Runs are launched from the tab, the API or `manage.py training_run`."""
        return False

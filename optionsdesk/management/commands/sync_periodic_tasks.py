"""Sync the declared periodic schedule into django-celery-beat's tables."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string

from optionsdesk.schedule import declared_schedule
from optionsdesk.services import periodic_tasks_sync


class Command(BaseCommand):
    """`manage.py sync_periodic_tasks`: idempotent; disables managed rows no longer declared."""

    help = "Write the schedule declared in optionsdesk/schedule.py to the beat database."

    def handle(self, *args: Any, **options: Any) -> None:
        """Sync and print what changed."""
        report = periodic_tasks_sync(
            specs=declared_schedule(
                settings.HEARTBEAT_INTERVAL_S,
                harvest_interval_s=settings.HARVEST_INTERVAL_S,
                health_recheck_interval_s=_health_recheck_interval_s(),
            )
        )
        for label in ("created", "updated", "unchanged", "disabled"):
            names = getattr(report, label)
            if names:
                self.stdout.write(f"{label}: {', '.join(names)}")
        total = len(report.created) + len(report.updated) + len(report.unchanged)
        self.stdout.write(self.style.SUCCESS(f"schedule in sync: {total} declared task(s)"))


def _health_recheck_interval_s() -> int:
    """The re-check interval in effect: the runtime control when an operator set one, else
    HEALTH_RECHECK_INTERVAL_S (a sync at start-up must not undo the operator's change)."""
    selector = getattr(settings, "HEALTH_RECHECK_INTERVAL_SELECTOR", "")
    if not selector:
        return int(settings.HEALTH_RECHECK_INTERVAL_S)
    return int(import_string(selector)())

"""Admin for system models."""

from django.contrib import admin

from optionsdesk.models import WorkerHeartbeat


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    """Worker liveness as recorded by the heartbeat task."""

    list_display = ("hostname", "last_seen_at", "beats", "first_seen_at")
    readonly_fields = ("hostname", "last_seen_at", "first_seen_at", "beats", "last_task_id")

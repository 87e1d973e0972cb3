"""Admin for system models."""

from typing import Any

from django.contrib import admin

from optionsdesk.models import WorkerHeartbeat


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    """Worker liveness as recorded by the heartbeat task."""

    list_display = ("hostname", "last_seen_at", "beats", "first_seen_at")
    readonly_fields = ("hostname", "last_seen_at", "first_seen_at", "beats", "last_task_id")


# API tokens are stored hashed (optionsdesk.api.auth): a token added here would hold a plain key
# no client could use, so the admin lists and revokes tokens; `manage.py api_token` makes them.
from rest_framework.authtoken.admin import TokenAdmin as _DRFTokenAdmin  # noqa: E402
from rest_framework.authtoken.models import TokenProxy  # noqa: E402

admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class ApiTokenAdmin(_DRFTokenAdmin):
    """Tokens by user (the key column is the secret's hash); revoke by deleting."""

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

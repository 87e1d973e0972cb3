"""Admin registrations of the steward app: reports are read-only (workers write them)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from steward.models import StewardConversation, StewardMessage, StewardReport


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(StewardReport)
class StewardReportAdmin(_ReadOnly):
    """Reports with their source, status and summary."""

    list_display = ("id", "created_at", "trigger", "status", "source", "model", "total_tokens")
    list_filter = ("status", "source", "trigger")
    readonly_fields = [f.name for f in StewardReport._meta.fields]


class StewardMessageInline(admin.TabularInline):
    model = StewardMessage
    extra = 0
    can_delete = False
    fields = ("created_at", "role", "answer_kind", "content", "model")
    readonly_fields = fields


@admin.register(StewardConversation)
class StewardConversationAdmin(_ReadOnly):
    """Assistant conversations with their messages."""

    list_display = ("id", "title", "user", "updated_at")
    readonly_fields = ("title", "user", "created_at", "updated_at")
    inlines = (StewardMessageInline,)

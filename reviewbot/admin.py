"""Admin registrations of the reviewbot app."""

from __future__ import annotations

from django.contrib import admin

from reviewbot.models import (
    AlertDelivery,
    BotMessage,
    BotSession,
    RefusedContact,
    Review,
    TelegramLink,
    ToolRun,
)


class BotMessageInline(admin.TabularInline):
    model = BotMessage
    extra = 0
    can_delete = False
    fields = ("created_at", "direction", "command", "text")
    readonly_fields = fields


@admin.register(BotSession)
class BotSessionAdmin(admin.ModelAdmin):
    """Chats with allowed users and their messages."""

    list_display = ("chat_id", "user_id", "username", "last_seen_at", "cleared_at")
    inlines = (BotMessageInline,)


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    """Reviews per change with their severity counts."""

    list_display = ("change_key", "title", "reviewer", "counts", "created_at")
    readonly_fields = ("files", "findings", "counts")


@admin.register(ToolRun)
class ToolRunAdmin(admin.ModelAdmin):
    """Smoke-test and scan runs."""

    list_display = ("tool", "ok", "created_at")


@admin.register(RefusedContact)
class RefusedContactAdmin(admin.ModelAdmin):
    """Telegram users who were refused."""

    list_display = ("user_id", "username", "attempts", "first_seen_at", "last_seen_at")


@admin.register(TelegramLink)
class TelegramLinkAdmin(admin.ModelAdmin):
    """Telegram user to dashboard user (the role decides /pause and /resume)."""

    list_display = ("telegram_user_id", "user", "created_at")


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(admin.ModelAdmin):
    """Alerts sent (one row per event and chat)."""

    list_display = ("event_key", "chat_id", "status", "created_at", "sent_at")
    list_filter = ("status",)

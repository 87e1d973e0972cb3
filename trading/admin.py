"""Admin for the live agent: controls (audited), runs, decisions, orders, positions, chats.

The agent's records (decisions, orders, positions, agent status, runs, reconciliations, health
checks) and the controls' audit trail are read-only here: the books change only through services
that record who and why, never by a hand-added row (issue #11: an admin-added Position drove a
market order).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from trading import models


class ReadOnlyAdmin(admin.ModelAdmin):
    """View only: no add, no change, no delete (also not through inlines or bulk actions)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(models.RuntimeControl)
class RuntimeControlAdmin(admin.ModelAdmin):
    """Edits go through `controls_update` so every change is audited."""

    list_display = ("__str__", "mode", "decision_mode", "dry_run", "updated_at", "updated_by")
    readonly_fields = ("updated_at", "updated_by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not models.RuntimeControl.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        from trading.services import controls_update

        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        controls_update(changes=changes, user=str(request.user), source="admin")


@admin.register(models.RuntimeControlChange)
class RuntimeControlChangeAdmin(ReadOnlyAdmin):
    """Append-only audit trail: rows are written by `controls_update`, never edited or deleted."""

    list_display = ("changed_at", "changed_by", "source", "changes", "note")
    list_filter = ("source",)


@admin.register(models.AgentStatus)
class AgentStatusAdmin(ReadOnlyAdmin):
    """The agent's guard, drawdown, lock and back-off state."""

    list_display = ("__str__", "last_tick_at", "backoff_until", "lock_owner", "lock_until")


@admin.register(models.AgentRun)
class AgentRunAdmin(ReadOnlyAdmin):
    """Every tick with how it ended."""

    list_display = ("started_at", "trigger", "status", "duration_ms", "requests_count", "summary")
    list_filter = ("status", "trigger")


class OrderInline(admin.TabularInline):
    model = models.Order
    extra = 0
    fields = ("label", "direction", "amount", "instrument_name", "limit_price", "state")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(models.Decision)
class DecisionAdmin(ReadOnlyAdmin):
    """Decisions with their orders; filter by action, verdict, mode."""

    list_display = (
        "decided_at",
        "action",
        "underlying",
        "verdict_code",
        "explored",
        "mode",
        "decision_mode",
        "decision_source",
        "policy_version",
        "dry_run",
    )
    list_filter = (
        "action",
        "verdict_code",
        "mode",
        "decision_mode",
        "decision_source",
        "explored",
        "dry_run",
    )
    search_fields = ("reason",)
    inlines = (OrderInline,)


@admin.register(models.Order)
class OrderAdmin(ReadOnlyAdmin):
    """Orders by label and state."""

    list_display = (
        "created_at",
        "label",
        "direction",
        "amount",
        "instrument_name",
        "limit_price",
        "state",
        "filled_amount",
        "dry_run",
    )
    list_filter = ("state", "direction", "dry_run", "environment")
    search_fields = ("label", "instrument_name", "exchange_order_id")


@admin.register(models.Position)
class PositionAdmin(ReadOnlyAdmin):
    """Tracked positions (open/closed, paper, sandbox, flagged)."""

    list_display = (
        "instrument_name",
        "size",
        "average_price_coin",
        "strategy_id",
        "status",
        "paper",
        "sandbox",
        "flagged",
        "origin",
        "settled_coin",
    )
    list_filter = ("status", "paper", "sandbox", "flagged", "strategy_id", "currency")


class DiscrepancyInline(admin.TabularInline):
    model = models.ReconciliationDiscrepancy
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(models.ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    """Reconciliation history with its discrepancies."""

    list_display = ("started_at", "trigger", "action", "status", "summary")
    inlines = (DiscrepancyInline,)


@admin.register(models.ReconciliationDiscrepancy)
class ReconciliationDiscrepancyAdmin(ReadOnlyAdmin):
    """Every discrepancy found."""

    list_display = ("run", "instrument_name", "kind", "local_size", "exchange_size", "action_taken")
    list_filter = ("kind",)


@admin.register(models.HealthCheck)
class HealthCheckAdmin(ReadOnlyAdmin):
    """Agent health-check results."""

    list_display = ("checked_at", "kind", "name", "severity", "detail")
    list_filter = ("severity", "kind", "name")


class ChatMessageInline(admin.TabularInline):
    """A conversation's messages, read-only (the record of what was asked and answered)."""

    model = models.ChatMessage
    fk_name = "conversation"
    fields = ("created_at", "role", "answer_kind", "content", "sources", "model", "total_tokens")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(models.Conversation)
class ConversationAdmin(admin.ModelAdmin):
    """Conversations with the agent (web, API, command line, Telegram)."""

    list_display = ("id", "title", "channel", "user", "created_at", "updated_at")
    list_filter = ("channel",)
    search_fields = ("title", "messages__content")
    readonly_fields = ("created_at", "updated_at")
    inlines = (ChatMessageInline,)


@admin.register(models.ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin):
    """Every question and answer, with how the answer was made."""

    list_display = ("created_at", "conversation", "role", "answer_kind", "short", "total_tokens")
    list_filter = ("role", "answer_kind")
    search_fields = ("content",)
    readonly_fields = (
        "conversation",
        "role",
        "reply_to",
        "content",
        "answer_kind",
        "tool_calls",
        "sources",
        "model",
        "total_tokens",
        "latency_ms",
        "llm_error",
        "created_at",
    )

    @admin.display(description="content")
    def short(self, obj: models.ChatMessage) -> str:
        return obj.content[:100]

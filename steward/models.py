"""Models of the steward app: reports on the state of the system, and the assistant's chats."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class StewardReport(models.Model):
    """One report: the facts collected, the ranked next tasks and the summary written from them.

    `source` says who wrote the summary: the LLM, or the labelled template (no LLM, or it
    failed: `llm_error`). `progress`/`stage` move while a worker builds it (the tab polls).
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    class Source(models.TextChoices):
        LLM = "llm"
        TEMPLATE = "template"

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=16, default="beat", help_text="beat/manual/api/cli")
    requested_by = models.CharField(max_length=150, blank=True, default="")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0, help_text="0 to 1")
    stage = models.CharField(max_length=80, blank=True, default="")
    facts = models.JSONField(default=dict, blank=True)
    next_tasks = models.JSONField(default=list, blank=True, help_text="ranked, with links")
    summary = models.TextField(blank=True, default="")
    source = models.CharField(max_length=8, choices=Source.choices, blank=True, default="")
    model = models.CharField(max_length=100, blank=True, default="")
    total_tokens = models.PositiveIntegerField(default=0)
    latency_ms = models.FloatField(default=0.0)
    llm_error = models.CharField(max_length=300, blank=True, default="")
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"#{self.pk} {self.created_at:%Y-%m-%d %H:%M} ({self.status}, {self.source})"

    @property
    def is_done(self) -> bool:
        """Whether the report reached a terminal status."""
        return self.status in (self.Status.DONE, self.Status.FAILED)


class StewardConversation(models.Model):
    """A multi-turn chat with the steward's assistant."""

    title = models.CharField(max_length=120, blank=True, default="")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="steward_conversations",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-updated_at", "-id")

    def __str__(self) -> str:
        return f"#{self.pk} {self.title or '(untitled)'}"


class StewardMessage(models.Model):
    """A question or the assistant's answer (how it was made, the tools it called)."""

    class Role(models.TextChoices):
        USER = "user"
        ASSISTANT = "assistant"

    conversation = models.ForeignKey(
        StewardConversation, on_delete=models.CASCADE, related_name="messages"
    )
    role = models.CharField(max_length=10, choices=Role.choices)
    content = models.TextField()
    answer_kind = models.CharField(max_length=8, blank=True, default="", help_text="llm/template")
    tool_calls = models.JSONField(default=list, blank=True)
    model = models.CharField(max_length=100, blank=True, default="")
    total_tokens = models.PositiveIntegerField(default=0)
    llm_error = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("created_at", "id")

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:60]}"

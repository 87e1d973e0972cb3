"""Models of the reviewbot app: Telegram sessions and messages, reviews, tool runs, alerts."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class BotSession(models.Model):
    """One Telegram chat with an allowed user; `/clear` starts its history afresh."""

    chat_id = models.BigIntegerField(unique=True)
    user_id = models.BigIntegerField(db_index=True)
    username = models.CharField(max_length=150, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-last_seen_at",)

    def __str__(self) -> str:
        return f"chat {self.chat_id} ({self.username or self.user_id})"


class BotMessage(models.Model):
    """A message in or out (outgoing text is stored as sent: redacted)."""

    class Direction(models.TextChoices):
        IN = "in"
        OUT = "out"

    session = models.ForeignKey(BotSession, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    command = models.CharField(max_length=32, blank=True, default="")
    text = models.TextField()
    tool_calls = models.JSONField(default=list, blank=True)
    model = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ("created_at", "id")

    def __str__(self) -> str:
        return f"{self.direction} {self.command} {self.text[:50]}"


class Review(models.Model):
    """A review of one change (keyed by commit or diff hash): findings with severities."""

    change_key = models.CharField(max_length=80, unique=True)
    title = models.CharField(max_length=300, blank=True, default="")
    source = models.CharField(max_length=16, help_text="git-worktree/git-commit/snapshot")
    files = models.JSONField(default=list, blank=True)
    findings = models.JSONField(default=list, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    summary = models.TextField(blank=True, default="")
    reviewer = models.CharField(max_length=16, default="rules", help_text="rules or llm")
    model = models.CharField(max_length=100, blank=True, default="")
    llm_error = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.change_key} {self.counts}"


class ToolRun(models.Model):
    """A run of a long tool (smoke tests, security scans): when, outcome, short summary."""

    tool = models.CharField(max_length=32, db_index=True)
    arguments = models.JSONField(default=dict, blank=True)
    ok = models.BooleanField(default=False)
    summary = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.tool} {'ok' if self.ok else 'failed'}"


class RefusedContact(models.Model):
    """A Telegram user who is not allowed: refused once, then every attempt only counted."""

    user_id = models.BigIntegerField(unique=True)
    username = models.CharField(max_length=150, blank=True, default="")
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    last_text = models.CharField(max_length=200, blank=True, default="")

    def __str__(self) -> str:
        return f"refused {self.user_id} x{self.attempts}"


class TelegramLink(models.Model):
    """Which dashboard user a Telegram user is (their role decides /pause and /resume)."""

    telegram_user_id = models.BigIntegerField(unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="telegram_links"
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.telegram_user_id} -> {self.user_id}"


class AlertDelivery(models.Model):
    """One alert to one chat, created BEFORE sending: the unique key makes it at most once."""

    class Status(models.TextChoices):
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"

    event_key = models.CharField(max_length=120)
    chat_id = models.BigIntegerField()
    text = models.TextField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.SENDING)
    error = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(fields=["event_key", "chat_id"], name="alert_once_per_chat")
        ]

    def __str__(self) -> str:
        return f"{self.event_key} -> {self.chat_id} ({self.status})"


class TreeSnapshot(models.Model):
    """The source tree's small text files, for reviewing changes when there is no git."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    files = models.JSONField(default=dict, help_text="path -> text")

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"snapshot {self.created_at:%Y-%m-%d %H:%M} ({len(self.files)} files)"

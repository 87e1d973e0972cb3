"""Greg's system of record: settings (mode, switches, guardrails), calibrations, the decision
log (every evaluation, suggestion and execution), positions and their logs.

Greg's legs are also `trading.Position` rows (strategy_id ``greg_*``; sandbox ones with
``sandbox=True, paper=True, origin=GREG_SANDBOX``) so the one risk engine sees live exposure and
the covered-call agent and reconciliation can tell Greg's rows apart.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import models
from django.utils import timezone

from optionsdesk.models import AuditedChange, SingletonRow

SANDBOX_ORIGIN = "GREG_SANDBOX"
LIVE_ORIGIN = "GREG_LIVE"


class GregMode(models.TextChoices):
    """Advice only (default) or live execution of suggestions behind the gates."""

    ADVICE = "advice", "ADVICE ONLY"
    LIVE = "live", "LIVE EXECUTION"


class GregSettings(SingletonRow):
    """Greg's switches (one row, pk=1): mode, master switch, per-strategy flags, guardrails.

    Every change is audited in `GregSettingsChange`. Live execution needs mode=live, the master
    switch on, the strategy enabled, an allowed environment and notional under both limits.
    """

    EDITABLE_FIELDS = (
        "mode",
        "master_switch",
        "enabled_strategies",
        "max_notional_usd_per_position",
        "max_notional_usd_per_underlying",
        "sandbox_size_coin",
        "evaluation_enabled",
    )

    mode = models.CharField(max_length=8, choices=GregMode.choices, default=GregMode.ADVICE)
    master_switch = models.BooleanField(default=False, help_text="off: no Greg order is sent")
    enabled_strategies = models.JSONField(
        default=list, blank=True, help_text="outcome names allowed to execute live"
    )
    max_notional_usd_per_position = models.DecimalField(
        max_digits=14, decimal_places=2, default=Decimal("10000")
    )
    max_notional_usd_per_underlying = models.DecimalField(
        max_digits=14, decimal_places=2, default=Decimal("20000")
    )
    sandbox_size_coin = models.JSONField(
        default=dict, blank=True, help_text='structure size per underlying, e.g. {"BTC": 0.1}'
    )
    evaluation_enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        verbose_name = "Greg settings"
        verbose_name_plural = "Greg settings"

    def __str__(self) -> str:
        return f"Greg {self.get_mode_display()} (master {'ON' if self.master_switch else 'off'})"

    def snapshot(self) -> dict[str, Any]:
        """Editable fields as plain JSON values (audit trail, API)."""
        values = {name: getattr(self, name) for name in self.EDITABLE_FIELDS}
        for key, value in values.items():
            if isinstance(value, Decimal):
                values[key] = str(value)
        return values


class GregSettingsChange(AuditedChange):
    """One audited edit of Greg's settings: who, from where, old -> new per field."""


class GregCalibration(models.Model):
    """One version of the ENTRY_ENGINE thresholds; the newest version is in force.

    Never edited in place: a change writes a new version with what changed (the audit trail).
    """

    version = models.PositiveIntegerField(unique=True)
    thresholds = models.JSONField(help_text="every threshold of this version")
    changes = models.JSONField(default=dict, blank=True, help_text='{"name": [old, new]}')
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.CharField(max_length=150, blank=True, default="")
    source = models.CharField(max_length=16, default="service")
    note = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ("-version",)

    def __str__(self) -> str:
        return f"calibration v{self.version} ({self.created_by or 'default'})"


class GregDecision(models.Model):
    """greg_decision_log: one evaluation, suggestion or execution, with everything behind it."""

    class Kind(models.TextChoices):
        EVALUATION = "evaluation"
        SUGGESTION = "suggestion"
        EXECUTION = "execution"

    kind = models.CharField(max_length=12, choices=Kind.choices, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    underlying = models.CharField(max_length=8, db_index=True)
    strategy = models.CharField(max_length=32, db_index=True, help_text="the outcome chosen")
    step = models.PositiveSmallIntegerField(null=True, blank=True)
    rule_key = models.CharField(max_length=4, blank=True, default="")
    reasoning = models.TextField(blank=True, default="")
    engine_version = models.CharField(max_length=16, blank=True, default="")
    calibration_version = models.PositiveIntegerField(default=0)
    environment = models.CharField(max_length=8, blank=True, default="")
    index_price = models.FloatField(null=True, blank=True)
    sensors = models.JSONField(default=list, blank=True)
    rules = models.JSONField(default=list, blank=True)
    structures = models.JSONField(default=dict, blank=True)
    position = models.ForeignKey(
        "GregPosition", on_delete=models.SET_NULL, null=True, blank=True, related_name="decisions"
    )
    action = models.CharField(max_length=16, blank=True, default="")
    outcome = models.CharField(max_length=16, blank=True, default="", help_text="sent/refused/…")
    details = models.JSONField(default=dict, blank=True)
    requests_count = models.PositiveIntegerField(default=0)
    duration_ms = models.FloatField(null=True, blank=True)

    class Meta:
        db_table = "greg_decision_log"
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.kind} {self.underlying} {self.strategy}"


class GregPosition(models.Model):
    """A multi-leg Greg structure (sandbox or executed) and the engine's latest review of it."""

    class Status(models.TextChoices):
        OPEN = "open"
        CLOSED = "closed"

    underlying = models.CharField(max_length=8, db_index=True)
    strategy = models.CharField(max_length=32, db_index=True)
    strategy_id = models.CharField(max_length=32, help_text="the trading.Position book")
    run_id = models.CharField(max_length=64, blank=True, default="", db_index=True)
    sandbox = models.BooleanField(default=True)
    origin = models.CharField(max_length=16, default=SANDBOX_ORIGIN)
    environment = models.CharField(max_length=8, default="sim")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    opened_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=300, blank=True, default="")
    entry_index_price = models.FloatField()
    size_coin = models.DecimalField(max_digits=24, decimal_places=8)
    credit_usd = models.FloatField(help_text="premium received at entry (negative: a debit)")
    max_loss_usd = models.FloatField()
    margin_usd = models.FloatField()
    legs = models.JSONField(default=list)
    hedge_usd = models.DecimalField(
        max_digits=24, decimal_places=2, default=Decimal(0), help_text="perpetual hedge (+long)"
    )
    last_hedge_price = models.FloatField(null=True, blank=True)
    pnl_usd = models.FloatField(default=0.0)
    review = models.JSONField(default=dict, blank=True, help_text="the engine's latest review")
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-opened_at", "-id")

    def __str__(self) -> str:
        tag = " sandbox" if self.sandbox else ""
        return f"{self.strategy} {self.underlying}{tag} [{self.status}] {self.run_id}"

    @property
    def badge(self) -> str:
        """SANDBOX (paper), DEMO (testnet or simulator) or LIVE (mainnet)."""
        if self.sandbox:
            return "SANDBOX"
        return "LIVE" if self.environment == "mainnet" else "DEMO"


class GregPositionLog(models.Model):
    """One event in a position's life: opened, reviewed, hedge advised, executed, closed."""

    position = models.ForeignKey(GregPosition, on_delete=models.CASCADE, related_name="logs")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=16)
    message = models.CharField(max_length=500)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ("at", "id")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind}: {self.message[:60]}"

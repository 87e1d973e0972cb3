"""Models of the calibration app: harvest runs, data-quality reports, calibration history,
policy decisions, the applied-multiplier store, and fitted regimes of the synthetic universe v2."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


class HarvestRun(models.Model):
    """One pass of the harvester: what it fetched and wrote, how long it took, what failed."""

    class Status(models.TextChoices):
        OK = "ok"
        PARTIAL = "partial"
        FAILED = "failed"
        RUNNING = "running"

    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    venue = models.CharField(max_length=32, help_text="exchange the chains came from")
    underlyings = models.JSONField(default=list)
    rows = models.PositiveIntegerField(default=0)
    files = models.JSONField(default=list, help_text="snapshot files written (paths)")
    duration_s = models.FloatField(default=0.0)
    errors = models.JSONField(default=list)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    trigger = models.CharField(max_length=16, default="beat")

    class Meta:
        ordering = ("-started_at",)

    def __str__(self) -> str:
        return f"harvest {self.started_at:%Y-%m-%d %H:%M} {self.status} ({self.rows} rows)"


class DataQualityReport(models.Model):
    """Quality of one underlying's harvested chains over a day (calibration.domain.quality)."""

    underlying = models.CharField(max_length=16)
    day = models.DateField()
    source_dir = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now=True)
    snapshots = models.PositiveIntegerField(default=0)
    rows = models.PositiveIntegerField(default=0)
    expiries = models.PositiveIntegerField(default=0)
    strikes_per_expiry_median = models.FloatField(default=0.0)
    max_gap_minutes = models.FloatField(default=0.0)
    stale_snapshots = models.PositiveIntegerField(default=0)
    partial_snapshots = models.PositiveIntegerField(default=0)
    crossed_books = models.PositiveIntegerField(default=0)
    iv_outliers = models.PositiveIntegerField(default=0)
    missing_marks = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    verdict = models.CharField(max_length=8, help_text="ok, warn or bad")
    problems = models.JSONField(default=list)

    class Meta:
        ordering = ("-day", "underlying")
        constraints = [
            models.UniqueConstraint(
                fields=("underlying", "day", "source_dir"), name="quality_once_per_day_and_dir"
            )
        ]

    def __str__(self) -> str:
        return f"{self.underlying} {self.day} {self.verdict}"


class CalibrationRun(models.Model):
    """calibration_history: one calibration with its inputs' provenance, fit, metrics,
    recommended multipliers and guardrail verdict. A record: never edited after creation."""

    class Source(models.TextChoices):
        HARVESTED = "harvested"
        LIVE = "live"
        FILES = "files"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    underlying = models.CharField(max_length=16, db_index=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    trigger = models.CharField(max_length=16, default="manual", help_text="beat, command, api")
    snapshot_time = models.DateTimeField(null=True, blank=True)
    files = models.JSONField(default=list, help_text="files used, or [] for live chains")
    snapshot_times = models.JSONField(default=list)
    n_files = models.PositiveIntegerField(default=0)
    n_rows = models.PositiveIntegerField(default=0)
    content_sha256 = models.CharField(max_length=64)
    fit = models.JSONField(default=dict, help_text="per-expiry SVI smiles, checks and metrics")
    surface_vw_mae_volpts = models.FloatField(null=True)
    surface_mae_volpts = models.FloatField(null=True)
    synthetic_vw_mae_volpts = models.FloatField(null=True)
    synthetic_adjusted_vw_mae_volpts = models.FloatField(null=True)
    recommended_iv_multiplier = models.FloatField(null=True)
    multipliers = models.JSONField(default=dict, help_text="recommended multiplier per DTE band")
    guardrail_ok = models.BooleanField(default=False)
    guardrail_reasons = models.JSONField(default=list)
    quality_report = models.ForeignKey(
        DataQualityReport, null=True, blank=True, on_delete=models.SET_NULL
    )
    fit_ms = models.FloatField(default=0.0)

    class Meta:
        ordering = ("-created_at", "-id")
        db_table = "calibration_history"

    def __str__(self) -> str:
        verdict = "pass" if self.guardrail_ok else "refused"
        return f"{self.underlying} calibration {self.created_at:%Y-%m-%d %H:%M} ({verdict})"


class PolicyDecision(models.Model):
    """What the update policy (or an operator) did with a calibration's recommendation, and why."""

    class Outcome(models.TextChoices):
        APPLIED = "applied"
        HELD = "held"
        REFUSED = "refused"
        OVERRIDE = "override"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    underlying = models.CharField(max_length=16, db_index=True)
    calibration = models.ForeignKey(
        CalibrationRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="decisions"
    )
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    recommended = models.JSONField(default=dict)
    smoothed = models.JSONField(default=dict)
    applied_before = models.JSONField(default=dict)
    applied_after = models.JSONField(default=dict)
    reasons = models.JSONField(default=list)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    note = models.TextField(blank=True, help_text="operator's reason (overrides, holds)")

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.underlying} {self.outcome} {self.created_at:%Y-%m-%d %H:%M}"


class AppliedMultipliers(models.Model):
    """The runtime override store: IV multipliers per DTE band the synthetic market uses now.

    Changed only by `calibration.services.policy_apply` / `multipliers_override` (each writes a
    `PolicyDecision`); read by the simulator and synthetic backtests through
    `calibration.selectors.market_params_applied`.
    """

    underlying = models.CharField(max_length=16, unique=True)
    multipliers = models.JSONField(default=dict)
    smoothed = models.JSONField(default=dict, help_text="EWMA state of the policy")
    updated_at = models.DateTimeField(auto_now=True)
    decision = models.ForeignKey(PolicyDecision, null=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ("underlying",)
        verbose_name_plural = "applied multipliers"

    def __str__(self) -> str:
        return f"{self.underlying}: {self.multipliers}"


class RegimeFit(models.Model):
    """Synthetic universe v2: regimes fitted (KMeans) on the hourly volatility history."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    underlying = models.CharField(max_length=16, db_index=True)
    source_file = models.CharField(max_length=500)
    content_sha256 = models.CharField(max_length=64)
    n_regimes = models.PositiveSmallIntegerField()
    seed = models.IntegerField(default=0)
    features = models.JSONField(default=list)
    centroids = models.JSONField(default=list, help_text="per regime, in feature units")
    regimes = models.JSONField(default=list, help_text="per regime: AR(1) mu, phi, sigma, se")
    transition = models.JSONField(default=list, help_text="hourly transition matrix")
    timeline = models.JSONField(default=list, help_text="[(iso time, regime)] daily")

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.underlying} regimes ({self.n_regimes}) {self.created_at:%Y-%m-%d}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "underlying": self.underlying,
            "n_regimes": self.n_regimes,
            "centroids": self.centroids,
            "regimes": self.regimes,
            "transition": self.transition,
        }

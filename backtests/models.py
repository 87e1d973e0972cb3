"""Backtest runs, their simulated trades and training-data exports (the system of record).

Amounts here are research results, not orders: floats, rounded only for display.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class BacktestRun(models.Model):
    """One backtest: a single policy run, a grid search, or one cell of a grid.

    Holds the configuration and data source (enough to re-run it), the data provenance, live
    status and progress, and the results: metrics, flags, stated assumptions, equity curve.
    """

    class Kind(models.TextChoices):
        SINGLE = "single", "single run"
        GRID = "grid", "grid search"
        GRID_CELL = "grid_cell", "grid cell"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        STOPPED = "stopped"

    TERMINAL = (Status.SUCCEEDED, Status.FAILED, Status.STOPPED)

    name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.SINGLE)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    progress = models.FloatField(default=0.0, help_text="0 to 1")
    config = models.JSONField(default=dict, help_text="BacktestConfig (single runs and cells)")
    source = models.JSONField(default=dict, help_text="SourceSpec: which market data")
    grid = models.JSONField(
        default=dict, blank=True, help_text="GridSpec (grid runs) or the cell's varied values"
    )
    provenance = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    flags = models.JSONField(default=list, blank=True)
    assumptions = models.JSONField(default=dict, blank=True)
    equity_curve = models.JSONField(default=dict, blank=True, help_text="downsampled columns")
    results = models.JSONField(default=list, blank=True, help_text="ranked cells of a grid")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    combo_index = models.IntegerField(null=True, blank=True)
    stop_requested = models.BooleanField(default=False)
    task_id = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["parent", "combo_index"], name="backtest_run_unique_grid_cell"
            )
        ]
        indexes = [models.Index(fields=["kind", "status"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name or self.get_kind_display()} ({self.status})"

    @property
    def is_done(self) -> bool:
        """Whether the run reached a terminal status."""
        return self.status in self.TERMINAL


class SimulatedTrade(models.Model):
    """One short call of a run, from sale to exit (option leg only, after fees)."""

    run = models.ForeignKey(BacktestRun, on_delete=models.CASCADE, related_name="trades")
    seq = models.PositiveIntegerField()
    instrument_name = models.CharField(max_length=64)
    strike = models.FloatField()
    expiry = models.DateTimeField()
    entry_time = models.DateTimeField()
    exit_time = models.DateTimeField()
    exit_reason = models.CharField(max_length=32)
    quantity_coin = models.FloatField()
    entry_price_coin = models.FloatField()
    exit_price_coin = models.FloatField()
    spot_entry_usd = models.FloatField()
    spot_exit_usd = models.FloatField()
    premium_usd = models.FloatField()
    fees_coin = models.FloatField()
    fees_usd = models.FloatField()
    pnl_coin = models.FloatField()
    pnl_usd = models.FloatField()
    delta_entry = models.FloatField()
    iv_entry = models.FloatField()
    dte_entry_days = models.FloatField()
    score = models.FloatField(null=True, blank=True)
    rank = models.PositiveIntegerField(default=0)
    explored = models.BooleanField(default=False)
    fallback_fill = models.BooleanField(
        default=False, help_text="a side filled at the mark -/+ haircut because the book was empty"
    )

    class Meta:
        ordering = ["run", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["run", "seq"], name="simulated_trade_unique_seq")
        ]

    def __str__(self) -> str:
        return f"{self.instrument_name} {self.exit_reason} {self.pnl_usd:+.2f} USD"


class TrainingExport(models.Model):
    """A training-data file written from a run (decisions, candidates or chat corpus)."""

    class Kind(models.TextChoices):
        DECISIONS = "decisions"
        CANDIDATES = "candidates"
        CHAT = "chat"

    run = models.ForeignKey(BacktestRun, on_delete=models.CASCADE, related_name="exports")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    fmt = models.CharField(max_length=16)
    path = models.CharField(max_length=500)
    rows = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind}.{self.fmt} of run #{self.run_id} ({self.rows} rows)"


class SelectorStudy(models.Model):
    """A stored research run: a selector funnel, a 2D heatmap, a policy arena, an environment
    heatmap or a synthetic-vs-live comparison (issue 15; the last two in `lab_services`).

    `params` holds what was asked (for a heatmap: x/y parameter, their values and the measure);
    `result` what came out (`backtests.domain.research`): the funnel's steps or the heatmap's
    grid of values. Heatmaps with a simulated measure run as a Celery fan-out, one task per
    row of cells, on the research queue.
    """

    class Kind(models.TextChoices):
        FUNNEL = "funnel", "Selector funnel"
        HEATMAP = "heatmap", "Selector heatmap"
        ARENA = "arena", "Policy arena"
        ENVIRONMENT = "environment", "Environment heatmap"
        SOURCE_COMPARE = "source_compare", "Synthetic vs live"

    Status = BacktestRun.Status

    name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    progress = models.FloatField(default=0.0, help_text="0 to 1")
    source = models.JSONField(default=dict, help_text="SourceSpec: which market data")
    config = models.JSONField(default=dict, help_text="BacktestConfig: the base selector")
    params = models.JSONField(default=dict, blank=True, help_text="heatmap axes and measure")
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"

    @property
    def is_done(self) -> bool:
        """Finished one way or another."""
        return self.status in BacktestRun.TERMINAL


from backtests.training_models import TrainingRun  # noqa: E402  (training mode, issue 15)

__all__ = ["BacktestRun", "SelectorStudy", "SimulatedTrade", "TrainingExport", "TrainingRun"]

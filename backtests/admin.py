"""Admin of the backtests app: runs (with their trades), cells and training exports."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from backtests import services
from backtests.models import BacktestRun, SelectorStudy, SimulatedTrade, TrainingExport


class SimulatedTradeInline(admin.TabularInline):
    """A run's trades, read-only."""

    model = SimulatedTrade
    extra = 0
    can_delete = False
    fields = (
        "seq",
        "instrument_name",
        "entry_time",
        "exit_time",
        "exit_reason",
        "entry_price_coin",
        "exit_price_coin",
        "fees_coin",
        "pnl_usd",
        "explored",
    )
    readonly_fields = fields
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Trades come from simulations only."""
        return False


@admin.register(BacktestRun)
class BacktestRunAdmin(admin.ModelAdmin):
    """Backtest runs: filter by kind and status, stop or resume from the list."""

    list_display = ("id", "name", "kind", "status", "progress", "net_profit", "created_at")
    list_filter = ("kind", "status", "created_at")
    search_fields = ("name",)
    readonly_fields = (
        "kind",
        "status",
        "progress",
        "parent",
        "combo_index",
        "config",
        "source",
        "grid",
        "provenance",
        "metrics",
        "flags",
        "assumptions",
        "results",
        "task_id",
        "error",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
    )
    exclude = ("equity_curve",)
    inlines = [SimulatedTradeInline]
    actions = ["stop_runs", "resume_grids"]

    @admin.display(description="net P&L, USD")
    def net_profit(self, run: BacktestRun) -> str:
        """The headline result."""
        value = run.metrics.get("net_profit_usd")
        return "-" if value is None else f"{value:,.2f}"

    @admin.action(description="Stop the selected runs")
    def stop_runs(self, request: HttpRequest, queryset: QuerySet[BacktestRun]) -> None:
        """Ask each selected run to stop."""
        for run in queryset:
            services.backtest_run_stop(run=run)
        self.message_user(request, f"Stop requested for {queryset.count()} run(s).")

    @admin.action(description="Resume unfinished grid cells")
    def resume_grids(self, request: HttpRequest, queryset: QuerySet[BacktestRun]) -> None:
        """Re-send lost cells of the selected grids."""
        sent = sum(
            services.grid_run_resume(run=run) for run in queryset.filter(kind=BacktestRun.Kind.GRID)
        )
        self.message_user(request, f"{sent} cell(s) re-sent.", level=messages.INFO)


@admin.register(SimulatedTrade)
class SimulatedTradeAdmin(admin.ModelAdmin):
    """All simulated trades, searchable by instrument."""

    list_display = ("run", "seq", "instrument_name", "exit_reason", "pnl_usd", "explored")
    list_filter = ("exit_reason", "explored", "fallback_fill")
    search_fields = ("instrument_name",)
    list_select_related = ("run",)


@admin.register(TrainingExport)
class TrainingExportAdmin(admin.ModelAdmin):
    """Training-data files written from runs."""

    list_display = ("id", "run", "kind", "fmt", "rows", "path", "created_at")
    list_filter = ("kind", "fmt")


@admin.register(SelectorStudy)
class SelectorStudyAdmin(admin.ModelAdmin):
    """Research studies (funnels, heatmaps, arenas, environment heatmaps, synthetic vs live):
    read-only records of what was asked and found."""

    list_display = ("id", "kind", "name", "status", "created_at")
    list_filter = ("kind", "status")
    readonly_fields = ("source", "config", "params", "result", "error", "finished_at")


from backtests import training_admin  # noqa: E402,F401  (registers TrainingRun)

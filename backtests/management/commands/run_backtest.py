"""`manage.py run_backtest`: one covered-call backtest or a grid search, in process or queued.

Examples:
  manage.py run_backtest --days 90 --exit take_profit_and_roll
  manage.py run_backtest --source snapshots --underlying ETH
  manage.py run_backtest --grid '{"delta_range": [[0.1,0.2],[0.2,0.3]], "exit_style":
      ["hold_to_expiry","take_profit"]}' --rank-by sharpe
  manage.py run_backtest --queue          # hand it to a Celery worker instead
"""

from __future__ import annotations

from typing import IO, Any, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from backtests import services
from backtests.domain.grid import GridSpec
from backtests.domain.metrics import format_metric
from backtests.management.commands._options import (
    add_run_options,
    config_from_options,
    grid_axes,
    source_from_options,
)
from backtests.models import BacktestRun
from backtests.selectors import COMPARE_METRICS


class Command(BaseCommand):
    """Run a backtest (or grid) and print its report."""

    help = "Run a covered-call backtest or grid search and store it as a BacktestRun."

    def add_arguments(self, parser: CommandParser) -> None:
        """Run options plus grid, naming and queueing."""
        add_run_options(parser)
        parser.add_argument("--grid", help="grid axes as JSON or a JSON file path")
        parser.add_argument("--rank-by", default="sharpe")
        parser.add_argument(
            "--holdout",
            type=float,
            default=0.0,
            help="grid only: last fraction of the period held out (e.g. 0.3); ranked in-sample, "
            "out-of-sample shown beside",
        )
        parser.add_argument("--name", default="")
        parser.add_argument("--queue", action="store_true", help="run on a Celery worker")

    def handle(self, *args: Any, **options: Any) -> None:
        """Create the run, execute it here (or queue it) and print the report."""
        console = Console(file=cast(IO[str], self.stdout), width=110)
        source = source_from_options(options)
        config = config_from_options(options)
        axes = grid_axes(options.get("grid"))
        queue = bool(options["queue"])
        if axes is not None:
            try:
                spec = GridSpec(
                    base=config,
                    axes=axes,
                    rank_by=options["rank_by"],
                    holdout_frac=options["holdout"],
                )
                spec.combinations()
            except ValueError as exc:
                raise CommandError(str(exc)) from None
            run = services.grid_run_create(
                spec=spec, source=source, name=options["name"], enqueue=queue
            )
            if not queue:
                run = self._grid_inline(run, console)
        else:
            run = services.backtest_run_create(
                config=config, source=source, name=options["name"], enqueue=queue
            )
            if not queue:
                run = self._single_inline(run, console)
        if queue:
            console.print(f"queued run #{run.pk} ({run.get_kind_display()})")
            return
        self._report(run, console)

    def _single_inline(self, run: BacktestRun, console: Console) -> BacktestRun:
        with console.status(f"running #{run.pk} ..."):
            done = services.backtest_run_execute(run_id=run.pk)
        assert done is not None
        return done

    def _grid_inline(self, run: BacktestRun, console: Console) -> BacktestRun:
        total = run.children.count()
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task(f"grid #{run.pk}", total=total)
            return services.grid_run_execute_inline(
                run=run, on_progress=lambda done, _total: bar.update(task, completed=done)
            )

    def _report(self, run: BacktestRun, console: Console) -> None:
        console.print(f"run #{run.pk} {run.name}: [bold]{run.status}[/bold]")
        if run.error:
            raise CommandError(run.error)
        if run.kind == BacktestRun.Kind.GRID:
            holdout = any(cell.get("out_of_sample") for cell in run.results)
            columns = ["rank", "#", "params", "trades", "net $", "sharpe", "max DD"]
            if holdout:
                columns[3:] = [f"IS {c}" for c in columns[3:]] + ["OOS trades", "OOS net $"]
                columns.append("OOS sharpe")
            table = Table(*columns)
            for rank, cell in enumerate(run.results[:15], start=1):
                m = cell["metrics"]
                row = [
                    str(rank),
                    str(cell["index"]),
                    str(cell["params"]),
                    str(cell["num_trades"]),
                    format_metric("net_profit_usd", m.get("net_profit_usd")),
                    format_metric("sharpe", m.get("sharpe")),
                    format_metric("max_drawdown_pct", m.get("max_drawdown_pct")),
                ]
                oos = cell.get("out_of_sample")
                if holdout:
                    om = (oos or {}).get("metrics", {})
                    row += [
                        str((oos or {}).get("num_trades", "")),
                        format_metric("net_profit_usd", om.get("net_profit_usd")),
                        format_metric("sharpe", om.get("sharpe")),
                    ]
                table.add_row(*row)
            if holdout:
                console.print(
                    f"ranked by in-sample {run.grid.get('rank_by')}; the last "
                    f"{run.grid.get('holdout_frac', 0):.0%} of the period held out (OOS)"
                )
            console.print(table)
            return
        table = Table("metric", "value")
        for name in COMPARE_METRICS:
            table.add_row(name, format_metric(name, run.metrics.get(name)))
        console.print(table)
        for flag in run.flags:
            console.print(f"[yellow]flag[/yellow] {flag['code']}: {flag['message']}")
        for key, value in run.assumptions.items():
            console.print(f"{key}: {value}")

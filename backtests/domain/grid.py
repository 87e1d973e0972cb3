"""Parameter grids: expand axes into run configurations, run them in process, rank results.

The same `GridSpec` drives the in-process search (command line, benchmarks) and the Celery
fan-out (one task per combination): `GridSpec.combinations()` is the single source of truth
for what combination number N means.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from backtests.domain.metrics import Metrics
from backtests.domain.panel import holdout_split
from backtests.domain.simulator import CoveredCallSimulator, SimulationResult
from backtests.domain.types import BacktestConfig, ExitStyle, epoch_to_datetime

GridProgress = Callable[[int, int], None]

#: Metrics for which a smaller value ranks first; every other metric ranks larger first.
LOWER_IS_BETTER = frozenset(
    {
        "fees_usd",
        "fees_pct_of_premium",
        "max_drawdown_duration_days",
        "max_consecutive_losses",
        "assignment_rate",
    }
)

AXES = (
    "delta_range",
    "dte_range",
    "ivrv_min",
    "premium_min_usd",
    "explore_prob",
    "exit_style",
    "take_profit_pct",
    "stop_loss_pct",
    "roll_dte_days",
    "decision_interval_hours",
    "haircut_pct",
    "fill_style",
)


class GridSpec(BaseModel):
    """A base configuration and the values each varied axis takes (cartesian product).

    Axes: delta_range and dte_range take [min, max] pairs; exit_style takes `ExitStyle`
    values; the other axes take numbers (fill_style takes "bid_ask"/"mid_haircut").
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    base: BacktestConfig = Field(default_factory=BacktestConfig)
    axes: dict[str, list[Any]] = Field(default_factory=dict)
    rank_by: str = "sharpe"
    holdout_frac: float = Field(
        default=0.0,
        ge=0.0,
        le=0.5,
        description="last fraction of the period kept out of sample (0: no split); ranking "
        "uses the in-sample part, the out-of-sample figures are shown beside it",
    )

    @field_validator("axes")
    @classmethod
    def _known_axes(cls, axes: dict[str, list[Any]]) -> dict[str, list[Any]]:
        unknown = sorted(set(axes) - set(AXES))
        if unknown:
            raise ValueError(f"unknown grid axes {unknown}; known: {list(AXES)}")
        empty = [name for name, values in axes.items() if not values]
        if empty:
            raise ValueError(f"grid axes without values: {empty}")
        return axes

    @field_validator("rank_by")
    @classmethod
    def _known_metric(cls, rank_by: str) -> str:
        if rank_by not in Metrics.__dataclass_fields__:
            raise ValueError(f"unknown metric {rank_by!r}")
        return rank_by

    @property
    def size(self) -> int:
        """Number of combinations."""
        return math.prod(len(values) for values in self.axes.values())

    def combination_params(self) -> list[dict[str, Any]]:
        """The varied values of every combination, in a stable order."""
        names = sorted(self.axes)
        return [
            dict(zip(names, values, strict=True))
            for values in itertools.product(*(self.axes[n] for n in names))
        ]

    def combinations(self) -> list[BacktestConfig]:
        """Every combination as a validated run configuration."""
        return [apply_params(self.base, params) for params in self.combination_params()]


def grid_cell_count(axes: object) -> int:
    """How many cells raw (unvalidated) `axes` would expand to, from their lengths alone.

    O(number of axes): a grid too large to run is refused before its values are validated or
    expanded. Anything that is not a mapping of lists counts as 0 (validation refuses it).
    """
    if not isinstance(axes, dict):
        return 0
    return math.prod(len(values) if isinstance(values, list) else 1 for values in axes.values())


def apply_params(base: BacktestConfig, params: dict[str, Any]) -> BacktestConfig:
    """`base` with the given axis values applied (validated)."""
    strategy: dict[str, Any] = {}
    exit_: dict[str, Any] = {}
    fill: dict[str, Any] = {}
    top: dict[str, Any] = {}
    for name, value in params.items():
        if name == "delta_range":
            strategy["delta_min"], strategy["delta_max"] = value
        elif name == "dte_range":
            strategy["dte_min_days"], strategy["dte_max_days"] = value
        elif name in ("ivrv_min", "premium_min_usd", "explore_prob"):
            strategy[name] = value
        elif name == "exit_style":
            exit_["style"] = ExitStyle(value)
        elif name in ("take_profit_pct", "stop_loss_pct", "roll_dte_days"):
            exit_[name] = value
        elif name == "haircut_pct":
            fill["haircut_pct"] = value
        elif name == "fill_style":
            fill["style"] = value
        else:
            top[name] = value
    data = base.model_dump()
    data["strategy"] = data["strategy"] | strategy
    data["exit"] = data["exit"] | exit_
    data["fill"] = data["fill"] | fill
    return BacktestConfig.model_validate(data | top)


@dataclass(frozen=True, slots=True)
class GridRow:
    """One combination's outcome."""

    index: int
    params: dict[str, Any]
    metrics: dict[str, float | int | None]
    flags: list[str]
    num_trades: int
    out_of_sample: dict[str, Any] | None = None


def rank_rows(
    rows: Sequence[GridRow], metric: str, order: Literal["auto", "asc", "desc"] = "auto"
) -> list[GridRow]:
    """Rows best first by `metric`; rows where it is undefined come last."""
    ascending = metric in LOWER_IS_BETTER if order == "auto" else order == "asc"

    def key(row: GridRow) -> tuple[int, float]:
        value = row.metrics.get(metric)
        if value is None:
            return (1, 0.0)
        return (0, float(value) if ascending else -float(value))

    return sorted(rows, key=key)


def grid_row(
    index: int,
    params: dict[str, Any],
    result: SimulationResult,
    out_of_sample: SimulationResult | None = None,
) -> GridRow:
    """Summarise one simulation (in-sample when there is a holdout) as a grid row."""
    return GridRow(
        index=index,
        params=params,
        metrics=result.metrics.as_dict(),
        flags=[flag.code for flag in result.flags],
        num_trades=result.metrics.num_trades,
        out_of_sample=None if out_of_sample is None else sample_summary(out_of_sample),
    )


def sample_summary(result: SimulationResult) -> dict[str, Any]:
    """Metrics, flags and trade count of one sample (the out-of-sample part of a cell)."""
    times = result.curve.times
    return {
        "metrics": result.metrics.as_dict(),
        "flags": [flag.code for flag in result.flags],
        "num_trades": result.metrics.num_trades,
        "start": epoch_to_datetime(float(times[0])).isoformat() if len(times) else None,
        "end": epoch_to_datetime(float(times[-1])).isoformat() if len(times) else None,
    }


def holdout_simulators(
    simulator: CoveredCallSimulator, holdout_frac: float
) -> tuple[CoveredCallSimulator, CoveredCallSimulator]:
    """Simulators over the in-sample and the out-of-sample part of `simulator`'s panel."""
    inside, outside = holdout_split(simulator.panel, holdout_frac)
    fees = simulator.fee_model
    return (
        CoveredCallSimulator(inside, fee_model=fees),
        CoveredCallSimulator(outside, fee_model=fees),
    )


def run_grid(
    simulator: CoveredCallSimulator,
    spec: GridSpec,
    *,
    progress: GridProgress | None = None,
) -> list[GridRow]:
    """Run every combination on one simulator (its caches are shared) and rank the results.

    With `spec.holdout_frac` each combination runs on the in-sample part (ranked) and on the
    held-out last part (shown beside it, never used for the ranking).
    """
    rows: list[GridRow] = []
    params = spec.combination_params()
    configs = spec.combinations()
    inside, outside = (
        holdout_simulators(simulator, spec.holdout_frac)
        if spec.holdout_frac > 0
        else (simulator, None)
    )
    for index, (config, values) in enumerate(zip(configs, params, strict=True)):
        held_out = None if outside is None else outside.simulate_policy(config)
        rows.append(grid_row(index, values, inside.simulate_policy(config), held_out))
        if progress is not None:
            progress(index + 1, len(configs))
    return rank_rows(rows, spec.rank_by)

"""Selector research: how often each filter of the candidate selector lets a call through.

* `selector_funnel`: over the decision times of a panel, for each filter of
  `trading.domain.candidates` (delta band, DTE band, IV/RV minimum, premium minimum, spread,
  open interest) the share of decision times at which at least one call passes that filter
  alone, and the filters cumulatively in order (a funnel). Calls with missing data never pass.
  Book depth is not in the panels (no sizes), so it is not a filter here.
* `selector_heatmap`: a 2D sweep of two selector parameters with the pass rate per cell (share
  of decision times with at least one eligible call), vectorised over the whole panel; the
  simulated measures (trades, Sharpe, net P&L) come from `simulate_policy` per cell
  (`heatmap_cell_metrics`), which the Celery fan-out runs one cell per task.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from backtests.domain.simulator import CoveredCallSimulator
from backtests.domain.types import BacktestConfig, BoolArray, FloatArray
from trading.domain.candidates import RejectReason, StrategyParams, rejection_flags

R = RejectReason
#: The selector's filters in funnel order, each with the reasons that reject under it.
FILTERS: tuple[tuple[str, int], ...] = (
    ("delta", int(R.DELTA_BELOW_MIN | R.DELTA_ABOVE_MAX)),
    ("dte", int(R.DTE_BELOW_MIN | R.DTE_ABOVE_MAX)),
    ("ivrv", int(R.IVRV_BELOW_MIN | R.IVRV_ABOVE_MAX)),
    ("premium", int(R.NO_BID | R.PREMIUM_BELOW_MIN)),
    ("spread", int(R.SPREAD_TOO_WIDE)),
    ("open_interest", int(R.OPEN_INTEREST_TOO_LOW)),
)
#: Reasons that reject under every filter (not a call, data missing).
ALWAYS = int(R.NOT_A_CALL | R.MISSING_DATA)

#: Parameters a heatmap can sweep, and how a value becomes a strategy field.
HEATMAP_PARAMS: tuple[str, ...] = (
    "delta_min",
    "delta_max",
    "dte_min_days",
    "dte_max_days",
    "ivrv_min",
    "premium_min_usd",
    "max_spread_pct",
    "min_open_interest",
)
HEATMAP_MEASURES: tuple[str, ...] = ("pass_rate", "num_trades", "sharpe", "net_profit_usd")


@dataclass(frozen=True, slots=True)
class FunnelStep:
    """One filter: share of decision times with a call passing it alone / with all before it."""

    name: str
    alone: float
    cumulative: float
    alone_times: int
    cumulative_times: int


def _any_per_time(passing: BoolArray, row_time: np.ndarray, n_times: int) -> BoolArray:
    counts = np.bincount(row_time[passing], minlength=n_times)
    result: BoolArray = counts > 0
    return result


def selector_funnel(
    simulator: CoveredCallSimulator, strategy: StrategyParams, config: BacktestConfig
) -> tuple[int, list[FunnelStep]]:
    """(decision times, funnel steps) of `strategy` over the simulator's panel."""
    panel = simulator.panel
    flags = rejection_flags(simulator.candidate_chain(config.fill), strategy, rv=panel.row_rv())
    decisions = simulator.decision_mask(config.decision_interval_hours)
    n_decisions = int(decisions.sum())
    steps: list[FunnelStep] = []
    cumulative_bits = ALWAYS
    for name, bits in FILTERS:
        cumulative_bits |= bits
        alone = _any_per_time((flags & (ALWAYS | bits)) == 0, panel.row_time, len(panel.times))
        together = _any_per_time((flags & cumulative_bits) == 0, panel.row_time, len(panel.times))
        a, c = int((alone & decisions).sum()), int((together & decisions).sum())
        steps.append(
            FunnelStep(
                name=name,
                alone=a / n_decisions if n_decisions else float("nan"),
                cumulative=c / n_decisions if n_decisions else float("nan"),
                alone_times=a,
                cumulative_times=c,
            )
        )
    return n_decisions, steps


@dataclass(frozen=True, slots=True)
class Heatmap:
    """A 2D sweep: `values[i][j]` is the measure at x_values[j], y_values[i]."""

    x_param: str
    y_param: str
    x_values: list[float]
    y_values: list[float]
    measure: str
    values: list[list[float | None]]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "x_param": self.x_param,
            "y_param": self.y_param,
            "x_values": self.x_values,
            "y_values": self.y_values,
            "measure": self.measure,
            "values": self.values,
        }


def _strategy_with(strategy: StrategyParams, **values: float) -> StrategyParams:
    update: dict[str, Any] = {}
    for name, value in values.items():
        if name not in HEATMAP_PARAMS:
            raise ValueError(f"unknown heatmap parameter {name!r}; known: {list(HEATMAP_PARAMS)}")
        update[name] = None if name == "max_spread_pct" and value <= 0 else value
    return StrategyParams.model_validate(strategy.model_dump() | update)


def selector_pass_rates(
    simulator: CoveredCallSimulator,
    config: BacktestConfig,
    x_param: str,
    x_values: Sequence[float],
    y_param: str,
    y_values: Sequence[float],
) -> Heatmap:
    """Pass rate per (x, y): share of decision times with at least one eligible call.

    Vectorised: the other filters are applied once; each cell then only compares the two swept
    columns (bounds that make a range inverted leave the cell empty rather than failing).
    """
    panel = simulator.panel
    chain = simulator.candidate_chain(config.fill)
    rv = panel.row_rv()
    swept = {x_param, y_param}
    neutral = {
        "delta_min": 0.0,
        "delta_max": 1.0,
        "dte_min_days": 0.0,
        "dte_max_days": 1e9,
        "ivrv_min": 0.0,
        "premium_min_usd": 0.0,
        "max_spread_pct": None,
        "min_open_interest": 0.0,
    }
    base = StrategyParams.model_validate(
        config.strategy.model_dump() | {k: neutral[k] for k in swept}
    )
    flags = rejection_flags(chain, base, rv=rv)
    base_ok = flags == 0
    decisions = simulator.decision_mask(config.decision_interval_hours)
    n_decisions = max(int(decisions.sum()), 1)
    columns = _sweep_columns(chain, rv)
    rows = np.flatnonzero(base_ok)
    row_time = panel.row_time[rows]
    decision_rows = decisions[row_time]
    rows, row_time = rows[decision_rows], row_time[decision_rows]
    x_col, y_col = columns[x_param][rows], columns[y_param][rows]
    values: list[list[float | None]] = []
    for y in y_values:
        y_ok = _passes(y_param, y_col, y)
        line: list[float | None] = []
        for x in x_values:
            ok = y_ok & _passes(x_param, x_col, x)
            hit = np.bincount(row_time[ok], minlength=len(panel.times)) > 0
            line.append(round(float(hit.sum()) / n_decisions, 6))
        values.append(line)
    return Heatmap(x_param, y_param, list(x_values), list(y_values), "pass_rate", values)


def _sweep_columns(chain: Any, rv: FloatArray) -> dict[str, FloatArray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        ivrv = np.where(rv > 0, chain.iv / rv, np.nan)
    return {
        "delta_min": chain.delta,
        "delta_max": chain.delta,
        "dte_min_days": chain.dte_days,
        "dte_max_days": chain.dte_days,
        "ivrv_min": ivrv,
        "premium_min_usd": chain.premium_usd,
        "max_spread_pct": chain.spread_pct,
        "min_open_interest": chain.open_interest,
    }


def _passes(param: str, column: FloatArray, value: float) -> BoolArray:
    """Rows a value of `param` lets through, with the selector's own comparisons."""
    if param in ("delta_min", "dte_min_days", "ivrv_min", "premium_min_usd"):
        result: BoolArray = column >= value
    elif param in ("delta_max", "dte_max_days"):
        result = column <= value
    elif param == "max_spread_pct":
        result = np.ones(len(column), dtype=bool) if value <= 0 else ~(column > value)
    else:  # min_open_interest: unknown open interest passes, as in the selector
        result = np.ones(len(column), dtype=bool) if value <= 0 else ~(column < value)
    return result


def heatmap_cell_metrics(
    simulator: CoveredCallSimulator,
    config: BacktestConfig,
    x_param: str,
    x: float,
    y_param: str,
    y: float,
) -> dict[str, float | None]:
    """Simulated measures of one heatmap cell: trades, Sharpe, net P&L (USD)."""
    strategy = _strategy_with(config.strategy, **{x_param: x, y_param: y})
    result = simulator.simulate_policy(config.model_copy(update={"strategy": strategy}))
    metrics = result.metrics.as_dict()
    return {
        "num_trades": metrics["num_trades"],
        "sharpe": metrics["sharpe"],
        "net_profit_usd": metrics["net_profit_usd"],
    }

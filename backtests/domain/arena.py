"""Policy arena: several policies on the same replayed days, with honest confidence intervals.

Every policy runs on the same panel (the same decision times, the same prices); each run's
book equity in USD gives a daily P&L series, aligned by day across policies. The league table
shows, per policy, the mean daily P&L with a **moving-block bootstrap** 95% interval (blocks of
`block_days` consecutive days keep the autocorrelation of overlapping short calls), the Sharpe
and the maximum drawdown, and a paired comparison with the baseline: the mean daily difference
with its block-bootstrap interval and a two-sided bootstrap p-value. Two identical policies
give a difference of exactly zero (interval [0, 0]); a policy with a real edge on enough days
gives an interval that excludes zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from backtests.domain.metrics import daily_closes
from backtests.domain.simulator import Chooser, CoveredCallSimulator, SimulationResult
from backtests.domain.types import BacktestConfig, FloatArray
from trading.domain.candidates import StrategyParams


@dataclass(frozen=True, slots=True)
class ArenaEntry:
    """One policy of the arena: a name and a full backtest configuration.

    An outside policy (the LLM, Greg) adds a `chooser` that picks among the config's eligible
    calls at each replayed decision time (`CoveredCallSimulator.simulate_policy`); its `note`
    (or the chooser's own `note()`, read after the run) says how it decided.
    """

    name: str
    config: BacktestConfig
    chooser: Chooser | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class LeagueRow:
    """One policy's line of the league table (USD per day unless stated)."""

    name: str
    trades: int
    mean_daily_pnl_usd: float
    ci_low_usd: float
    ci_high_usd: float
    sharpe: float
    max_drawdown_pct: float
    diff_vs_baseline_usd: float
    diff_ci_low_usd: float
    diff_ci_high_usd: float
    p_value: float
    note: str = ""

    def as_dict(self) -> dict[str, float | int | str | None]:
        """JSON-ready (NaN as None)."""
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in asdict(self).items()
        }


def block_bootstrap_means(
    series: FloatArray, *, block_days: int, resamples: int, rng: np.random.Generator
) -> FloatArray:
    """Means of `resamples` moving-block bootstrap resamples of `series` (same length)."""
    n = len(series)
    if n == 0:
        return np.full(resamples, np.nan)
    block = max(1, min(block_days, n))
    blocks = math.ceil(n / block)
    starts = rng.integers(0, n - block + 1, size=(resamples, blocks))
    index = (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(resamples, -1)[:, :n]
    result: FloatArray = series[index].mean(axis=1)
    return result


def interval(
    series: FloatArray, *, block_days: int, resamples: int, seed: int
) -> tuple[float, float, float]:
    """(low, high, two-sided p-value against a zero mean) of the block-bootstrap 95% interval."""
    if len(series) == 0:
        return math.nan, math.nan, math.nan
    means = block_bootstrap_means(
        series, block_days=block_days, resamples=resamples, rng=np.random.default_rng(seed)
    )
    low, high = np.quantile(means, [0.025, 0.975])
    centred = means - means.mean()
    observed = abs(float(series.mean()))
    p_value = float((np.abs(centred) >= observed).mean()) if observed > 0 else 1.0
    return float(low), float(high), p_value


def daily_pnl_usd(result: SimulationResult) -> FloatArray:
    """Daily change of the book's USD equity, the first day from the capital put in."""
    curve = result.curve
    closes = daily_closes(curve.times, curve.equity_usd)
    start = result.metrics.initial_capital_usd
    series: FloatArray = np.diff(np.concatenate([[start], closes]))
    return series


def run_arena(
    simulator: CoveredCallSimulator,
    entries: Sequence[ArenaEntry],
    *,
    block_days: int = 7,
    resamples: int = 2000,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> list[LeagueRow]:
    """Run every policy on the simulator's panel; the first entry is the baseline.

    Rows come back ordered by mean daily P&L, best first (the baseline included).
    """
    if not entries:
        raise ValueError("the arena needs at least one policy")
    results = []
    for done, entry in enumerate(entries, start=1):
        results.append(simulator.simulate_policy(entry.config, chooser=entry.chooser))
        if progress is not None:
            progress(done, len(entries))
    series = [daily_pnl_usd(r) for r in results]
    baseline = series[0]
    rows = []
    for k, (entry, result, daily) in enumerate(zip(entries, results, series, strict=True)):
        low, high, _ = interval(daily, block_days=block_days, resamples=resamples, seed=seed + k)
        diff = daily - baseline
        d_low, d_high, p_value = interval(
            diff, block_days=block_days, resamples=resamples, seed=seed + 1000 + k
        )
        rows.append(
            LeagueRow(
                name=entry.name,
                trades=result.metrics.num_trades,
                mean_daily_pnl_usd=float(daily.mean()),
                ci_low_usd=low,
                ci_high_usd=high,
                sharpe=result.metrics.sharpe,
                max_drawdown_pct=result.metrics.max_drawdown_pct,
                diff_vs_baseline_usd=float(diff.mean()),
                diff_ci_low_usd=d_low,
                diff_ci_high_usd=d_high,
                p_value=p_value,
                note=_entry_note(entry),
            )
        )
    return sorted(rows, key=lambda row: -row.mean_daily_pnl_usd)


def _entry_note(entry: ArenaEntry) -> str:
    describe = getattr(entry.chooser, "note", None)
    return entry.note or (str(describe()) if callable(describe) else "")


def default_entries(underlying: str) -> list[ArenaEntry]:
    """Baseline research policy, its greedy and wide-exploration variants, production, and a
    narrower-delta rule set."""
    base = StrategyParams.research()
    entries = {
        "research (baseline)": base,
        "research, no exploration": base.model_copy(update={"explore_prob": 0.0}),
        "research, explore 50% of top 5": base.model_copy(
            update={"explore_prob": 0.5, "explore_top_k": 5}
        ),
        "production": StrategyParams.production(),
        "delta 0.15-0.25": base.model_copy(update={"delta_min": 0.15, "delta_max": 0.25}),
    }
    return [
        ArenaEntry(name, BacktestConfig(underlying=underlying, strategy=strategy))  # type: ignore[arg-type]
        for name, strategy in entries.items()
    ]

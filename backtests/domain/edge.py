"""The synthetic covered-call edge and its standard error: a no-free-lunch check with power.

A *fair* synthetic market has constant implied vol, a flat smile, no jumps, zero basis and zero
drift, and realises `realized_to_implied` x implied. Each call sold at 08:00 with one day left
(delta 0.2-0.5) and held to the next 08:00 settlement earns `premium - payoff` in USD. That
number is mostly noise (where spot went), so it is measured together with an hourly delta
hedge, `sum(delta_t * (S_{t+1} - S_t))` along the call's path to settlement: the hedge has mean
zero when spot is a martingale, so it is a control variate that leaves the mean edge unchanged
and removes most of its variance; what remains is the gap between implied and realised variance
(gamma P&L), which is the edge.

* **Before costs** (`edge_pct`): every call of the band at the mark, as a ratio of sums to the
  premium. Calls of the same day share one path, so the standard error treats each day as one
  cluster (ratio-estimator variance over day clusters, not over rows, not over guessed counts).
* **After costs** (`after_costs_pct`): the backtester's own trades (`simulate_policy`, bid/ask
  fills, Deribit fees, one call a day), hedged the same way. At realised = implied it should
  lose about the costs (`costs_pct`: half-spread and fees per premium), no more and no less.

At realised/implied 1.0 the edge is zero within three standard errors; at 0.95 it is about +7%
of premium with a standard error under 1% (docs/decisions/0014 records the figures).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import numpy as np

from backtests.domain.costs import FeeModel, deribit_fee_model
from backtests.domain.panel import ChainPanel, IntArray
from backtests.domain.simulator import CoveredCallSimulator
from backtests.domain.sources.synthetic import SyntheticSource
from backtests.domain.types import BacktestConfig, ExitPolicy, FillModel, FloatArray
from trading.domain.candidates import StrategyParams
from trading.domain.market_model import MarketModelParams

#: The ratios `manage.py edge_study` reports, and its default seeds and length.
EDGE_RATIOS: tuple[float, ...] = (1.0, 0.95, 0.8)
EDGE_SEEDS: tuple[int, ...] = (1, 2, 3, 4)
EDGE_DAYS = 365
EDGE_START = datetime(2024, 1, 1, 8, tzinfo=UTC)
DELTA_BAND = (0.2, 0.5)

#: One-day calls sold at 08:00 and held to the next 08:00 expiry: one independent bet a day.
DAILY_CALLS = StrategyParams(
    delta_min=DELTA_BAND[0],
    delta_max=DELTA_BAND[1],
    dte_min_days=0.9,
    dte_max_days=1.1,
    ivrv_min=0.0,
    premium_min_usd=0.0,
    explore_prob=0.0,
    explore_top_k=1,
    target_delta=0.35,
)
DAILY_CONFIG = BacktestConfig(
    strategy=DAILY_CALLS,
    exit=ExitPolicy(),
    fill=FillModel(style="bid_ask"),
    decision_interval_hours=1.0,
)


def fair_market(realized_to_implied: float, underlying: str = "BTC") -> MarketModelParams:
    """The default market made fair but for `realized_to_implied`: constant IV, flat smile,
    no jumps, zero basis and zero drift (spot a martingale)."""
    base = MarketModelParams()
    params = base.currencies[underlying].model_copy(
        update={
            "realized_to_implied": realized_to_implied,
            "atm_iv_vol_hourly": 0.0,
            "jump_intensity_per_year": 0.0,
            "skew": 0.0,
            "smile_curvature": 0.0,
            "term_exponent": 0.0,
            "basis_per_year": 0.0,
            "drift_per_year": 0.0,
        }
    )
    return base.model_copy(update={"currencies": {underlying: params}})


def fair_panel(
    realized_to_implied: float, seed: int, *, days: float = EDGE_DAYS, underlying: str = "BTC"
) -> ChainPanel:
    """A year (by default) of the fair market's one-day calls."""
    source = SyntheticSource(
        params=fair_market(realized_to_implied, underlying),
        seed=seed,
        start=EDGE_START,
        days=days,
        max_dte_days=1.05,
    )
    return source.load_panel(underlying=underlying)


def band_rows(panel: ChainPanel) -> IntArray:
    """Rows of calls with exactly one day left, inside the delta band, settled in the data."""
    j = panel.row_instrument
    rows = np.flatnonzero(
        (np.abs(panel.dte_days - 1.0) < 1e-9)
        & (panel.delta > DELTA_BAND[0])
        & (panel.delta < DELTA_BAND[1])
        & np.isfinite(panel.settlement_usd[j])
    )
    result: IntArray = rows
    return result


def hedge_usd(panel: ChainPanel, rows: IntArray) -> FloatArray:
    """Gain (USD) of holding `delta` coins, rebalanced hourly, from each row to settlement."""
    out = np.zeros(len(rows))
    next_spot = np.append(panel.spot_usd[1:], np.nan)
    for k, row in enumerate(rows.tolist()):
        instrument = int(panel.row_instrument[row])
        path = panel.path_rows(instrument, int(panel.row_time[row]))
        t = panel.row_time[path]
        later = next_spot[t].copy()
        later[-1] = panel.settlement_usd[instrument]
        out[k] = float(np.sum(panel.delta[path] * (later - panel.spot_usd[t])))
    return out


def ratio_and_se(
    numerator: FloatArray, denominator: FloatArray, cluster: IntArray
) -> tuple[float, float]:
    """sum(numerator) / sum(denominator) and its standard error over independent clusters.

    Linearised ratio estimator: residuals `n - R d` summed per cluster, their sample variance
    over clusters, divided by the number of clusters and the mean cluster denominator squared.
    """
    _, inverse = np.unique(cluster, return_inverse=True)
    n_sum = np.bincount(inverse, weights=numerator)
    d_sum = np.bincount(inverse, weights=denominator)
    ratio = float(n_sum.sum() / d_sum.sum())
    clusters = len(n_sum)
    if clusters < 2:
        return ratio, math.nan
    residual = n_sum - ratio * d_sum
    se = float(np.sqrt(residual.var(ddof=1) / clusters) / d_sum.mean())
    return ratio, se


@dataclass(frozen=True, slots=True)
class EdgeEstimate:
    """The edge of selling one-day calls at one realised/implied ratio (fractions of premium)."""

    realized_to_implied: float
    calls: int
    days: int
    edge: float
    se: float
    trades: int
    after_costs: float
    after_costs_se: float
    costs: float

    def as_dict(self) -> dict[str, float | int]:
        """Plain numbers for JSON."""
        return asdict(self)


def mark_edges(panel: ChainPanel, cluster_offset: int = 0) -> tuple[FloatArray, ...]:
    """(hedged edge USD, premium USD, day cluster) of every one-day call of the band."""
    rows = band_rows(panel)
    j = panel.row_instrument[rows]
    spot = panel.spot_usd[panel.row_time[rows]]
    premium = panel.mark_coin[rows] * spot
    payoff = np.maximum(panel.settlement_usd[j] - panel.strike[j], 0.0)
    edge = premium - payoff + hedge_usd(panel, rows)
    return edge, premium, (panel.row_time[rows] // 24 + cluster_offset).astype(np.float64)


def trade_edges(
    panel: ChainPanel, fee_model: FeeModel, cluster_offset: int = 0
) -> tuple[FloatArray, ...]:
    """(hedged P&L after costs, premium at the mark, costs, day cluster), USD, per trade of
    the backtester's one-call-a-day policy (bid/ask fills, fees)."""
    simulator = CoveredCallSimulator(panel, fee_model=fee_model)
    result = simulator.simulate_policy(DAILY_CONFIG, record_decisions=True)
    rows = np.array([int(d.ranked_rows[d.chosen_rank]) for d in result.decisions], dtype=np.int64)
    trades = [result.trades[d.trade_index] for d in result.decisions]
    settled = np.array([math.isfinite(panel.settlement_usd[panel.row_instrument[r]]) for r in rows])
    rows = rows[settled]
    trades = [t for t, keep in zip(trades, settled, strict=True) if keep]
    pnl = np.array([t.pnl_usd for t in trades])
    premium_mark = np.array([t.entry_mark_coin * t.spot_entry_usd for t in trades])
    costs = np.array(
        [t.fees_usd + (t.entry_mark_coin - t.entry_price_coin) * t.spot_entry_usd for t in trades]
    )
    day = (panel.row_time[rows] // 24 + cluster_offset).astype(np.float64)
    return pnl + hedge_usd(panel, rows), premium_mark, costs, day


def edge_estimate(
    realized_to_implied: float,
    panels: Sequence[ChainPanel],
    fee_model: FeeModel | None = None,
) -> EdgeEstimate:
    """Edge before costs (all calls of the band) and after costs (the backtester's trades)."""
    fee_model = fee_model or deribit_fee_model()
    marks = [mark_edges(p, 100_000 * k) for k, p in enumerate(panels)]
    trades = [trade_edges(p, fee_model, 100_000 * k) for k, p in enumerate(panels)]
    edge, premium, day = (np.concatenate(parts) for parts in zip(*marks, strict=True))
    pnl, trade_premium, costs, trade_day = (
        np.concatenate(parts) for parts in zip(*trades, strict=True)
    )
    ratio, se = ratio_and_se(edge, premium, day.astype(np.int64))
    after, after_se = ratio_and_se(pnl, trade_premium, trade_day.astype(np.int64))
    return EdgeEstimate(
        realized_to_implied=realized_to_implied,
        calls=len(edge),
        days=len(np.unique(day)),
        edge=ratio,
        se=se,
        trades=len(pnl),
        after_costs=after,
        after_costs_se=after_se,
        costs=float(costs.sum() / trade_premium.sum()),
    )


def edge_study(
    ratios: Sequence[float] = EDGE_RATIOS,
    seeds: Sequence[int] = EDGE_SEEDS,
    *,
    days: float = EDGE_DAYS,
    progress: Callable[[float], None] | None = None,
) -> dict[str, EdgeEstimate]:
    """`edge_estimate` at each ratio on the same seeds (common random numbers)."""
    out: dict[str, EdgeEstimate] = {}
    for k, ratio in enumerate(ratios):
        panels = [fair_panel(ratio, seed, days=days) for seed in seeds]
        out[f"{ratio:g}" if ratio != 1 else "1.0"] = edge_estimate(ratio, panels)
        if progress is not None:
            progress((k + 1) / len(ratios))
    return out


def edge_study_json(study: dict[str, EdgeEstimate]) -> dict[str, dict[str, float]]:
    """The study as `{"edge_pct": {ratio: ...}, "se_pct": ..., "after_costs_pct": ...}`."""

    def pct(field: str) -> dict[str, float]:
        return {key: round(100 * getattr(e, field), 3) for key, e in study.items()}

    return {
        "edge_pct": pct("edge"),
        "se_pct": pct("se"),
        "after_costs_pct": pct("after_costs"),
        "after_costs_se_pct": pct("after_costs_se"),
        "costs_pct": pct("costs"),
        "calls": {key: e.calls for key, e in study.items()},
        "trades": {key: e.trades for key, e in study.items()},
    }

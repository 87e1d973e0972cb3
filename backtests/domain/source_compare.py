"""Synthetic vs live: the same policy on two data sources over the same calendar window.

At every decision time of each panel the policy's choice (its top-ranked eligible call, the
call it would sell if flat) is recorded: premium and the call's P&L held under the policy's
exits, both in percent of the index (so the two sources compare even when their index levels
differ), delta and days to expiry. The two samples of each measure are compared with a
two-sample Kolmogorov-Smirnov test.

Verdict (the stated tolerance): a measure *diverges* when the KS distance exceeds `ks_max`
(default 0.25: the two cumulative distributions are more than 25 percentage points apart
somewhere) **and** the difference is significant at `alpha` (default 1%); the sources
*diverge* when any measure does. With fewer than `min_samples` choices on a side the verdict
is *insufficient*; otherwise they *agree*.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from backtests.domain.simulator import CoveredCallSimulator
from backtests.domain.types import BacktestConfig, FloatArray

#: Measures compared, with labels (units in the label).
COMPARED: dict[str, str] = {
    "premium_pct": "premium, % of the index",
    "delta": "delta at sale",
    "dte_days": "days to expiry at sale",
    "pnl_pct": "P&L per call under the policy's exits, % of the index",
}
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


@dataclass(frozen=True, slots=True)
class Tolerance:
    """When two samples count as different (see the module docstring)."""

    ks_max: float = 0.25
    alpha: float = 0.01
    min_samples: int = 10

    def as_dict(self) -> dict[str, float | int]:
        """JSON-ready."""
        return {"ks_max": self.ks_max, "alpha": self.alpha, "min_samples": self.min_samples}


def policy_choices(
    simulator: CoveredCallSimulator, config: BacktestConfig
) -> dict[str, FloatArray]:
    """The policy's top-ranked call at every decision time, per compared measure."""
    panel = simulator.panel
    table = simulator.policy_selection(config)
    sell = simulator.fills(config.fill).sell_coin
    values: dict[str, list[float]] = {name: [] for name in COMPARED}
    for t in np.flatnonzero(simulator.decision_mask(config.decision_interval_hours)):
        ranked = simulator.ranked_rows(int(t), table)
        if len(ranked) == 0:
            continue
        row = int(ranked[0])
        spot = float(panel.spot_usd[t])
        trade = simulator.trade_at_row(row, config)
        values["premium_pct"].append(100.0 * float(sell[row]))  # coin premium = share of index
        values["delta"].append(float(panel.delta[row]))
        values["dte_days"].append(float(panel.dte_days[row]))
        values["pnl_pct"].append(100.0 * trade.pnl_usd / (spot * config.quantity_coin))
    return {name: np.asarray(v, dtype=np.float64) for name, v in values.items()}


def ks_two_sample(a: FloatArray, b: FloatArray) -> tuple[float, float]:
    """(KS distance, asymptotic p-value) of two samples (the exact-free two-sided test)."""
    a, b = np.sort(a[np.isfinite(a)]), np.sort(b[np.isfinite(b)])
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        return math.nan, math.nan
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / n
    cdf_b = np.searchsorted(b, grid, side="right") / m
    distance = float(np.max(np.abs(cdf_a - cdf_b)))
    effective = math.sqrt(n * m / (n + m))
    return distance, _kolmogorov_sf((effective + 0.12 + 0.11 / effective) * distance)


def _kolmogorov_sf(x: float) -> float:
    """P(K > x) of the Kolmogorov distribution (series; Numerical Recipes' `probks`)."""
    if x < 1e-3:
        return 1.0
    total, sign = 0.0, 1.0
    for j in range(1, 101):
        term = sign * 2.0 * math.exp(-2.0 * j * j * x * x)
        total += term
        if abs(term) < 1e-10:
            return min(max(total, 0.0), 1.0)
        sign = -sign
    return 1.0


def _summary(values: FloatArray) -> dict[str, float | int | None]:
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return {"n": 0, "mean": None, **{f"q{round(100 * q)}": None for q in QUANTILES}}
    quantiles = np.quantile(finite, QUANTILES)
    return {
        "n": len(finite),
        "mean": round(float(finite.mean()), 6),
        **{
            f"q{round(100 * q)}": round(float(v), 6)
            for q, v in zip(QUANTILES, quantiles, strict=True)
        },
    }


def compare_samples(
    live: dict[str, FloatArray],
    synthetic: dict[str, FloatArray],
    tolerance: Tolerance | None = None,
    measures: Sequence[str] = tuple(COMPARED),
) -> dict[str, Any]:
    """Side-by-side quantiles, KS distance and p-value per measure, and the verdict."""
    tolerance = tolerance or Tolerance()
    rows = []
    for name in measures:
        a, b = live[name], synthetic[name]
        distance, p_value = ks_two_sample(a, b)
        enough = min(np.isfinite(a).sum(), np.isfinite(b).sum()) >= tolerance.min_samples
        if not enough:
            verdict = "insufficient"
        elif distance > tolerance.ks_max and p_value < tolerance.alpha:
            verdict = "diverge"
        else:
            verdict = "agree"
        rows.append(
            {
                "measure": name,
                "label": COMPARED[name],
                "live": _summary(a),
                "synthetic": _summary(b),
                "ks": None if math.isnan(distance) else round(distance, 6),
                "p_value": None if math.isnan(p_value) else round(p_value, 8),
                "verdict": verdict,
            }
        )
    verdicts = {row["verdict"] for row in rows}
    overall = (
        "diverge"
        if "diverge" in verdicts
        else ("insufficient" if "insufficient" in verdicts else "agree")
    )
    return {"verdict": overall, "tolerance": tolerance.as_dict(), "measures": rows}


def compare_policy(
    live: CoveredCallSimulator,
    synthetic: CoveredCallSimulator,
    config: BacktestConfig,
    tolerance: Tolerance | None = None,
) -> dict[str, Any]:
    """Run the policy's choices on both panels and compare them; the samples are kept."""
    live_choices, synthetic_choices = (
        policy_choices(live, config),
        policy_choices(synthetic, config),
    )
    result = compare_samples(live_choices, synthetic_choices, tolerance)
    result["samples"] = {
        "live": {k: [round(float(x), 6) for x in v] for k, v in live_choices.items()},
        "synthetic": {k: [round(float(x), 6) for x in v] for k, v in synthetic_choices.items()},
    }
    return result

"""Our synthetic pricing against exchange marks, and the IV multiplier per DTE band aligning them.

The synthetic IV of an option is the project's market model smile
(`trading.domain.market_model.smile_iv`) at the model's long-run 30-day ATM level
(`atm_iv_mean`), on the snapshot's own forwards and times: what backtests and the simulator would
price this chain at. The multiplier of a band is the vega-weighted least-squares scale
``m = sum(v iv_mark iv_syn) / sum(v iv_syn**2)`` over the metric's options in that band.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from calibration.domain.surface import DTE_BANDS, ErrorStats, error_breakdown
from trading.domain.market_model import CurrencyModelParams, smile_iv


@dataclass(frozen=True)
class SyntheticComparison:
    """Synthetic vs marks: errors as is, recommended multipliers, errors after applying them."""

    underlying: str
    atm_iv_reference: float
    raw: ErrorStats
    by_band: dict[str, ErrorStats]
    by_bucket: dict[str, ErrorStats]
    recommended_multiplier: float
    multipliers_by_band: dict[str, float]
    adjusted: ErrorStats
    points: pd.DataFrame


def synthetic_iv(
    points: pd.DataFrame,
    params: CurrencyModelParams,
    *,
    multipliers_by_band: dict[str, float] | None = None,
) -> np.ndarray:
    """Model IV (decimal) of `chain_points` rows, scaled per DTE band when multipliers given."""
    raw = params.model_copy(update={"iv_multiplier_by_dte": ()})
    iv = smile_iv(
        raw.atm_iv_mean,
        raw,
        points["strike"].to_numpy(),
        points["t_years"].to_numpy(),
        points["forward"].to_numpy(),
    )
    if multipliers_by_band:
        iv = iv * band_factor(points["dte_days"].to_numpy(), multipliers_by_band)
    return np.asarray(iv)


def band_factor(dte_days: np.ndarray, multipliers_by_band: dict[str, float]) -> np.ndarray:
    """The multiplier of each row's DTE band (1 where a band has none)."""
    factor = np.ones(len(dte_days))
    for name, lo, hi in DTE_BANDS:
        inside = (dte_days > lo) & (dte_days <= hi)
        factor[inside] = multipliers_by_band.get(name, 1.0)
    return factor


def _best_scale(mark: np.ndarray, model: np.ndarray, vega: np.ndarray) -> float:
    denominator = float(np.sum(vega * model * model))
    if denominator <= 0:
        return float("nan")
    return float(np.sum(vega * mark * model) / denominator)


def synthetic_compare(
    points: pd.DataFrame, params: CurrencyModelParams, underlying: str
) -> SyntheticComparison:
    """Score the synthetic smile against marks and recommend IV multipliers (overall, per band)."""
    frame = points.assign(synthetic_iv=synthetic_iv(points, params))
    raw, by_band, by_bucket = error_breakdown(frame, "synthetic_iv")
    sel = frame[frame["metric"]]
    mark = sel["mark_iv"].to_numpy()
    model = sel["synthetic_iv"].to_numpy()
    vega = sel["vega_usd"].to_numpy()
    dte = sel["dte_days"].to_numpy()
    overall = _best_scale(mark, model, vega)
    bands: dict[str, float] = {}
    for name, lo, hi in DTE_BANDS:
        inside = (dte > lo) & (dte <= hi)
        if np.count_nonzero(inside) >= 3:
            bands[name] = _best_scale(mark[inside], model[inside], vega[inside])
    adjusted_frame = frame.assign(
        synthetic_iv=frame["synthetic_iv"] * band_factor(frame["dte_days"].to_numpy(), bands)
    )
    adjusted, _, _ = error_breakdown(adjusted_frame, "synthetic_iv")
    return SyntheticComparison(
        underlying=underlying,
        atm_iv_reference=params.atm_iv_mean,
        raw=raw,
        by_band=by_band,
        by_bucket=by_bucket,
        recommended_multiplier=overall,
        multipliers_by_band=bands,
        adjusted=adjusted,
        points=frame,
    )


#: Upper DTE bound used for the open-ended last band in the market model's multiplier table.
OPEN_BAND_DAYS = 100_000.0


def multipliers_as_model_bands(
    multipliers_by_band: dict[str, float],
) -> tuple[tuple[float, float], ...]:
    """Band multipliers as `CurrencyModelParams.iv_multiplier_by_dte` pairs (1.0 where absent)."""
    return tuple(
        (hi if np.isfinite(hi) else OPEN_BAND_DAYS, float(multipliers_by_band.get(name, 1.0)))
        for name, _, hi in DTE_BANDS
    )

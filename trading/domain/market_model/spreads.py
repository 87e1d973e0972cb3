"""The spread rule's fit to real chains: observations, delta x DTE bucket medians, least squares.

The synthetic market quotes calls with `quoting.quote_bid_ask`: a spread in vol points
`(spread_base + spread_near_expiry / dte**power) * (1 + spread_wing_per_z * |z|)`, turned into
coin with the option's vega and rounded outwards to Deribit's tick grid (the rounding matters:
most real out-of-the-money calls are quoted one or two ticks wide). `fit_spread_params` chooses
the four numbers so that the rule, applied to every real quote's own mark, vega, moneyness and
time left, reproduces the real median spread of each delta x DTE bucket (least squares on the log
ratio, each bucket weighted by the square root of its count). The defaults in `params.py` come
from `fit_spread_params` on every harvested call of ../shared/data/deribit (December 2025) with a
bid and an ask; docs/decisions/0014 gives the fit and the bucket table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import optimize

from trading.domain import black76
from trading.domain.market_model.params import CurrencyModelParams
from trading.domain.market_model.quoting import quote_bid_ask
from trading.domain.market_model.units import FloatArray

#: Bucket edges of the fit and of its test: call delta, and days to expiry.
DELTA_EDGES: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5)
DTE_EDGES: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0, 7.0, 14.0, 35.0)
#: Buckets with fewer quotes than this are left out of the fit and the comparison.
MIN_BUCKET_COUNT = 50
SPREAD_FIELDS: tuple[str, ...] = (
    "spread_base_vol_pts",
    "spread_near_expiry_vol_pts",
    "spread_near_expiry_power",
    "spread_wing_per_z",
)


@dataclass(frozen=True, slots=True)
class SpreadObservations:
    """Two-sided call quotes: delta, days left, |z|, mark and vega (coin) and the spread."""

    delta: FloatArray
    dte_days: FloatArray
    abs_z: FloatArray
    mark_coin: FloatArray
    vega_coin_per_pt: FloatArray
    spread_vol_pts: FloatArray

    def __len__(self) -> int:
        return len(self.delta)


def spread_observations(chain: pd.DataFrame) -> SpreadObservations:
    """Calls of a normalised chain (`trading.domain.chain` shape) quoted on both sides.

    Greeks are Black-76 on `underlying_price` at `mark_iv` with time from `harvest_time`, the
    way Deribit computes them; the spread in vol points is (ask - bid) / vega.
    """
    frame = chain[
        (chain["option_type"] == "C")
        & chain["best_bid_price"].notna()
        & chain["best_ask_price"].notna()
        & (chain["best_bid_price"] > 0)
        & chain["mark_iv"].gt(0)
    ]
    now_s = frame["harvest_time"].astype("int64").to_numpy() / 1e6
    t_years = (frame["expiry_timestamp"].to_numpy(dtype=np.float64) - now_s) / (365 * 86_400.0)
    alive = t_years > 0
    frame, t_years = frame[alive], t_years[alive]
    forward = frame["underlying_price"].to_numpy(dtype=np.float64)
    strike = frame["strike"].to_numpy(dtype=np.float64)
    sigma = frame["mark_iv"].to_numpy(dtype=np.float64) / 100.0
    greeks = black76.greeks(forward, strike, t_years, sigma, np.ones(len(frame), dtype=bool))
    vega = np.asarray(greeks.vega) / forward
    spread = (frame["best_ask_price"] - frame["best_bid_price"]).to_numpy(dtype=np.float64)
    keep = vega > 0
    return SpreadObservations(
        delta=np.asarray(greeks.delta)[keep],
        dte_days=t_years[keep] * 365.0,
        abs_z=np.abs(np.log(strike / forward) / (sigma * np.sqrt(t_years)))[keep],
        mark_coin=frame["mark_price"].to_numpy(dtype=np.float64)[keep],
        vega_coin_per_pt=vega[keep],
        spread_vol_pts=(spread / np.where(vega > 0, vega, np.nan))[keep],
    )


def model_spread_vol_pts(obs: SpreadObservations, cp: CurrencyModelParams) -> FloatArray:
    """The spread (vol points) `quote_bid_ask` would quote on each observed call."""
    bid, ask = quote_bid_ask(
        obs.mark_coin, obs.vega_coin_per_pt, obs.abs_z, np.maximum(obs.dte_days, 1 / 24), cp
    )
    return np.asarray((ask - bid) / obs.vega_coin_per_pt)


def bucket_keys(obs: SpreadObservations) -> npt.NDArray[np.int64]:
    """Bucket of each observation: 10 * delta bucket + DTE bucket (both from 1); 0 outside."""
    d = np.digitize(obs.delta, DELTA_EDGES)
    t = np.digitize(obs.dte_days, DTE_EDGES)
    inside = (d >= 1) & (d < len(DELTA_EDGES)) & (t >= 1) & (t < len(DTE_EDGES))
    return np.where(inside, d * 10 + t, 0)


def bucket_label(key: int) -> str:
    """'delta 0.1-0.2, 2-4 d' for a bucket key."""
    d, t = divmod(int(key), 10)
    return (
        f"delta {DELTA_EDGES[d - 1]:g}-{DELTA_EDGES[d]:g}, {DTE_EDGES[t - 1]:g}-{DTE_EDGES[t]:g} d"
    )


def bucket_medians(
    obs: SpreadObservations, values: FloatArray, *, min_count: int = MIN_BUCKET_COUNT
) -> dict[int, tuple[float, int]]:
    """Median of `values` and count per bucket with at least `min_count` observations."""
    keys = bucket_keys(obs)
    out: dict[int, tuple[float, int]] = {}
    for key in np.unique(keys[keys > 0]).tolist():
        mask = (keys == key) & np.isfinite(values)
        if int(mask.sum()) >= min_count:
            out[int(key)] = (float(np.median(values[mask])), int(mask.sum()))
    return out


def fit_spread_params(obs: SpreadObservations, cp: CurrencyModelParams) -> dict[str, float]:
    """Spread parameters (`SPREAD_FIELDS`, no price floor) fitted to the observations."""
    real = bucket_medians(obs, obs.spread_vol_pts)
    keys = bucket_keys(obs)

    def with_values(x: FloatArray) -> CurrencyModelParams:
        update: dict[str, float] = dict(zip(SPREAD_FIELDS, (float(v) for v in x), strict=True))
        return cp.model_copy(update=update | {"spread_min_frac_of_price": 0.0})

    def loss(x: FloatArray) -> float:
        if np.any(x < 0):
            return 1e9
        model = model_spread_vol_pts(obs, with_values(x))
        total = 0.0
        for key, (median, count) in real.items():
            fitted = float(np.nanmedian(model[keys == key]))
            total += np.sqrt(count) * np.log(max(fitted, 1e-6) / median) ** 2
        return total

    result = optimize.minimize(
        loss,
        np.array([0.8, 1.5, 0.7, 0.1]),
        method="Nelder-Mead",
        options={"maxiter": 400, "xatol": 1e-3, "fatol": 1e-4},
    )
    return {name: round(float(v), 3) for name, v in zip(SPREAD_FIELDS, result.x, strict=True)} | {
        "spread_min_frac_of_price": 0.0
    }

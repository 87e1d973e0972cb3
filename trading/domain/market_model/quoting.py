"""Pricing and quoting a listing: smile IVs, market-maker bid/ask on Deribit's tick grid, sizes.

Notation: t in years of 365 days, `x` the 30-day ATM implied vol (decimal).

* the IV of strike K, expiry T: `atm(T) * (1 + skew*z + smile_curvature*z**2)` with
  `atm(T) = x * (T / 30d) ** term_exponent` and standardised moneyness
  `z = ln(K/F) / (atm(T) * sqrt(T))`, z clipped to +-`smile_z_max`.
* bid/ask: a spread in vol points `(spread_base + spread_near_expiry / dte**power)` times
  `(1 + spread_wing_per_z * |z|)`, turned into coin with the option's vega, floored at one tick
  and at `spread_min_frac_of_price` of the price, and rounded outwards to Deribit's tick grid.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import special

from trading.domain import black76
from trading.domain.market_model.listing import OptionListing
from trading.domain.market_model.params import CurrencyModelParams
from trading.domain.market_model.units import FloatArray, IntArray


def smile_iv(
    atm_iv_30d: float | FloatArray,
    cp: CurrencyModelParams,
    strike: FloatArray,
    t_years: FloatArray,
    forward: FloatArray,
) -> FloatArray:
    """IV (decimal) on the model's smile and term structure."""
    t = np.maximum(np.asarray(t_years, dtype=np.float64), 1 / (365.0 * 24))
    atm_t = atm_iv_30d * (t / (30 / 365.0)) ** cp.term_exponent
    z = np.clip(np.log(strike / forward) / (atm_t * np.sqrt(t)), -cp.smile_z_max, cp.smile_z_max)
    factor = np.maximum(1 + cp.skew * z + cp.smile_curvature * z**2, 0.2)
    if cp.iv_multiplier_by_dte:
        factor = factor * dte_multiplier(cp.iv_multiplier_by_dte, t * 365.0)
    return np.asarray(atm_t * factor)


def dte_multiplier(bands: tuple[tuple[float, float], ...], dte_days: FloatArray) -> FloatArray:
    """IV multiplier of each DTE: the first (upper bound, multiplier) band containing it, else 1."""
    dte = np.asarray(dte_days, dtype=np.float64)
    out = np.ones_like(dte)
    lower = -np.inf
    for upper, multiplier in bands:
        out = np.where((dte > lower) & (dte <= upper), multiplier, out)
        lower = upper
    return np.asarray(out)


def quote_bid_ask(
    mark_coin: FloatArray,
    vega_coin_per_pt: FloatArray,
    abs_z: FloatArray,
    dte_days: FloatArray,
    cp: CurrencyModelParams,
) -> tuple[FloatArray, FloatArray]:
    """Market-maker bid and ask (coin, on Deribit's tick grid) around a mark price.

    The spread is set in vol points, wider near expiry and in the wings, converted to coin with
    the option's vega, floored at one tick and at a fraction of the price. NaN bid: no bid.
    """
    spread_pts = (
        cp.spread_base_vol_pts
        + cp.spread_near_expiry_vol_pts
        / np.maximum(dte_days, 1 / 24) ** cp.spread_near_expiry_power
    ) * (1 + cp.spread_wing_per_z * np.minimum(abs_z, cp.smile_z_max))
    spread = np.maximum.reduce(
        [
            spread_pts * vega_coin_per_pt,
            cp.spread_min_frac_of_price * mark_coin,
            np.full_like(mark_coin, 0.0001),
        ]
    )
    bid = tick_round(mark_coin - spread / 2, up=False)
    ask = np.maximum(tick_round(mark_coin + spread / 2, up=True), 0.0001)
    return np.where(bid >= 0.0001, bid, np.nan), ask


def tick_round(prices: FloatArray, *, up: bool) -> FloatArray:
    """Round coin option prices to Deribit's grid (0.0001 below 0.005, 0.0005 from 0.005)."""
    fine = (
        np.ceil(prices / 0.0001 - 1e-9) * 0.0001
        if up
        else np.floor(prices / 0.0001 + 1e-9) * 0.0001
    )
    coarse = (
        np.ceil(prices / 0.0005 - 1e-9) * 0.0005
        if up
        else np.floor(prices / 0.0005 + 1e-9) * 0.0005
    )
    return np.asarray(np.round(np.where(fine >= 0.005, coarse, fine), 4))


def rounded(values: npt.ArrayLike, decimals: int) -> FloatArray:
    """`np.round` that stays float64 (for JSON-friendly quotes)."""
    return np.asarray(np.round(np.asarray(values, dtype=np.float64), decimals), dtype=np.float64)


def _quote_iv(
    price_coin: FloatArray, forward: FloatArray, listing: OptionListing, t_years: FloatArray
) -> FloatArray:
    result = black76.implied_vol(
        price_coin * forward, forward, listing.strike, t_years, listing.is_call
    )
    return np.asarray(result.iv)


def quote_sizes(
    cp: CurrencyModelParams, listing: OptionListing, z: FloatArray, step_index: int, seed: int
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Top-of-book amounts (change every step), open interest and volume (fixed per name)."""
    keys = listing.instrument_id
    lot = cp.min_trade_amount

    def sized(u: FloatArray, median: float) -> FloatArray:
        raw = median * np.exp(_normal_from_uniform(u))
        return np.asarray(np.round(np.maximum(np.round(raw / lot), 1) * lot, 8))

    bid_amount = sized(
        hashed_uniform(keys, seed * 1_000_003 + step_index * 2), cp.quote_amount_median
    )
    ask_amount = sized(
        hashed_uniform(keys, seed * 1_000_003 + step_index * 2 + 1), cp.quote_amount_median
    )
    liquidity = np.exp(-0.25 * np.minimum(z, 6.0) ** 2)
    oi = np.round(
        cp.open_interest_median
        * 2
        * liquidity
        * np.exp(_normal_from_uniform(hashed_uniform(keys, seed + 7))),
        1,
    )
    volume = np.round(
        cp.volume_median
        * 2
        * liquidity
        * np.exp(_normal_from_uniform(hashed_uniform(keys, seed + 11))),
        1,
    )
    return bid_amount, ask_amount, oi, volume


def hashed_uniform(keys: IntArray, salt: int) -> FloatArray:
    """Deterministic uniforms in (0, 1) from integer keys (splitmix64), vectorised."""
    with np.errstate(over="ignore"):
        z = keys.astype(np.uint64) + np.uint64((salt * 0x9E3779B97F4A7C15) % (1 << 64))
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return np.asarray(((z >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53))


def _normal_from_uniform(u: FloatArray) -> FloatArray:
    return np.asarray(special.ndtri(u))

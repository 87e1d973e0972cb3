"""Black-76 pricing, greeks and implied volatility on Deribit's forward, vectorised.

Why Black-76: Deribit quotes every option against ``underlying_price``, the forward of its
expiry (a future or a synthetic forward), with rate 0 by default. All functions broadcast their
array arguments like numpy ufuncs; scalars give 0-d arrays (``float(x)`` works).

Units: ``forward`` and ``strike`` in USD, ``t_years`` in years of 365 days, ``sigma`` and IVs
decimal (0.55 is 55%), ``rate`` continuously compounded per year. Prices are USD (units of the
forward); divide by the forward for the coin price of an inverse option (``coin_price``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from trading.domain import _black76_kernels as kernels

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

DAYS_PER_YEAR = kernels.DAYS_PER_YEAR


class IVReason(IntEnum):
    """Why an implied volatility is (or is not) available; stored as int8 codes."""

    OK = 0
    BELOW_INTRINSIC = 1  # price at or below intrinsic value (time value zero or negative)
    ABOVE_UPPER_BOUND = 2  # price at or above the no-arbitrage maximum (forward for a call)
    ZERO_TIME = 3  # expired or expiring now: no time value to invert
    INVALID_INPUT = 4  # NaN/inf input, non-positive forward or strike, negative price or time
    NOT_CONVERGED = 5  # numerical failure; never seen in tests, kept as a safety net


@dataclass(frozen=True, slots=True)
class Greeks:
    """Black-76 value and sensitivities, each an array of the broadcast input shape.

    price: USD; delta: dV/dF (forward delta, USD per USD); gamma: d²V/dF² per USD;
    vega: USD per vol point (sigma + 0.01); theta: USD per calendar day (time decay, usually < 0);
    rho: USD per 1% rate with the forward held fixed (-T·V/100).
    """

    price: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray
    rho: FloatArray


@dataclass(frozen=True, slots=True)
class IVResult:
    """Implied volatilities (decimal, NaN when unavailable) and an ``IVReason`` code per option."""

    iv: FloatArray
    reason: npt.NDArray[np.int8]

    @property
    def ok(self) -> npt.NDArray[np.bool_]:
        """Mask of options whose IV was found."""
        return np.asarray(self.reason == IVReason.OK)


# ---------------------------------------------------------------------------------------------
# Input handling
# ---------------------------------------------------------------------------------------------
def option_sign(is_call: ArrayLike) -> FloatArray:
    """+1.0 for calls and -1.0 for puts, from booleans or from "C"/"P"/"call"/"put" strings."""
    arr = np.asarray(is_call)
    if arr.dtype.kind in "USOT":
        upper = np.char.upper(np.asarray(arr, dtype=str))
        calls = np.isin(upper, ("C", "CALL"))
        puts = np.isin(upper, ("P", "PUT"))
        if not bool(np.all(calls | puts)):
            bad = np.unique(upper[~(calls | puts)])[:5].tolist()
            raise ValueError(f"option type must be C/P/call/put, got {bad}")
        return np.where(calls, 1.0, -1.0)
    return np.where(arr.astype(bool), 1.0, -1.0)


def _prepare(*values: Any) -> tuple[tuple[int, ...], list[FloatArray]]:
    """Broadcast inputs to one shape and return flat contiguous float64 copies plus that shape."""
    arrays = np.broadcast_arrays(*[np.asarray(v, dtype=np.float64) for v in values])
    shape = arrays[0].shape
    return shape, [np.ascontiguousarray(a).reshape(-1) for a in arrays]


def _transcendentals(
    f: FloatArray, k: FloatArray, t: FloatArray, vol: FloatArray, r: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """s = sigma·sqrt(T), d1, exp(-d1²/2) and the discount factor, with numpy's SIMD log/exp."""
    with np.errstate(all="ignore"):
        s = vol * np.sqrt(t)
        d1 = np.log(f / k) / s + 0.5 * s
        gauss1 = np.exp(-0.5 * d1 * d1)
        df = np.exp(-r * t) if np.any(r) else np.ones_like(f)
    return s, d1, gauss1, df


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------
def price(
    forward: ArrayLike,
    strike: ArrayLike,
    t_years: ArrayLike,
    sigma: ArrayLike,
    is_call: ArrayLike,
    rate: ArrayLike = 0.0,
) -> FloatArray:
    """Black-76 option value in USD (units of the forward), discounted at ``rate``.

    Invalid inputs (NaN, non-positive forward/strike, negative time or vol) give NaN; zero
    time or zero vol give the (discounted) intrinsic value.
    """
    return price_and_delta(forward, strike, t_years, sigma, is_call, rate)[0]


def price_and_delta(
    forward: ArrayLike,
    strike: ArrayLike,
    t_years: ArrayLike,
    sigma: ArrayLike,
    is_call: ArrayLike,
    rate: ArrayLike = 0.0,
) -> tuple[FloatArray, FloatArray]:
    """Black-76 value (USD) and forward delta in one pass: the hot path of scans and backtests."""
    shape, (f, k, t, vol, q, r) = _prepare(
        forward, strike, t_years, sigma, option_sign(is_call), rate
    )
    s, d1, gauss1, df = _transcendentals(f, k, t, vol, r)
    value = np.empty(f.shape[0], dtype=np.float64)
    delta = np.empty(f.shape[0], dtype=np.float64)
    kernels.price_delta_kernel(f, k, t, vol, q, r, s, d1, gauss1, df, value, delta)
    return value.reshape(shape), delta.reshape(shape)


def greeks(
    forward: ArrayLike,
    strike: ArrayLike,
    t_years: ArrayLike,
    sigma: ArrayLike,
    is_call: ArrayLike,
    rate: ArrayLike = 0.0,
) -> Greeks:
    """Black-76 value and greeks in one pass (units in ``Greeks``)."""
    shape, (f, k, t, vol, q, r) = _prepare(
        forward, strike, t_years, sigma, option_sign(is_call), rate
    )
    s, d1, gauss1, df = _transcendentals(f, k, t, vol, r)
    out = np.empty((6, f.shape[0]), dtype=np.float64)
    kernels.greeks_kernel(f, k, t, vol, q, r, s, d1, gauss1, df, out)
    return Greeks(*[out[j].reshape(shape) for j in range(6)])


def implied_vol(
    price: ArrayLike,
    forward: ArrayLike,
    strike: ArrayLike,
    t_years: ArrayLike,
    is_call: ArrayLike,
    rate: ArrayLike = 0.0,
) -> IVResult:
    """Black-76 implied volatility (decimal) of USD prices; never raises on bad quotes.

    Quotes at/below intrinsic, at/above the upper bound, with zero time or invalid inputs get
    NaN and an ``IVReason`` code. Accuracy: ~1e-14 absolute on round trips (Let's Be Rational).
    """
    shape, (p, f, k, t, q, r) = _prepare(
        price, forward, strike, t_years, option_sign(is_call), rate
    )
    iv = np.empty(p.shape[0], dtype=np.float64)
    reason = np.empty(p.shape[0], dtype=np.int8)
    kernels.implied_vol_kernel(p, f, k, t, q, r, iv, reason)
    return IVResult(iv=iv.reshape(shape), reason=reason.reshape(shape))


def implied_vol_and_greeks(
    price: ArrayLike,
    forward: ArrayLike,
    strike: ArrayLike,
    t_years: ArrayLike,
    is_call: ArrayLike,
    rate: ArrayLike = 0.0,
) -> tuple[IVResult, Greeks]:
    """Implied vol of each USD price and the greeks at that vol (NaN where no IV was found).

    Why: enriching a chain needs both; one call converts the inputs once.
    """
    shape, (p, f, k, t, q, r) = _prepare(
        price, forward, strike, t_years, option_sign(is_call), rate
    )
    iv = np.empty(p.shape[0], dtype=np.float64)
    reason = np.empty(p.shape[0], dtype=np.int8)
    kernels.implied_vol_kernel(p, f, k, t, q, r, iv, reason)
    s, d1, gauss1, df = _transcendentals(f, k, t, iv, r)
    out = np.empty((6, p.shape[0]), dtype=np.float64)
    kernels.greeks_kernel(f, k, t, iv, q, r, s, d1, gauss1, df, out)
    result = IVResult(iv=iv.reshape(shape), reason=reason.reshape(shape))
    return result, Greeks(*[out[j].reshape(shape) for j in range(6)])


def deribit_theta(theta_per_day: ArrayLike, t_years: ArrayLike) -> FloatArray:
    """Theta as Deribit reports it: the time decay over min(1 day, remaining life), USD.

    `Greeks.theta` is the decay rate per calendar day, which grows like 1/sqrt(T) and near
    expiry exceeds the option's whole value; Deribit scales the rate by the time actually left
    when under a day, so a call with an hour left shows an hour's decay.
    """
    days_left = np.asarray(t_years, dtype=np.float64) * 365.0
    rate = np.asarray(theta_per_day, dtype=np.float64)
    return np.asarray(rate * np.clip(days_left, 0.0, 1.0))


def coin_price(price_usd: ArrayLike, forward: ArrayLike) -> FloatArray:
    """Price of an inverse (coin-settled) option in coin: USD price divided by the forward."""
    return np.asarray(np.asarray(price_usd, dtype=np.float64) / np.asarray(forward, np.float64))


def coin_delta(delta: ArrayLike, price_usd: ArrayLike, forward: ArrayLike) -> FloatArray:
    """Delta of an inverse option in coin: ``delta - price_usd / forward``.

    Why: the premium of an inverse option is itself held in coin, so a long call's coin
    exposure is its forward delta minus the coin value of the premium.
    """
    return np.asarray(np.asarray(delta, dtype=np.float64) - coin_price(price_usd, forward))

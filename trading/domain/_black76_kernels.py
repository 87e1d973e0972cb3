"""Compiled loops behind ``trading.domain.black76`` (private: call the public API instead).

Pricing and greeks: numpy computes the transcendental part (log, exp, sqrt are SIMD there),
then a branch-free numba loop evaluates Φ with Cody's three rational approximations, all
computed and selected, so LLVM vectorises it (no libm calls inside). Implied volatility: one
scalar Let's-Be-Rational inversion per quote (``lets_be_rational``).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from trading.domain._jit import jit, jit_inline
from trading.domain.lets_be_rational import DENORMALIZATION_CUTOFF, normalised_implied_vol_otm

FloatArray = npt.NDArray[np.float64]
ReasonArray = npt.NDArray[np.int8]

DAYS_PER_YEAR = 365.0
ONE_OVER_SQRT_TWO = 0.7071067811865475244008443621048490392848359376887
ONE_OVER_SQRT_TWO_PI = 0.3989422804014326779399460599343818684758586311649


# ---------------------------------------------------------------------------------------------
# Pricing and greeks
# ---------------------------------------------------------------------------------------------
@jit_inline
def _normal_tail(y: float, gauss: float) -> float:
    """Φ(-√2·y) for y ≥ 0, given gauss = exp(-y²) (Cody's erf/erfcx rationals, branch-free)."""
    ysq = y * y
    num = 0.185777706184603153 * ysq
    den = ysq
    num = (num + 3.1611237438705656) * ysq
    den = (den + 23.6012909523441209) * ysq
    num = (num + 113.864154151050156) * ysq
    den = (den + 244.024637934444173) * ysq
    num = (num + 377.485237685302021) * ysq
    den = (den + 1282.61652607737228) * ysq
    small = 0.5 - 0.5 * y * (num + 3209.37758913846947) / (den + 2844.23683343917062)
    num = 2.15311535474403846e-8 * y
    den = y
    num = (num + 0.564188496988670089) * y
    den = (den + 15.7449261107098347) * y
    num = (num + 8.88314979438837594) * y
    den = (den + 117.693950891312499) * y
    num = (num + 66.1191906371416295) * y
    den = (den + 537.181101862009858) * y
    num = (num + 298.635138197400131) * y
    den = (den + 1621.38957456669019) * y
    num = (num + 881.95222124176909) * y
    den = (den + 3290.79923573345963) * y
    num = (num + 1712.04761263407058) * y
    den = (den + 4362.61909014324716) * y
    num = (num + 2051.07837782607147) * y
    den = (den + 3439.36767414372164) * y
    mid = 0.5 * gauss * (num + 1230.33935479799725) / (den + 1230.33935480374942)
    inv = 1.0 / (ysq + 1e-300)
    num = 0.0163153871373020978 * inv
    den = inv
    num = (num + 0.305326634961232344) * inv
    den = (den + 2.56852019228982242) * inv
    num = (num + 0.360344899949804439) * inv
    den = (den + 1.87295284992346047) * inv
    num = (num + 0.125781726111229246) * inv
    den = (den + 0.527905102951428412) * inv
    num = (num + 0.0160837851487422766) * inv
    den = (den + 0.0605183413124413191) * inv
    tail_sum = inv * (num + 6.58749161529837803e-4) / (den + 0.00233520497626869185)
    large = 0.5 * gauss * (0.56418958354775628695 - tail_sum) / (y + 1e-300)
    result = mid
    if y <= 0.46875:
        result = small
    if y > 4.0:
        result = large
    return result


@jit_inline
def _black_core(
    f: float, k: float, q: float, s: float, d1: float, gauss1: float
) -> tuple[float, float]:
    """Undiscounted value and Φ(q·d1), from d1 = ln(F/K)/s + s/2 and gauss1 = exp(-d1²/2).

    The out-of-the-money side is priced by formula and the in-the-money side by parity, so
    deep-ITM values keep their time value; exp(-d2²/2) = exp(-d1²/2)·F/K. With s = 0 (no time
    or no vol) the value is intrinsic and Φ(q·d1) is 1, 1/2 or 0.
    """
    otm = 1.0 if f <= k else -1.0
    a1 = otm * d1
    a2 = otm * (d1 - s)
    tail1 = _normal_tail(abs(a1) * ONE_OVER_SQRT_TWO, gauss1)
    tail2 = _normal_tail(abs(a2) * ONE_OVER_SQRT_TWO, gauss1 * (f / k))
    n1 = tail1 if a1 <= 0.0 else 1.0 - tail1
    n2 = tail2 if a2 <= 0.0 else 1.0 - tail2
    moneyness = q * (f - k)
    intrinsic = max(moneyness, 0.0)
    value = max(otm * (f * n1 - k * n2), 0.0) + intrinsic
    n1q = n1 if q == otm else 1.0 - n1
    if s == 0.0:
        value = intrinsic
        n1q = 1.0 if moneyness > 0.0 else (0.5 if moneyness == 0.0 else 0.0)
    return value, n1q


@jit_inline
def _valid(f: float, k: float, t: float, vol: float, r: float) -> bool:
    """Finite, positive forward and strike, non-negative time and vol (NaN fails every test)."""
    return (
        (f > 0.0)
        & (f < math.inf)
        & (k > 0.0)
        & (k < math.inf)
        & (t >= 0.0)
        & (t < math.inf)
        & (vol >= 0.0)
        & (vol < math.inf)
        & (abs(r) < math.inf)
    )


@jit
def price_delta_kernel(
    f: FloatArray,
    k: FloatArray,
    t: FloatArray,
    vol: FloatArray,
    q: FloatArray,
    r: FloatArray,
    s: FloatArray,
    d1: FloatArray,
    gauss1: FloatArray,
    df: FloatArray,
    out_value: FloatArray,
    out_delta: FloatArray,
) -> None:
    """Discounted value and forward delta per option (NaN for invalid inputs)."""
    for i in range(f.shape[0]):
        value, n1q = _black_core(f[i], k[i], q[i], s[i], d1[i], gauss1[i])
        ok = _valid(f[i], k[i], t[i], vol[i], r[i])
        out_value[i] = df[i] * value if ok else math.nan
        out_delta[i] = df[i] * q[i] * n1q if ok else math.nan


@jit
def greeks_kernel(
    f: FloatArray,
    k: FloatArray,
    t: FloatArray,
    vol: FloatArray,
    q: FloatArray,
    r: FloatArray,
    s: FloatArray,
    d1: FloatArray,
    gauss1: FloatArray,
    df: FloatArray,
    out: FloatArray,
) -> None:
    """Rows 0..5 of ``out``: value, delta, gamma, vega (per vol point), theta (per day), rho."""
    for i in range(f.shape[0]):
        fi = f[i]
        dfi = df[i]
        value, n1q = _black_core(fi, k[i], q[i], s[i], d1[i], gauss1[i])
        value = dfi * value
        sqrt_t = math.sqrt(t[i])
        has_time_value = s[i] > 0.0
        pdf = ONE_OVER_SQRT_TWO_PI * gauss1[i] if has_time_value else 0.0
        decay = dfi * fi * pdf * vol[i] / (2.0 * sqrt_t) if has_time_value else 0.0
        ok = _valid(fi, k[i], t[i], vol[i], r[i])
        out[0, i] = value if ok else math.nan
        out[1, i] = dfi * q[i] * n1q if ok else math.nan
        out[2, i] = (dfi * pdf / (fi * s[i]) if has_time_value else 0.0) if ok else math.nan
        out[3, i] = dfi * fi * pdf * sqrt_t * 0.01 if ok else math.nan
        out[4, i] = (r[i] * value - decay) / DAYS_PER_YEAR if ok else math.nan
        out[5, i] = -t[i] * value * 0.01 if ok else math.nan


# ---------------------------------------------------------------------------------------------
# Implied volatility
# ---------------------------------------------------------------------------------------------
@jit
def _iv_input_reason(price: float, f: float, k: float, t: float, q: float, r: float) -> int:
    """IVReason code for quotes rejected before any inversion (0 when the inputs are usable)."""
    finite = (
        math.isfinite(price)
        and math.isfinite(f)
        and math.isfinite(k)
        and math.isfinite(t)
        and math.isfinite(r)
    )
    if not finite or f <= 0.0 or k <= 0.0 or t < 0.0 or price < 0.0 or q == 0.0:
        return 4
    return 3 if t == 0.0 else 0


@jit
def _implied_vol_one(price: float, f: float, k: float, t: float, q: float, r: float) -> float:
    """IV of one option, or a negative IVReason code (-1..-5) when it cannot be found."""
    rejected = _iv_input_reason(price, f, k, t, q, r)
    if rejected != 0:
        return -float(rejected)
    undiscounted = price * math.exp(r * t) if r != 0.0 else price
    if undiscounted <= max(q * (f - k), 0.0):
        return -1.0
    if undiscounted >= (f if q > 0 else k):
        return -2.0
    x = math.log(f / k)
    intrinsic = q * (f - k)
    if intrinsic > 0.0:
        # In the money: invert the time value, i.e. the OTM option by parity. Taking it in USD
        # (F - K and the subtraction are nearly exact) keeps ITM quotes as exact as they can be.
        undiscounted -= intrinsic
        q = -q
    beta = undiscounted / (math.sqrt(f) * math.sqrt(k))
    if q < 0.0:
        x = -x
    if not beta > DENORMALIZATION_CUTOFF:
        return -1.0
    b_max = math.exp(0.5 * x)
    if beta >= b_max:
        return -2.0
    s = normalised_implied_vol_otm(beta, x, b_max)
    if not (s > 0.0 and math.isfinite(s)):
        return -5.0
    return s / math.sqrt(t)


@jit
def implied_vol_kernel(
    price: FloatArray,
    f: FloatArray,
    k: FloatArray,
    t: FloatArray,
    q: FloatArray,
    r: FloatArray,
    out_iv: FloatArray,
    out_reason: ReasonArray,
) -> None:
    """IV (NaN when unavailable) and IVReason code per quote."""
    for i in range(price.shape[0]):
        iv = _implied_vol_one(price[i], f[i], k[i], t[i], q[i], r[i])
        if iv < 0.0:
            out_iv[i] = math.nan
            out_reason[i] = np.int8(-iv)
        else:
            out_iv[i] = iv
            out_reason[i] = 0

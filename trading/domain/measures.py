"""Market measures for the agent and the bots: realized vol, IV rank, ATM term structure, skew,
VRP and the classic price indicators (RSI, ADX, moving averages).

Units: volatilities are decimal (0.55 = 55%) and annualised with the ``periods_per_year`` you
pass (crypto trades every day: 365 daily bars, 8760 hourly bars). Multiply by 100 for the vol
points the Greg thresholds use. Conventions follow ../shared/reference/greg:
``iv_rank`` is a fraction in [0, 1], ``term_structure_spread = IV(7d) - IV(30d)`` and
``skew_25d = IV(25-delta put) - IV(25-delta call)`` (the opposite of a risk reversal).
Chain measures take a chain from ``trading.domain.chain`` (enriched or not).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from trading.domain.chain import ENRICHED_COLUMNS, enrich_chain, otm_mask

FloatArray = npt.NDArray[np.float64]
LN_2 = math.log(2.0)


# ---------------------------------------------------------------------------------------------
# Realized volatility, IV rank, VRP
# ---------------------------------------------------------------------------------------------
def log_returns(close: pd.Series) -> pd.Series:
    """Log returns ln(P_t / P_{t-1}); the first value is NaN."""
    values = close.astype("float64")
    return pd.Series(np.log(values / values.shift(1)), index=close.index)


def realized_vol_close_to_close(
    close: pd.Series, window: int, periods_per_year: float, *, demean: bool = True
) -> pd.Series:
    """Rolling annualised close-to-close volatility over ``window`` returns.

    ``demean=False`` uses the zero-mean estimator sqrt(mean(r²)), common for short windows.
    """
    _check_window(window)
    returns = log_returns(close)
    if demean:
        variance = returns.rolling(window, min_periods=window).var(ddof=1)
    else:
        variance = (returns**2).rolling(window, min_periods=window).mean()
    return pd.Series(np.sqrt(variance * periods_per_year), index=close.index)


def realized_vol_parkinson(
    high: pd.Series, low: pd.Series, window: int, periods_per_year: float
) -> pd.Series:
    """Rolling annualised Parkinson (high-low range) volatility over ``window`` bars.

    Why: the range uses intrabar information, so it is ~5x more efficient than closes alone.
    """
    _check_window(window)
    range_sq = np.log(high.astype("float64") / low.astype("float64")) ** 2
    variance = range_sq.rolling(window, min_periods=window).mean() / (4.0 * LN_2)
    return pd.Series(np.sqrt(variance * periods_per_year), index=high.index)


def iv_rank(iv: pd.Series, window: int) -> pd.Series:
    """(IV - rolling min) / (rolling max - rolling min) over ``window`` observations, in [0, 1].

    NaN until the window is full and when the range is flat.
    """
    _check_window(window)
    low = iv.rolling(window, min_periods=window).min()
    high = iv.rolling(window, min_periods=window).max()
    spread = (high - low).where(high > low)
    return (iv - low) / spread


def iv_percentile(iv: pd.Series, window: int) -> pd.Series:
    """Fraction of the last ``window`` observations (current included) strictly below today's IV."""
    _check_window(window)

    def below(values: FloatArray) -> float:
        return float(np.mean(values[:-1] < values[-1])) if values.size > 1 else math.nan

    return iv.rolling(window, min_periods=window).apply(below, raw=True)


def vrp(iv: pd.Series | float, rv: pd.Series | float) -> pd.Series | float:
    """Volatility risk premium: implied minus realized volatility (same units as the inputs)."""
    return iv - rv


# ---------------------------------------------------------------------------------------------
# Price indicators
# ---------------------------------------------------------------------------------------------
def sma(series: pd.Series, window: int) -> pd.Series:
    """Simple moving average over ``window`` observations (NaN until full)."""
    _check_window(window)
    return series.rolling(window, min_periods=window).mean()


def ema(series: pd.Series, span: int) -> pd.Series:
    """Exponential moving average with pandas' ``span`` convention (alpha = 2/(span+1))."""
    _check_window(span)
    return series.ewm(span=span, adjust=False, min_periods=span).mean()


def _wilder(series: pd.Series, period: int) -> pd.Series:
    return series.ewm(alpha=1.0 / period, adjust=False, min_periods=period).mean()


def rsi(close: pd.Series, period: int = 14) -> pd.Series:
    """Wilder's Relative Strength Index in [0, 100] (100 when there were no down moves)."""
    _check_window(period)
    change = close.astype("float64").diff()
    gain = _wilder(change.clip(lower=0.0), period)
    loss = _wilder((-change).clip(lower=0.0), period)
    strength = gain / loss
    result = 100.0 - 100.0 / (1.0 + strength)
    return result.where(loss > 0, 100.0).where(gain.notna())


def adx(high: pd.Series, low: pd.Series, close: pd.Series, period: int = 14) -> pd.Series:
    """Wilder's Average Directional Index in [0, 100]: trend strength regardless of direction."""
    _check_window(period)
    high_f, low_f, close_f = (s.astype("float64") for s in (high, low, close))
    up_move = high_f.diff()
    down_move = -low_f.diff()
    plus_dm = up_move.where((up_move > down_move) & (up_move > 0), 0.0)
    minus_dm = down_move.where((down_move > up_move) & (down_move > 0), 0.0)
    prev_close = close_f.shift(1)
    true_range = pd.concat(
        [high_f - low_f, (high_f - prev_close).abs(), (low_f - prev_close).abs()], axis=1
    ).max(axis=1, skipna=False)
    atr = _wilder(true_range, period)
    plus_di = 100.0 * _wilder(plus_dm, period) / atr
    minus_di = 100.0 * _wilder(minus_dm, period) / atr
    di_sum = (plus_di + minus_di).where(lambda s: s > 0)
    dx = 100.0 * (plus_di - minus_di).abs() / di_sum
    return _wilder(dx.fillna(0.0).where(dx.notna() | di_sum.isna()), period)


def _check_window(window: int) -> None:
    if int(window) != window or window < 1:
        raise ValueError(f"window must be a positive integer, got {window}")


# ---------------------------------------------------------------------------------------------
# Chain measures: ATM IV term structure and 25-delta skew
# ---------------------------------------------------------------------------------------------
def _enriched(chain: pd.DataFrame) -> pd.DataFrame:
    if all(column in chain.columns for column in ENRICHED_COLUMNS):
        return chain
    return enrich_chain(chain)


def _expiry_groups(
    df: pd.DataFrame, usable: npt.NDArray[np.bool_], columns: Sequence[str]
) -> tuple[FloatArray, list[dict[str, npt.NDArray[np.generic]]]]:
    """The usable rows split by expiry (ascending): each expiry and its columns as arrays.

    Why not `groupby`: a chain has ~12 expiries, and pandas' per-group overhead was most of
    the time of the measures below (they run on every Greg evaluation).
    """
    expiry = df["expiry_timestamp"].to_numpy(dtype=np.float64)[usable]
    order = np.argsort(expiry, kind="stable")
    expiry = expiry[order]
    arrays = {c: df[c].to_numpy()[usable][order] for c in columns}
    keys, starts = np.unique(expiry, return_index=True)
    bounds = [*starts.tolist(), expiry.size]
    groups = [
        {c: a[bounds[i] : bounds[i + 1]] for c, a in arrays.items()} for i in range(keys.size)
    ]
    return keys, groups


def atm_iv_by_expiry(chain: pd.DataFrame) -> pd.DataFrame:
    """ATM IV per expiry: OTM IVs interpolated linearly in log-moneyness ln(K/F) at K = F.

    Columns: ``expiry_timestamp``, ``t_years``, ``forward``, ``atm_iv`` (decimal). Expiries with
    no usable IV are dropped; with IVs on one side only, the nearest strike's IV is used.
    """
    df = _enriched(chain)
    usable = otm_mask(df) & np.isfinite(df["iv"].to_numpy(dtype=np.float64))
    keys, groups = _expiry_groups(df, usable, ("underlying_price", "strike", "iv", "t_years"))
    rows = []
    for expiry, group in zip(keys.tolist(), groups, strict=True):
        forward = float(np.median(group["underlying_price"].astype(np.float64)))
        moneyness = np.log(group["strike"].astype(np.float64) / forward)
        order = np.argsort(moneyness, kind="stable")
        ivs = group["iv"].astype(np.float64)[order]
        atm = float(np.interp(0.0, moneyness[order], ivs))
        t_years = float(np.median(group["t_years"].astype(np.float64)))
        if t_years > 0:
            rows.append((float(expiry), t_years, forward, atm))
    return pd.DataFrame(rows, columns=["expiry_timestamp", "t_years", "forward", "atm_iv"])


def iv_at_delta_by_expiry(chain: pd.DataFrame, delta: float = 0.25) -> pd.DataFrame:
    """Call IV at +``delta`` and put IV at -``delta`` per expiry, interpolated in delta.

    Columns: ``expiry_timestamp``, ``t_years``, ``call_iv``, ``put_iv`` (decimal; NaN when the
    wing does not reach that delta). Uses OTM options only (their deltas are monotone).
    """
    if not 0.0 < delta < 0.5:
        raise ValueError(f"delta must be in (0, 0.5), got {delta}")
    df = _enriched(chain)
    usable = otm_mask(df) & np.isfinite(df["iv"].to_numpy(dtype=np.float64))
    usable &= np.isfinite(df["delta"].to_numpy(dtype=np.float64))
    keys, groups = _expiry_groups(df, usable, ("option_type", "delta", "iv", "t_years"))
    rows = []
    for expiry, group in zip(keys.tolist(), groups, strict=True):
        is_call = group["option_type"].astype(object) == "C"
        deltas = group["delta"].astype(np.float64)
        ivs = group["iv"].astype(np.float64)
        call_iv = _interp_inside(delta, deltas[is_call], ivs[is_call])
        put_iv = _interp_inside(-delta, deltas[~is_call], ivs[~is_call])
        t_years = float(np.median(group["t_years"].astype(np.float64)))
        rows.append((float(expiry), t_years, call_iv, put_iv))
    return pd.DataFrame(rows, columns=["expiry_timestamp", "t_years", "call_iv", "put_iv"])


def _interp_inside(target: float, x: FloatArray, y: FloatArray) -> float:
    """Linear interpolation at ``target`` only when it lies inside the sampled range."""
    if x.size == 0 or target < x.min() or target > x.max():
        return math.nan
    order = np.argsort(x)
    return float(np.interp(target, x[order], y[order]))


def interpolate_total_variance(
    t_nodes: npt.ArrayLike, iv_nodes: npt.ArrayLike, t_target: npt.ArrayLike
) -> FloatArray:
    """Vol at ``t_target`` years from (t, iv) nodes, linear in total variance w = iv²·t.

    Why total variance: it is additive in time, so linear interpolation in w is arbitrage-free
    for increasing w; outside the nodes the nearest vol is held flat.
    """
    t_arr = np.asarray(t_nodes, dtype=np.float64)
    iv_arr = np.asarray(iv_nodes, dtype=np.float64)
    keep = np.isfinite(t_arr) & np.isfinite(iv_arr) & (t_arr > 0)
    t_arr, iv_arr = t_arr[keep], iv_arr[keep]
    target = np.asarray(t_target, dtype=np.float64)
    if t_arr.size == 0:
        return np.full(target.shape, np.nan)
    order = np.argsort(t_arr)
    t_arr, iv_arr = t_arr[order], iv_arr[order]
    total_var = np.interp(target, t_arr, iv_arr**2 * t_arr)
    inside = np.sqrt(np.maximum(total_var, 0.0) / np.where(target > 0, target, np.nan))
    flat = np.where(target < t_arr[0], iv_arr[0], iv_arr[-1])
    result = np.where((target >= t_arr[0]) & (target <= t_arr[-1]), inside, flat)
    return np.asarray(result, dtype=np.float64)


def atm_iv_term(chain: pd.DataFrame, tenors_days: Sequence[float]) -> pd.Series:
    """ATM IV (decimal) at constant tenors in days, interpolated in total variance."""
    table = atm_iv_by_expiry(chain)
    tenors = np.asarray(tenors_days, dtype=np.float64)
    values = interpolate_total_variance(table["t_years"], table["atm_iv"], tenors / 365.0)
    return pd.Series(values, index=pd.Index(tenors, name="tenor_days"), name="atm_iv")


def term_structure_spread(
    chain: pd.DataFrame, short_days: float = 7.0, long_days: float = 30.0
) -> float:
    """ATM IV(short) - ATM IV(long), decimal: positive when the front is richer (backwardation)."""
    term = atm_iv_term(chain, [short_days, long_days])
    return float(term.iloc[0] - term.iloc[1])


def skew_25d(chain: pd.DataFrame, tenor_days: float = 30.0, delta: float = 0.25) -> float:
    """25-delta put IV minus 25-delta call IV at a constant tenor (decimal), Greg's sign."""
    table = iv_at_delta_by_expiry(chain, delta)
    t_target = np.array([tenor_days / 365.0])
    put = interpolate_total_variance(table["t_years"], table["put_iv"], t_target)[0]
    call = interpolate_total_variance(table["t_years"], table["call_iv"], t_target)[0]
    return float(put - call)

"""The recommended vol surface of one chain snapshot: SVI per expiry, checks and metrics.

Input is a normalised chain (`trading.domain.chain.normalize_chain`, both harvest schemas).
Fitted points: out-of-the-money options (calls above the forward, puts below; the ATM-most of
both sides near k = 0) with a mark, a finite `mark_iv` and a price at or above `min_fit_price`,
after the liquidity filter. Metrics follow the issue's definition: absolute IV error in vol
points (percent units), vega-weighted, over OTM options priced at or above 0.0005 coin with more
than 2 days left.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from calibration.domain.svi import (
    FloatArray,
    SviParams,
    butterfly_density,
    fit_svi_batch,
    svi_total_variance,
)
from trading.domain import black76
from trading.domain.chain import chain_t_years

#: Metric selection (issue #13): OTM, mark >= 0.0005 coin, more than 2 days left.
METRIC_MIN_PRICE_COIN = 0.0005
METRIC_MIN_DTE_DAYS = 2.0
#: DTE bands (upper bounds, days) for metrics and IV multipliers.
DTE_BANDS: tuple[tuple[str, float, float], ...] = (
    ("0-7d", 0.0, 7.0),
    ("7-30d", 7.0, 30.0),
    ("30-90d", 30.0, 90.0),
    ("90d+", 90.0, float("inf")),
)
#: Delta buckets on |forward delta| of the OTM option.
DELTA_BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("wing <10d", 0.0, 0.10),
    ("10-25d", 0.10, 0.25),
    ("25-40d", 0.25, 0.40),
    ("atm 40-50d", 0.40, 0.5000001),
)


@dataclass(frozen=True, slots=True)
class LiquidityFilter:
    """Which quotes a fit may use: marks above a price, books not crossed, optional OI/spread."""

    min_fit_price_coin: float = 0.0001
    min_open_interest: float = 0.0
    max_relative_spread: float = float("inf")
    drop_crossed: bool = True


@dataclass(frozen=True, slots=True)
class ExpiryFit:
    """One expiry's smile: parameters, ATM IV, 25-delta skew and arbitrage checks."""

    expiry: str
    t_years: float
    dte_days: float
    forward: float
    n_points: int
    params: SviParams
    atm_iv: float
    rr25_volpts: float
    butterfly_ok: bool
    min_density: float


@dataclass(frozen=True, slots=True)
class ErrorStats:
    """IV errors in vol points over a selection."""

    n: int
    mae_volpts: float
    vw_mae_volpts: float
    bias_volpts: float


@dataclass(frozen=True)
class SurfaceFit:
    """The fitted surface of one snapshot and its agreement with the marks."""

    underlying: str
    harvest_time: pd.Timestamp
    n_options: int
    n_fitted: int
    expiries: tuple[ExpiryFit, ...]
    calendar_violations: tuple[tuple[str, str], ...]
    surface: ErrorStats
    by_band: dict[str, ErrorStats]
    by_bucket: dict[str, ErrorStats]
    fit_ms: float
    points: pd.DataFrame = field(repr=False)

    @property
    def butterfly_violations(self) -> tuple[str, ...]:
        """Expiries whose smile has a negative density somewhere on the check grid."""
        return tuple(e.expiry for e in self.expiries if not e.butterfly_ok)

    @property
    def arbitrage_free(self) -> bool:
        """No butterfly and no calendar violation."""
        return not self.butterfly_violations and not self.calendar_violations


def chain_points(chain: pd.DataFrame, liquidity: LiquidityFilter | None = None) -> pd.DataFrame:
    """OTM points of a normalised chain with k, T, mark IV (decimal), vega and flags.

    Columns: expiry, t_years, dte_days, forward, strike, k, is_call, mark_price, mark_iv,
    vega_usd, delta, fit (used by the fit), metric (in the reported metric).
    """
    rule = liquidity or LiquidityFilter()
    t_years = chain_t_years(chain)
    forward = chain["underlying_price"].to_numpy(dtype=np.float64)
    strike = chain["strike"].to_numpy(dtype=np.float64)
    is_call = chain["option_type"].to_numpy(dtype=object) == "C"
    k = np.log(strike / forward)
    otm = np.where(is_call, k >= 0.0, k < 0.0)
    mark = chain["mark_price"].to_numpy(dtype=np.float64)
    iv = chain["mark_iv"].to_numpy(dtype=np.float64) / 100.0
    valid = otm & (t_years > 0) & np.isfinite(iv) & (iv > 0) & np.isfinite(mark) & (mark > 0)
    g = black76.greeks(
        forward, strike, np.maximum(t_years, 1e-9), np.where(valid, iv, 0.5), is_call
    )
    bid = chain["best_bid_price"].to_numpy(dtype=np.float64)
    ask = chain["best_ask_price"].to_numpy(dtype=np.float64)
    crossed = np.isfinite(bid) & np.isfinite(ask) & (bid > ask)
    oi = np.nan_to_num(chain["open_interest"].to_numpy(dtype=np.float64), nan=0.0)
    spread = np.where(np.isfinite(bid) & np.isfinite(ask), (ask - bid) / np.maximum(mark, 1e-12), 0)
    liquid = (mark >= rule.min_fit_price_coin) & (oi >= rule.min_open_interest)
    liquid &= spread <= rule.max_relative_spread
    if rule.drop_crossed:
        liquid &= ~crossed
    dte = t_years * 365.0
    frame = pd.DataFrame(
        {
            "expiry": chain["expiry"].to_numpy(dtype=object),
            "t_years": t_years,
            "dte_days": dte,
            "forward": forward,
            "strike": strike,
            "k": k,
            "is_call": is_call,
            "mark_price": mark,
            "mark_iv": iv,
            "vega_usd": np.asarray(g.vega),
            "delta": np.asarray(g.delta),
            "fit": valid & liquid,
            "metric": valid & (mark >= METRIC_MIN_PRICE_COIN) & (dte > METRIC_MIN_DTE_DAYS),
        }
    )
    return frame[valid].reset_index(drop=True)


def _padded(
    points: pd.DataFrame,
) -> tuple[list[str], FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Fitted points as padded (expiries x max points) arrays: k, w, scale, T, forward.

    Expiries with fewer than five points are left out (five parameters). Padding repeats the
    last point with zero scale, so it adds nothing to costs or Jacobians.
    """
    used = points[points["fit"].to_numpy()]
    expiry = used["expiry"].to_numpy(dtype=str)
    order = np.lexsort((used["k"].to_numpy(), expiry))
    expiry = expiry[order]
    names, start, counts = np.unique(expiry, return_index=True, return_counts=True)
    keep = counts >= 5
    names, start, counts = names[keep], start[keep], counts[keep]
    width = int(counts.max()) if len(counts) else 1
    pos = np.minimum(np.arange(width)[None, :], counts[:, None] - 1) + start[:, None]
    valid = np.arange(width)[None, :] < counts[:, None]
    kk = used["k"].to_numpy()[order][pos]
    tt = used["t_years"].to_numpy()[order][pos]
    iv = used["mark_iv"].to_numpy()[order][pos]
    vega = used["vega_usd"].to_numpy()[order][pos]
    fwd_all = used["forward"].to_numpy()[order][pos]
    weight = vega / np.maximum(vega.max(axis=1, keepdims=True), 1e-12) + 0.02
    t = tt[:, 0] if len(names) else np.zeros(0)
    w = iv * iv * tt
    scale = np.where(valid, np.sqrt(weight) / (2.0 * iv * tt), 0.0)
    fwd = np.array([float(np.median(row[m])) for row, m in zip(fwd_all, valid, strict=True)])
    return [str(n) for n in names], kk, w, scale, t, fwd


def _rr25(params: FloatArray, t_years: float) -> float:
    """25-delta risk reversal of a fitted smile in vol points (call IV minus put IV)."""
    k = np.linspace(-1.5, 1.5, 601) * max(np.sqrt(t_years), 0.05)
    iv = np.sqrt(np.maximum(svi_total_variance(params, k)[0], 1e-12) / t_years)
    d1 = (-k + 0.5 * iv * iv * t_years) / (iv * np.sqrt(t_years))
    from scipy.special import ndtr

    call_delta = ndtr(d1)
    put_delta = call_delta - 1.0
    call_iv = np.interp(0.25, call_delta[::-1], iv[::-1])
    put_iv = np.interp(-0.25, put_delta[::-1], iv[::-1])
    return float(100.0 * (call_iv - put_iv))


def _stats(err: FloatArray, vega: FloatArray) -> ErrorStats:
    if err.size == 0:
        return ErrorStats(0, float("nan"), float("nan"), float("nan"))
    return ErrorStats(
        n=int(err.size),
        mae_volpts=float(np.mean(np.abs(err))),
        vw_mae_volpts=float(np.sum(vega * np.abs(err)) / max(float(np.sum(vega)), 1e-300)),
        bias_volpts=float(np.mean(err)),
    )


def error_breakdown(
    points: pd.DataFrame, column: str
) -> tuple[ErrorStats, dict[str, ErrorStats], dict[str, ErrorStats]]:
    """Vol-point errors of `column` (decimal IV) vs marks: overall, per DTE band, per bucket."""
    sel = points[points["metric"] & np.isfinite(points[column])]
    err = 100.0 * (sel[column].to_numpy() - sel["mark_iv"].to_numpy())
    vega = sel["vega_usd"].to_numpy()
    dte = sel["dte_days"].to_numpy()
    abs_delta = np.abs(sel["delta"].to_numpy())
    bands = {
        name: _stats(err[(dte > lo) & (dte <= hi)], vega[(dte > lo) & (dte <= hi)])
        for name, lo, hi in DTE_BANDS
    }
    buckets = {
        name: _stats(
            err[(abs_delta >= lo) & (abs_delta < hi)], vega[(abs_delta >= lo) & (abs_delta < hi)]
        )
        for name, lo, hi in DELTA_BUCKETS
    }
    return _stats(err, vega), bands, buckets


def calendar_violations(
    fits: list[tuple[str, float, FloatArray]], *, tolerance: float = 1e-6
) -> list[tuple[str, str]]:
    """Pairs of consecutive expiries where total variance falls with maturity at some k."""
    grid = np.linspace(-1.0, 1.0, 81)
    ordered = sorted(fits, key=lambda item: item[1])
    bad: list[tuple[str, str]] = []
    for (name1, _, p1), (name2, t2, p2) in itertools.pairwise(ordered):
        k = grid * max(np.sqrt(t2), 0.1)
        if np.any(
            svi_total_variance(p2[None], k)[0] < svi_total_variance(p1[None], k)[0] - tolerance
        ):
            bad.append((name1, name2))
    return bad


def check_grid(params: FloatArray) -> FloatArray:
    """Log-moneyness grid of the butterfly check: +-8 ATM standard deviations."""
    atm_sd = float(np.sqrt(max(svi_total_variance(params[None], np.zeros(1))[0, 0], 1e-8)))
    return np.linspace(-8.0, 8.0, 321) * max(atm_sd, 0.02)


def butterfly_ok_batch(params: FloatArray) -> npt.NDArray[np.bool_]:
    """`butterfly_check` of every row of `params` (e, 5) at once."""
    atm_w = svi_total_variance(params, np.zeros((len(params), 1)))[:, 0]
    sd = np.maximum(np.sqrt(np.maximum(atm_w, 1e-8)), 0.02)
    grid = np.linspace(-8.0, 8.0, 321)[None, :] * sd[:, None]
    g = butterfly_density(params, grid)
    w = svi_total_variance(params, grid)
    return np.asarray(np.all(w > 0, axis=1) & np.all(np.nan_to_num(g, nan=-1.0) >= -1e-9, axis=1))


def butterfly_check(params: FloatArray, t_years: float) -> tuple[bool, float]:
    """(no butterfly arbitrage, minimum of g) on `check_grid`."""
    k = check_grid(params)
    g = butterfly_density(params[None], k)[0]
    w = svi_total_variance(params[None], k)[0]
    min_g = float(np.nanmin(g)) if np.any(np.isfinite(g)) else float("-inf")
    return bool(np.all(w > 0) and min_g >= -1e-9), min_g


def _penalised_residuals(
    params: FloatArray, k: FloatArray, w: FloatArray, scale: FloatArray, grid: FloatArray
) -> FloatArray:
    """Data residuals and penalties on negative density / variance on the grid, per row."""
    fit = scale * (svi_total_variance(params, k) - w)
    g = np.nan_to_num(butterfly_density(params, grid) - 1e-4, nan=-1.0)
    w_grid = svi_total_variance(params, grid)
    penalty = 30.0 * np.minimum(g, 0.0) + 30.0 * np.minimum(w_grid - 1e-6, 0.0)
    return np.concatenate([fit, penalty], axis=1)


def butterfly_repair(
    params: FloatArray, k: FloatArray, w: FloatArray, scale: FloatArray, iterations: int = 25
) -> FloatArray:
    """Refit expiries whose smile has butterfly arbitrage with a penalty on negative density.

    Why: an unconstrained SVI can dip below zero density beyond the quoted strikes (about 6%
    of the expiries in the December 2025 snapshots). Only those expiries are refitted, all at
    once: Levenberg-Marquardt on data residuals plus penalty residuals `30 * min(g, 0)` on the
    check grid, forward-difference Jacobian. A repaired smile is kept only if it passes.
    """
    idx = np.flatnonzero(~butterfly_ok_batch(params))
    if idx.size == 0:
        return params
    p = params[idx].copy()
    kk, ww, ss = k[idx], w[idx], scale[idx]
    grid = np.stack([check_grid(row) for row in p])
    lower = np.array([-np.inf, 1e-8, -0.999, -np.inf, 1e-6])
    upper = np.array([np.inf, np.inf, 0.999, np.inf, np.inf])
    residual = _penalised_residuals(p, kk, ww, ss, grid)
    cost = np.sum(residual * residual, axis=1)
    damping = np.full(len(idx), 1e-2)
    for _ in range(iterations):
        jac = np.empty((*residual.shape, 5))
        for j in range(5):
            h = 1e-7 * max(1.0, float(np.max(np.abs(p[:, j]))))
            bumped = p.copy()
            bumped[:, j] += h
            jac[..., j] = (_penalised_residuals(bumped, kk, ww, ss, grid) - residual) / h
        jtj = np.einsum("eni,enj->eij", jac, jac)
        jtr = np.einsum("eni,en->ei", jac, residual)
        diag = np.einsum("eii->ei", jtj) + 1e-12
        step = np.linalg.solve(
            jtj + damping[:, None, None] * diag[:, :, None] * np.eye(5), -jtr[..., None]
        )[..., 0]
        trial = np.clip(p + step, lower, upper)
        new_residual = _penalised_residuals(trial, kk, ww, ss, grid)
        new_cost = np.sum(new_residual * new_residual, axis=1)
        better = new_cost < cost
        p = np.where(better[:, None], trial, p)
        residual = np.where(better[:, None], new_residual, residual)
        cost = np.where(better, new_cost, cost)
        damping = np.where(better, damping * 0.3, damping * 10.0)
    out = params.copy()
    passed = butterfly_ok_batch(p)
    out[idx[passed]] = p[passed]
    return out


def surface_fit(
    chain: pd.DataFrame,
    *,
    liquidity: LiquidityFilter | None = None,
) -> SurfaceFit:
    """Fit SVI to every expiry of a normalised chain, check arbitrage and score it vs marks."""
    started = time.perf_counter()
    points = chain_points(chain, liquidity)
    names, k, w, scale, t, fwd = _padded(points)
    fitted_iv = np.full(len(points), np.nan)
    expiries: list[ExpiryFit] = []
    params_by_name: list[tuple[str, float, FloatArray]] = []
    if names:
        batch = fit_svi_batch(k, w, scale, t)
        repaired = butterfly_repair(batch.params, k, w, scale)
        index_of = {name: i for i, name in enumerate(names)}
        rows = points["expiry"].map(index_of)
        has = rows.notna().to_numpy()
        row_idx = rows[has].to_numpy(dtype=np.int64)
        kk = points.loc[has, "k"].to_numpy()
        tt = points.loc[has, "t_years"].to_numpy()
        w_fit = svi_total_variance(repaired[row_idx], kk[:, None])[:, 0]
        fitted_iv[has] = np.sqrt(np.maximum(w_fit, 0.0) / tt)
        for i, name in enumerate(names):
            p = repaired[i]
            ok, min_g = butterfly_check(p, float(t[i]))
            atm_w = float(svi_total_variance(p[None], np.zeros(1))[0, 0])
            expiries.append(
                ExpiryFit(
                    expiry=name,
                    t_years=float(t[i]),
                    dte_days=float(t[i] * 365.0),
                    forward=float(fwd[i]),
                    n_points=int(np.sum(scale[i] > 0)),
                    params=SviParams.from_array(p),
                    atm_iv=float(np.sqrt(max(atm_w, 0.0) / t[i])),
                    rr25_volpts=_rr25(p[None], float(t[i])),
                    butterfly_ok=ok,
                    min_density=min_g,
                )
            )
            params_by_name.append((name, float(t[i]), p))
    points = points.assign(fit_iv=fitted_iv)
    overall, bands, buckets = error_breakdown(points, "fit_iv")
    return SurfaceFit(
        underlying=str(chain["underlying"].iloc[0]) if len(chain) else "",
        harvest_time=pd.Timestamp(chain["harvest_time"].max()) if len(chain) else pd.NaT,
        n_options=len(chain),
        n_fitted=int(points["fit"].sum()),
        expiries=tuple(expiries),
        calendar_violations=tuple(calendar_violations(params_by_name)),
        surface=overall,
        by_band=bands,
        by_bucket=buckets,
        fit_ms=(time.perf_counter() - started) * 1000.0,
        points=points,
    )


def surface_warm_up() -> None:
    """Run one tiny fit so the first real one does not pay for JIT compilation and imports.

    Why: the first call in a process otherwise spends about a second compiling numeric kernels
    and warming pandas, which a reported `fit_ms` should not include.
    """
    harvest = pd.Timestamp("2025-12-10 08:00", tz="UTC")
    strikes = np.linspace(80_000.0, 120_000.0, 9)
    rows = len(strikes) * 2
    expiry_s = harvest.timestamp() + np.repeat([20.0, 60.0], len(strikes)) * 86_400
    chain = pd.DataFrame(
        {
            "harvest_time": [harvest] * rows,
            "instrument_name": ["x"] * rows,
            "underlying": ["BTC"] * rows,
            "expiry": np.repeat(["a", "b"], len(strikes)),
            "expiry_timestamp": expiry_s,
            "option_type": np.where(np.tile(strikes, 2) >= 100_000.0, "C", "P"),
            "strike": np.tile(strikes, 2),
            "underlying_price": np.full(rows, 100_000.0),
            "mark_price": np.full(rows, 0.01),
            "best_bid_price": np.full(rows, np.nan),
            "best_ask_price": np.full(rows, np.nan),
            "mark_iv": 50.0 + 20.0 * np.log(np.tile(strikes, 2) / 100_000.0) ** 2,
            "open_interest": np.ones(rows),
            "volume": np.ones(rows),
        }
    )
    surface_fit(chain)

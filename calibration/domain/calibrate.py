"""One calibration of a chain: surface fit, synthetic comparison, guardrail facts, JSON summary."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from calibration.domain.policy import (
    CalibrationFacts,
    Guardrails,
    GuardrailVerdict,
    guardrails_check,
)
from calibration.domain.surface import ErrorStats, SurfaceFit, surface_fit
from calibration.domain.synthetic import SyntheticComparison, synthetic_compare
from trading.domain.market_model import CurrencyModelParams


@dataclass(frozen=True)
class ChainCalibration:
    """Everything one chain's calibration produced."""

    fit: SurfaceFit
    synthetic: SyntheticComparison
    mark_coverage: float
    verdict: GuardrailVerdict


def mark_coverage(chain: pd.DataFrame) -> float:
    """Share of rows with a positive, finite mark and mark IV."""
    if len(chain) == 0:
        return 0.0
    mark = chain["mark_price"].to_numpy(dtype=np.float64)
    iv = chain["mark_iv"].to_numpy(dtype=np.float64)
    ok = np.isfinite(mark) & (mark > 0) & np.isfinite(iv) & (iv > 0)
    return float(np.mean(ok))


def chain_calibrate(
    chain: pd.DataFrame,
    params: CurrencyModelParams,
    *,
    rails: Guardrails | None = None,
    quality_ok: bool = True,
) -> ChainCalibration:
    """Fit the surface, compare the synthetic model, and judge the result by the guardrails."""
    fit = surface_fit(chain)
    underlying = fit.underlying
    comparison = synthetic_compare(fit.points, params, underlying)
    coverage = mark_coverage(chain)
    facts = CalibrationFacts(
        n_options=len(chain),
        n_expiries=len(fit.expiries),
        mark_coverage=coverage,
        surface_vw_mae_volpts=fit.surface.vw_mae_volpts,
        adjusted_synthetic_vw_mae_volpts=comparison.adjusted.vw_mae_volpts,
        multipliers=comparison.multipliers_by_band,
        quality_ok=quality_ok,
    )
    return ChainCalibration(fit, comparison, coverage, guardrails_check(facts, rails))


def finite_or_none(value: float, digits: int = 4) -> float | None:
    """A float for JSON, None when NaN or infinite."""
    return round(value, digits) if math.isfinite(value) else None


def stats_json(stats: ErrorStats) -> dict[str, Any]:
    """JSON form of an `ErrorStats`."""
    return {
        "n": stats.n,
        "mae_volpts": finite_or_none(stats.mae_volpts),
        "vw_mae_volpts": finite_or_none(stats.vw_mae_volpts),
        "bias_volpts": finite_or_none(stats.bias_volpts),
    }


def snapshot_summary(file: str, result: ChainCalibration) -> dict[str, Any]:
    """The `calibrate_snapshot --json` object (exactly the keys of issue #13)."""
    fit = result.fit
    return {
        "file": file,
        "underlying": fit.underlying,
        "n_options": fit.n_options,
        "expiries": len(fit.expiries),
        "surface_vw_mae_volpts": finite_or_none(fit.surface.vw_mae_volpts),
        "surface_mae_volpts": finite_or_none(fit.surface.mae_volpts),
        "synthetic_vw_mae_volpts": finite_or_none(result.synthetic.raw.vw_mae_volpts),
        "recommended_iv_multiplier": finite_or_none(result.synthetic.recommended_multiplier),
        "fit_ms": round(fit.fit_ms, 2),
    }


def smile_points(result: ChainCalibration) -> dict[str, list[list[float]]]:
    """Per expiry, the fitted points as [k, mark IV %, fit IV %, synthetic IV %] (for charts)."""
    frame = result.synthetic.points
    frame = frame[frame["fit"].to_numpy()]
    out: dict[str, list[list[float]]] = {}
    for expiry, group in frame.groupby("expiry", sort=True):
        rows = np.column_stack(
            [
                group["k"].to_numpy(),
                100 * group["mark_iv"].to_numpy(),
                100 * group["fit_iv"].to_numpy(),
                100 * group["synthetic_iv"].to_numpy(),
            ]
        )
        rows = rows[np.argsort(rows[:, 0])]
        out[str(expiry)] = [
            [round(float(v), 5) if np.isfinite(v) else None for v in row]  # type: ignore[misc]
            for row in rows
        ]
    return out


def fit_json(result: ChainCalibration) -> dict[str, Any]:
    """The stored form of a calibration: per-expiry smiles, checks, metrics, multipliers."""
    fit = result.fit
    syn = result.synthetic
    return {
        "points": smile_points(result),
        "harvest_time": None if pd.isna(fit.harvest_time) else fit.harvest_time.isoformat(),
        "expiries": [
            {
                "expiry": e.expiry,
                "dte_days": round(e.dte_days, 3),
                "t_years": e.t_years,
                "forward": e.forward,
                "n_points": e.n_points,
                "svi": {
                    "a": e.params.a,
                    "b": e.params.b,
                    "rho": e.params.rho,
                    "m": e.params.m,
                    "sigma": e.params.sigma,
                },
                "atm_iv": finite_or_none(e.atm_iv, 5),
                "rr25_volpts": finite_or_none(e.rr25_volpts, 3),
                "butterfly_ok": e.butterfly_ok,
            }
            for e in fit.expiries
        ],
        "calendar_violations": [list(pair) for pair in fit.calendar_violations],
        "butterfly_violations": list(fit.butterfly_violations),
        "surface": stats_json(fit.surface),
        "surface_by_band": {k: stats_json(v) for k, v in fit.by_band.items()},
        "surface_by_bucket": {k: stats_json(v) for k, v in fit.by_bucket.items()},
        "synthetic": stats_json(syn.raw),
        "synthetic_by_band": {k: stats_json(v) for k, v in syn.by_band.items()},
        "synthetic_by_bucket": {k: stats_json(v) for k, v in syn.by_bucket.items()},
        "synthetic_adjusted": stats_json(syn.adjusted),
        "atm_iv_reference": syn.atm_iv_reference,
        "mark_coverage": round(result.mark_coverage, 4),
        "n_fitted": fit.n_fitted,
        "fit_ms": round(fit.fit_ms, 2),
    }

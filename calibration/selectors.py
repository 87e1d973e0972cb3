"""Reads of the calibration app for views, API, tasks and commands, and the hook through which the
simulator and synthetic backtests read the applied IV multipliers."""

from __future__ import annotations

from django.db import DatabaseError
from django.db.models import QuerySet

from calibration.domain.synthetic import multipliers_as_model_bands
from calibration.domain.universe_v2 import RegimeDynamics, params_v2, smile_from_fit
from calibration.models import (
    AppliedMultipliers,
    CalibrationRun,
    DataQualityReport,
    HarvestRun,
    PolicyDecision,
    RegimeFit,
)
from trading.domain.market_model import MarketModelParams


def applied_multipliers() -> dict[str, dict[str, float]]:
    """Multipliers in force per underlying ({} when none were ever applied, or no database)."""
    try:
        return {row.underlying: dict(row.multipliers) for row in AppliedMultipliers.objects.all()}
    except DatabaseError:
        return {}


def market_params_applied(base: MarketModelParams | None = None) -> MarketModelParams:
    """Market-model parameters with the applied IV multipliers per DTE band of each currency.

    The one way the simulator and synthetic backtests see calibration: the trading domain stays
    pure (it takes `iv_multiplier_by_dte` as a parameter) and knows nothing of the database.
    """
    params = base or MarketModelParams()
    applied = applied_multipliers()
    if not applied:
        return params
    currencies = {
        name: cp.model_copy(
            update={"iv_multiplier_by_dte": multipliers_as_model_bands(applied[name])}
        )
        if applied.get(name)
        else cp
        for name, cp in params.currencies.items()
    }
    return params.model_copy(update={"currencies": currencies})


def calibration_runs(underlying: str | None = None) -> QuerySet[CalibrationRun]:
    """calibration_history, newest first, optionally for one underlying."""
    runs = CalibrationRun.objects.select_related("quality_report")
    return runs.filter(underlying=underlying) if underlying else runs


def latest_runs() -> list[CalibrationRun]:
    """The newest calibration of each underlying."""
    seen: dict[str, CalibrationRun] = {}
    for run in CalibrationRun.objects.order_by("-created_at", "-id")[:200]:
        seen.setdefault(run.underlying, run)
    return [seen[name] for name in sorted(seen)]


def quality_reports() -> QuerySet[DataQualityReport]:
    """Data-quality reports, newest day first."""
    return DataQualityReport.objects.all()


def policy_decisions() -> QuerySet[PolicyDecision]:
    """Every decision of the update policy and every override, newest first."""
    return PolicyDecision.objects.select_related("calibration", "actor")


def harvest_runs() -> QuerySet[HarvestRun]:
    """Harvester passes, newest first."""
    return HarvestRun.objects.all()


def latest_regime_fits() -> list[RegimeFit]:
    """The newest regime fit of each underlying (synthetic universe v2)."""
    seen: dict[str, RegimeFit] = {}
    for fit in RegimeFit.objects.order_by("-created_at")[:50]:
        seen.setdefault(fit.underlying, fit)
    return [seen[name] for name in sorted(seen)]


def regime_dynamics() -> dict[str, RegimeDynamics]:
    """The newest fitted regimes of each underlying, ready for the v2 market model."""
    return {
        fit.underlying: RegimeDynamics.from_json(fit.regimes, fit.transition)
        for fit in latest_regime_fits()
    }


def market_params_v2(base: MarketModelParams | None = None) -> MarketModelParams:
    """v2 market parameters: applied multipliers plus each currency's smile from its latest fit."""
    params = market_params_applied(base)
    smiles = {run.underlying: smile_from_fit(run.fit) for run in latest_runs()}
    return params_v2(params, smiles)

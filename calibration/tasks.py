"""Celery tasks of the calibration app: thin, explicitly named, on the research queue."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="calibration.harvest", queue="research", acks_late=True, ignore_result=False)
def harvest() -> int:
    """One harvester pass over CALIBRATION_UNDERLYINGS; returns the HarvestRun id."""
    from calibration.services import harvest_run

    return harvest_run(trigger="beat").pk


@shared_task(
    name="calibration.auto_calibrate", queue="research", acks_late=True, ignore_result=False
)
def auto_calibrate(source: str = "harvested") -> list[int]:
    """Daily auto-calibration: calibration history rows only (applied multipliers untouched)."""
    from calibration.services import auto_calibrate as run

    return [r.pk for r in run(source=source, trigger="beat")]


@shared_task(name="calibration.fit_regimes", queue="research", acks_late=True, ignore_result=False)
def fit_regimes(underlying: str, seed: int = 0) -> int:
    """Fit the synthetic universe v2 regimes of an underlying; returns the RegimeFit id."""
    from calibration.services import regimes_fit

    return regimes_fit(underlying=underlying, seed=seed).pk

"""Market-environment studies of the research lab (issue 15): create, run, store.

Two kinds of `SelectorStudy`, each one task (`backtests.lab_study`) on the research queue with
progress:

* `environment`: the environment heatmap (`backtests.domain.environment`) over one source.
* `source_compare`: the same policy on real snapshots and on the synthetic source over the
  snapshots' calendar window (`backtests.domain.source_compare`), with a verdict.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from django.db import transaction

from backtests.domain.environment import (
    ENV_METRICS,
    HISTORY_METRICS,
    EnvironmentSamples,
    ReferenceCall,
    check_edges,
    environment_heatmap,
    environment_samples,
    history_samples,
    read_iv_rv_history,
)
from backtests.domain.simulator import CoveredCallSimulator
from backtests.domain.source_compare import Tolerance, compare_policy
from backtests.domain.sources.spec import SourceSpec
from backtests.domain.types import BacktestConfig
from backtests.models import SelectorStudy
from backtests.quota import research_quota_check
from backtests.research_services import study_execute, study_record
from backtests.services import simulator_for
from optionsdesk.celery import RESEARCH_QUEUE

Kind = SelectorStudy.Kind
LAB_KINDS: tuple[str, ...] = (Kind.ENVIRONMENT, Kind.SOURCE_COMPARE)
#: Default bins of each metric (the tab's form starts from these).
DEFAULT_EDGES: dict[str, list[float]] = {
    "ivrv": [0.6, 0.8, 0.9, 1.0, 1.1, 1.2, 1.4, 1.8],
    "atm_iv": [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0],
    "skew_25d": [-0.08, -0.04, -0.02, -0.01, 0.0, 0.01, 0.02, 0.04, 0.08],
    "return_1d": [-0.1, -0.04, -0.02, -0.01, 0.0, 0.01, 0.02, 0.04, 0.1],
    "return_7d": [-0.3, -0.1, -0.05, -0.02, 0.0, 0.02, 0.05, 0.1, 0.3],
    "rv": [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0],
    "iv_change_7d": [-0.2, -0.1, -0.05, -0.02, 0.0, 0.02, 0.05, 0.1, 0.2],
}
#: What an environment heatmap samples: option chains of the source (with the reference
#: call's outcome), or the harvest's IV/RV history alone (real, six months, occupancy only).
ENV_DATA: tuple[str, ...] = ("chains", "volatility_history")


def _number(params: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    try:
        value = float(params.get(name, default))
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number") from None
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low:g} and {high:g}")
    return value


def lab_params_validate(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """Check what a lab study asks for (ValueError with a readable reason otherwise)."""
    if kind == Kind.SOURCE_COMPARE:
        tolerance = Tolerance(
            ks_max=_number(params, "ks_max", 0.25, 0.01, 1.0),
            alpha=_number(params, "alpha", 0.01, 1e-6, 0.5),
            min_samples=int(_number(params, "min_samples", 10, 2, 10_000)),
        )
        return tolerance.as_dict()
    data = params.get("data", "chains")
    if data not in ENV_DATA:
        raise ValueError(f"unknown data {data!r}; known: {list(ENV_DATA)}")
    known = list(ENV_METRICS) if data == "chains" else list(HISTORY_METRICS)
    x = params.get("x_metric", "ivrv")
    y = params.get("y_metric", "return_7d" if data == "chains" else "iv_change_7d")
    for name in (x, y):
        if name not in known:
            raise ValueError(f"unknown metric {name!r} for {data} data; known: {known}")
    if x == y:
        raise ValueError("x_metric and y_metric must differ")
    return {
        "data": data,
        "x_metric": x,
        "y_metric": y,
        "x_edges": check_edges(params.get("x_edges") or DEFAULT_EDGES[x], "x_edges"),
        "y_edges": check_edges(params.get("y_edges") or DEFAULT_EDGES[y], "y_edges"),
        "target_delta": _number(params, "target_delta", 0.25, 0.01, 0.99),
        "target_dte_days": _number(params, "target_dte_days", 7.0, 0.05, 90.0),
        "interval_hours": _number(params, "interval_hours", 1.0, 0.05, 24.0 * 7),
    }


def lab_study_create(
    *,
    kind: str,
    source: SourceSpec,
    config: BacktestConfig,
    params: dict[str, Any] | None = None,
    name: str = "",
    user: Any = None,
    enqueue: bool = True,
) -> SelectorStudy:
    """Record an environment heatmap or a synthetic-vs-live comparison and queue it."""
    research_quota_check(user=user)
    if kind not in LAB_KINDS:
        raise ValueError(f"not a lab study kind: {kind!r}")
    if kind == Kind.SOURCE_COMPARE and source.kind != "snapshots":
        source = source.model_copy(update={"kind": "snapshots"})
    checked = lab_params_validate(kind, params or {})
    label = f"{checked['x_metric']} x {checked['y_metric']}" if kind == Kind.ENVIRONMENT else "vs"
    data = "IV/RV history" if checked.get("data") == "volatility_history" else source.kind
    study = study_record(
        kind=kind,
        name=name or f"{Kind(kind).label}: {source.underlying} {data} {label}",
        source=source,
        config=config.model_copy(update={"underlying": source.underlying}),
        params=checked,
        user=user,
    )
    if enqueue:
        transaction.on_commit(lambda: lab_study_dispatch(study_id=study.pk))
    return study


def lab_study_dispatch(*, study_id: int) -> None:
    """Send the study's task to the research queue."""
    from backtests.tasks import lab_study

    lab_study.apply_async((study_id,), queue=RESEARCH_QUEUE)


class _Progress:
    """Writes a study's progress at most twice a second."""

    def __init__(self, study_id: int, low: float = 0.0, high: float = 1.0) -> None:
        self.study_id, self.low, self.high = study_id, low, high
        self._last = 0.0

    def __call__(self, fraction: float) -> None:
        now = time.monotonic()
        if now - self._last < 0.5:
            return
        self._last = now
        value = min(self.low + (self.high - self.low) * fraction, 0.99)
        SelectorStudy.objects.filter(pk=self.study_id).update(progress=value)


def lab_study_execute(*, study_id: int) -> SelectorStudy | None:
    """Run a lab study in this process and store its result (redo-safe: done studies stay)."""
    return study_execute(study_id=study_id, compute=_lab_result, what="lab", claim_progress=0.01)


def _lab_result(study: SelectorStudy) -> dict[str, Any]:
    """What an environment heatmap or a synthetic-vs-live comparison finds."""
    if study.kind == Kind.ENVIRONMENT:
        return environment_run(study)
    return source_compare_run(study)


def _history_run(study: SelectorStudy) -> tuple[EnvironmentSamples, dict[str, Any]]:
    from backtests.services import snapshots_root

    spec = SourceSpec.model_validate(study.source)
    path = snapshots_root() / "volatility_history"
    path = path / f"{spec.underlying.lower()}_volatility_history.parquet"
    start, end = spec.period()
    times, iv, rv = read_iv_rv_history(path, start, end)
    if len(times) == 0:
        raise ValueError(f"no {spec.underlying} IV/RV history in the period ({path.name})")
    samples = history_samples(times, iv, rv, interval_hours=study.params["interval_hours"])
    extra = {
        "underlying": spec.underlying,
        "reference": None,
        "provenance": {
            "source": "volatility_history",
            "description": f"hourly iv_30d / rv_30d of {path.name}; atm_iv is the 30-day IV",
            "start": datetime.fromtimestamp(float(times[0]), tz=UTC).isoformat(),
            "end": datetime.fromtimestamp(float(times[-1]), tz=UTC).isoformat(),
        },
    }
    return samples, extra


def _heatmap(samples: EnvironmentSamples, params: dict[str, Any]) -> dict[str, Any]:
    """The heatmap of `samples` on the study's two metrics and their bin edges."""
    return environment_heatmap(
        samples,
        x_metric=params["x_metric"],
        x_edges=params["x_edges"],
        y_metric=params["y_metric"],
        y_edges=params["y_edges"],
    )


def environment_run(study: SelectorStudy) -> dict[str, Any]:
    """The environment heatmap of a study's source and parameters."""
    p = study.params
    if p.get("data") == "volatility_history":
        samples, extra = _history_run(study)
        return _heatmap(samples, p) | extra | {"interval_hours": p["interval_hours"]}
    progress = _Progress(study.pk, 0.2, 0.95)
    simulator = simulator_for(spec=SourceSpec.model_validate(study.source))
    progress(0.0)
    reference = ReferenceCall(target_delta=p["target_delta"], target_dte_days=p["target_dte_days"])
    samples = environment_samples(
        simulator, interval_hours=p["interval_hours"], reference=reference, progress=progress
    )
    provenance = simulator.panel.provenance
    return _heatmap(samples, p) | {
        "underlying": simulator.panel.underlying,
        "reference": {
            "target_delta": reference.target_delta,
            "target_dte_days": reference.target_dte_days,
            "exit": "held to delivery; Deribit fees; outcome only when delivery is in the data",
            "fill": reference.config(simulator.panel.underlying).fill.describe(),
        },
        "interval_hours": p["interval_hours"],
        "provenance": provenance.model_dump(mode="json", exclude={"details"}),
    }


def compare_sources(spec: SourceSpec) -> tuple[SourceSpec, SourceSpec]:
    """(live, synthetic): the real snapshots of `spec`, and the synthetic source (seed of
    `spec`) over exactly the snapshots' calendar window."""
    live = spec.model_copy(update={"kind": "snapshots"})
    panel = simulator_for(spec=live).panel
    start = datetime.fromtimestamp(float(panel.times[0]), tz=UTC)
    end = datetime.fromtimestamp(float(panel.times[-1]), tz=UTC)
    synthetic = SourceSpec(
        kind="synthetic",
        underlying=spec.underlying,
        start=start,
        end=end,
        seed=spec.seed,
        max_dte_days=spec.max_dte_days,
    )
    return live, synthetic


def source_compare_run(study: SelectorStudy) -> dict[str, Any]:
    """The policy of a study on real snapshots and on the synthetic source, compared."""
    progress = _Progress(study.pk)
    live_spec, synthetic_spec = compare_sources(SourceSpec.model_validate(study.source))
    progress(0.4)
    config = BacktestConfig.model_validate(study.config)
    tolerance = Tolerance(**study.params) if study.params else Tolerance()
    live: CoveredCallSimulator = simulator_for(spec=live_spec)
    synthetic: CoveredCallSimulator = simulator_for(spec=synthetic_spec)
    progress(0.6)
    result = compare_policy(live, synthetic, config, tolerance)
    return result | {
        "underlying": live_spec.underlying,
        "window": {
            "start": synthetic_spec.start.isoformat() if synthetic_spec.start else None,
            "end": synthetic_spec.end.isoformat() if synthetic_spec.end else None,
        },
        "sources": {
            "live": live.panel.provenance.description,
            "synthetic": synthetic.panel.provenance.description,
        },
    }

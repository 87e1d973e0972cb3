"""Selector studies (issue 15): create, run (in process or as a Celery fan-out), store.

* A funnel, or a heatmap whose measure is the pass rate, is one task
  (`backtests.selector_study`): both are vectorised over the panel.
* A heatmap of a simulated measure (trades, Sharpe, net P&L) is a chord: one
  `backtests.selector_heatmap_row` task per row of cells, then `backtests.selector_heatmap_finish`
  assembles the rows. Every task runs on the research queue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from backtests.domain.arena import run_arena
from backtests.domain.research import (
    HEATMAP_MEASURES,
    HEATMAP_PARAMS,
    heatmap_cell_metrics,
    selector_funnel,
    selector_pass_rates,
)
from backtests.domain.sources.spec import SourceSpec
from backtests.domain.types import BacktestConfig
from backtests.models import SelectorStudy
from backtests.quota import research_quota_check
from backtests.services import simulator_for
from optionsdesk.celery import RESEARCH_QUEUE

logger = logging.getLogger(__name__)
MAX_HEATMAP_SIDE = 25
Status = SelectorStudy.Status


def heatmap_params_validate(params: dict[str, Any]) -> dict[str, Any]:
    """Check a heatmap request: two known, different parameters, 1-25 values each, a measure."""
    x, y = params.get("x_param"), params.get("y_param")
    for name in (x, y):
        if name not in HEATMAP_PARAMS:
            raise ValueError(f"unknown parameter {name!r}; known: {list(HEATMAP_PARAMS)}")
    if x == y:
        raise ValueError("x_param and y_param must differ")
    measure = params.get("measure", "pass_rate")
    if measure not in HEATMAP_MEASURES:
        raise ValueError(f"unknown measure {measure!r}; known: {list(HEATMAP_MEASURES)}")
    values = {}
    for axis in ("x_values", "y_values"):
        raw = params.get(axis) or []
        if not 1 <= len(raw) <= MAX_HEATMAP_SIDE:
            raise ValueError(f"{axis} needs 1 to {MAX_HEATMAP_SIDE} values")
        values[axis] = [float(v) for v in raw]
    return {"x_param": x, "y_param": y, "measure": measure, **values}


def study_record(
    *,
    kind: str,
    name: str,
    source: SourceSpec,
    config: BacktestConfig,
    params: dict[str, Any],
    user: Any,
) -> SelectorStudy:
    """Store a queued study of any kind (selector or lab) for `user` (anonymous: no owner)."""
    return SelectorStudy.objects.create(
        name=name,
        kind=kind,
        source=source.model_dump(mode="json"),
        config=config.model_dump(mode="json"),
        params=params,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )


def selector_study_create(
    *,
    kind: str,
    source: SourceSpec,
    config: BacktestConfig,
    params: dict[str, Any] | None = None,
    name: str = "",
    user: Any = None,
    enqueue: bool = True,
) -> SelectorStudy:
    """Record a study and send it to the research queue (after the transaction commits)."""
    research_quota_check(user=user)
    if kind not in SelectorStudy.Kind.values:
        raise ValueError(f"unknown study kind {kind!r}")
    checked = heatmap_params_validate(params or {}) if kind == SelectorStudy.Kind.HEATMAP else {}
    study = study_record(
        kind=kind,
        name=name or f"{kind} ({source.underlying} {source.kind})",
        source=source,
        config=config,
        params=checked,
        user=user,
    )
    if enqueue:
        transaction.on_commit(lambda: selector_study_dispatch(study_id=study.pk))
    return study


def _simulated(study: SelectorStudy) -> bool:
    return study.kind == SelectorStudy.Kind.HEATMAP and study.params["measure"] != "pass_rate"


def selector_study_dispatch(*, study_id: int) -> None:
    """Send the study's task(s): one task, or a chord of heatmap rows for simulated measures."""
    from celery import chord

    from backtests.tasks import selector_heatmap_finish, selector_heatmap_row, selector_study

    study = SelectorStudy.objects.get(pk=study_id)
    if study.kind in (SelectorStudy.Kind.ENVIRONMENT, SelectorStudy.Kind.SOURCE_COMPARE):
        from backtests.lab_services import lab_study_dispatch

        lab_study_dispatch(study_id=study_id)  # their own task (`backtests.lab_study`)
        return
    if not _simulated(study):
        selector_study.apply_async((study_id,), queue=RESEARCH_QUEUE)
        return
    rows = range(len(study.params["y_values"]))
    header = [selector_heatmap_row.si(study_id, i).set(queue=RESEARCH_QUEUE) for i in rows]
    chord(header)(selector_heatmap_finish.s(study_id).set(queue=RESEARCH_QUEUE))


def study_claim(study_id: int, *, progress: float | None = None) -> SelectorStudy | None:
    """Lock a study and mark it running, with `progress` when given; None when it is gone or
    already done (a redelivered task then does nothing)."""
    with transaction.atomic():
        study = SelectorStudy.objects.select_for_update().filter(pk=study_id).first()
        if study is None or study.is_done:
            return None
        study.status = Status.RUNNING
        fields = ["status"]
        if progress is not None:
            study.progress = progress
            fields.append("progress")
        study.save(update_fields=fields)
    return study


def study_finish(study_id: int, *, result: dict[str, Any] | None = None, error: str = "") -> None:
    """Store a study's end: succeeded with its result, or failed with the error."""
    SelectorStudy.objects.filter(pk=study_id).update(
        status=Status.FAILED if error else Status.SUCCEEDED,
        result=result or {},
        error=error,
        progress=1.0,
        finished_at=timezone.now(),
    )


def _study_progress(study_id: int) -> Callable[[int, int], None]:
    def bump(done: int, total: int) -> None:
        SelectorStudy.objects.filter(pk=study_id).update(progress=min(done / total, 0.99))

    return bump


def study_execute(
    *,
    study_id: int,
    compute: Callable[[SelectorStudy], dict[str, Any]],
    what: str,
    claim_progress: float | None = None,
) -> SelectorStudy | None:
    """Run a study of any kind in this process and store its result, or its failure (logged as
    `what` study): the task must not retry forever, and done studies stay (redo-safe)."""
    study = study_claim(study_id, progress=claim_progress)
    if study is None:
        return SelectorStudy.objects.filter(pk=study_id).first()
    try:
        result = compute(study)
    except Exception as exc:  # the study records the failure; the task must not retry forever
        logger.exception("%s study %s failed", what, study_id)
        study_finish(study_id, error=f"{type(exc).__name__}: {exc}")
    else:
        study_finish(study_id, result=result)
    return SelectorStudy.objects.filter(pk=study_id).first()


def selector_study_execute(*, study_id: int) -> SelectorStudy | None:
    """Run a funnel, an arena or a pass-rate heatmap in this process and store it."""
    return study_execute(study_id=study_id, compute=_selector_result, what="selector")


def _selector_result(study: SelectorStudy) -> dict[str, Any]:
    """What a funnel, an arena or a pass-rate heatmap finds on the study's source."""
    simulator = simulator_for(spec=SourceSpec.model_validate(study.source))
    config = BacktestConfig.model_validate(study.config)
    if study.kind == SelectorStudy.Kind.FUNNEL:
        n, steps = selector_funnel(simulator, config.strategy, config)
        result: dict[str, Any] = {
            "underlying": simulator.panel.underlying,
            "decision_times": n,
            "steps": [
                {
                    "name": s.name,
                    "alone": s.alone,
                    "cumulative": s.cumulative,
                    "alone_times": s.alone_times,
                    "cumulative_times": s.cumulative_times,
                }
                for s in steps
            ],
        }
    elif study.kind == SelectorStudy.Kind.ARENA:
        from backtests.arena_players import arena_entries

        entries, left_out = arena_entries(simulator)
        rows = run_arena(simulator, entries, progress=_study_progress(study.pk))
        result = {
            "underlying": simulator.panel.underlying,
            "block_days": 7,
            "resamples": 2000,
            "rows": [row.as_dict() for row in rows],
            "left_out": left_out,
        }
    else:
        p = study.params
        heatmap = selector_pass_rates(
            simulator, config, p["x_param"], p["x_values"], p["y_param"], p["y_values"]
        )
        result = heatmap.as_dict()
    return result


def heatmap_row_compute(*, study_id: int, row: int) -> list[float | None]:
    """One row of a simulated heatmap (a chord header task); bumps the study's progress."""
    study = SelectorStudy.objects.get(pk=study_id)
    if study.status == Status.QUEUED:
        SelectorStudy.objects.filter(pk=study_id, status=Status.QUEUED).update(
            status=Status.RUNNING
        )
    p = study.params
    simulator = simulator_for(spec=SourceSpec.model_validate(study.source))
    config = BacktestConfig.model_validate(study.config)
    y = p["y_values"][row]
    values = [
        heatmap_cell_metrics(simulator, config, p["x_param"], x, p["y_param"], y)[p["measure"]]
        for x in p["x_values"]
    ]
    with transaction.atomic():
        locked = SelectorStudy.objects.select_for_update().get(pk=study_id)
        locked.progress = min(locked.progress + 1.0 / len(p["y_values"]), 0.99)
        locked.save(update_fields=["progress"])
    return [None if v is None else float(v) for v in values]


def heatmap_finish(*, study_id: int, rows: list[list[float | None]]) -> SelectorStudy | None:
    """Chord callback: store the assembled heatmap."""
    study = SelectorStudy.objects.filter(pk=study_id).first()
    if study is None:
        return None
    p = study.params
    study_finish(
        study_id,
        result={
            "x_param": p["x_param"],
            "y_param": p["y_param"],
            "x_values": p["x_values"],
            "y_values": p["y_values"],
            "measure": p["measure"],
            "values": rows,
        },
    )
    return SelectorStudy.objects.filter(pk=study_id).first()

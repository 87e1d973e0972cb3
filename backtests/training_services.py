"""Training mode (issue 15): multi-profile collection runs and the fine-tuning corpus.

`training_run_create` records a run and sends `backtests.training_run` to the research queue;
`training_run_execute` runs every profile on one panel (`backtests.domain.profiles`), writes the
decision and candidate files with the existing exporters (a `profile` column added), builds the
chat corpus from the candidate rankings (`backtests.domain.corpus`) with its deterministic
train/validation split, and refuses to succeed unless every corpus line passes the schema check.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backtests.domain.corpus import (
    corpus_file_check,
    corpus_records,
    corpus_split,
    corpus_write,
)
from backtests.domain.profiles import profiles_resolve, training_collect
from backtests.domain.sources.spec import SourceSpec
from backtests.domain.training import export_frame
from backtests.domain.types import BacktestConfig
from backtests.quota import research_quota_check
from backtests.services import simulator_for
from backtests.training_models import TrainingRun
from optionsdesk.celery import RESEARCH_QUEUE

logger = logging.getLogger(__name__)
FORMATS = ("csv", "jsonl", "parquet")
#: The files a run writes, by kind (`TrainingRun.files` keys).
FILE_KINDS = ("decisions", "candidates", "corpus_train", "corpus_validation")
Status = TrainingRun.Status


def training_run_create(
    *,
    source: SourceSpec,
    config: BacktestConfig,
    profiles: list[str],
    fmt: str = "csv",
    validation_frac: float = 0.1,
    name: str = "",
    user: Any = None,
    enqueue: bool = True,
) -> TrainingRun:
    """Record a training run and send it to the research queue (after the commit)."""
    research_quota_check(user=user)
    chosen = [p.name for p in profiles_resolve(profiles)]
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; one of {list(FORMATS)}")
    if not 0.0 <= validation_frac < 1.0:
        raise ValueError("validation_frac must be in [0, 1)")
    run = TrainingRun.objects.create(
        name=name or f"training {', '.join(chosen)} ({source.underlying} {source.kind})",
        source=source.model_dump(mode="json"),
        config=config.model_dump(mode="json"),
        profiles=chosen,
        fmt=fmt,
        validation_frac=validation_frac,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    if enqueue:
        transaction.on_commit(lambda: training_run_dispatch(run_id=run.pk))
    return run


def training_run_dispatch(*, run_id: int) -> None:
    """Send the run's task to the research queue."""
    from backtests.tasks import training_run

    training_run.apply_async((run_id,), queue=RESEARCH_QUEUE)


def _claim(run_id: int) -> TrainingRun | None:
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.is_done:
            return None
        run.status = Status.RUNNING
        run.save(update_fields=["status"])
    return run


def corpus_build(
    *, candidates: pd.DataFrame, out_dir: Path, validation_frac: float = 0.1, top_n: int = 5
) -> dict[str, Any]:
    """Chat corpus of a candidate ranking, split and schema-checked; files and check results.

    Raises ValueError when a written line fails the schema check.
    """
    train, validation = corpus_split(
        corpus_records(candidates, top_n=top_n), validation_frac=validation_frac
    )
    files: dict[str, Any] = {}
    checks = {}
    for kind, records in (("corpus_train", train), ("corpus_validation", validation)):
        path = out_dir / f"{kind}.jsonl"
        rows = corpus_write(records, path)
        check = corpus_file_check(path)
        if check.errors:
            line, error = check.errors[0]
            raise ValueError(f"{path.name} line {line} fails the corpus schema: {error}")
        files[kind] = {"path": str(path), "rows": rows, "format": "jsonl"}
        checks[kind] = {"lines": check.lines, "errors": 0}
    return {"files": files, "checks": checks}


def read_candidates(path: Path) -> pd.DataFrame:
    """A candidate-ranking file written by the exporters (CSV, JSONL or Parquet)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix == ".jsonl":
        return pd.read_json(path, lines=True)
    raise ValueError(f"{path.name}: expected a .csv, .jsonl or .parquet candidate file")


def training_output_dir(run: TrainingRun) -> Path:
    """Where a run's files go (under VAR_DIR, owner-only like every export)."""
    return Path(settings.VAR_DIR) / "exports" / f"training_{run.pk}"


def _progress(run_id: int) -> Callable[[int, int], None]:
    def bump(done: int, total: int) -> None:
        # The last step (writing files and the corpus) finishes the bar.
        TrainingRun.objects.filter(pk=run_id).update(progress=0.9 * done / total)

    return bump


def _collect_and_write(run: TrainingRun, out_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    simulator = simulator_for(spec=SourceSpec.model_validate(run.source))
    base = BacktestConfig.model_validate(run.config)
    collection = training_collect(
        simulator, base, profiles_resolve(run.profiles), progress=_progress(run.pk)
    )
    files: dict[str, Any] = {}
    for kind, frame in (("decisions", collection.decisions), ("candidates", collection.candidates)):
        path = export_frame(frame, out_dir / f"{kind}.{run.fmt}", run.fmt)  # type: ignore[arg-type]
        files[kind] = {"path": str(path), "rows": len(frame), "format": run.fmt}
    corpus = corpus_build(
        candidates=collection.candidates, out_dir=out_dir, validation_frac=run.validation_frac
    )
    files.update(corpus["files"])
    result = {
        "underlying": simulator.panel.underlying,
        "decision_interval_hours": base.decision_interval_hours,
        "profiles": [asdict(s) for s in collection.summaries],
        "corpus_check": corpus["checks"],
    }
    return result, files


def training_run_execute(*, run_id: int, out_dir: Path | None = None) -> TrainingRun | None:
    """Run every profile, write the files and the corpus, store the outcome (redo-safe)."""
    run = _claim(run_id)
    if run is None:
        return TrainingRun.objects.filter(pk=run_id).first()
    try:
        result, files = _collect_and_write(run, out_dir or training_output_dir(run))
    except Exception as exc:  # the run records the failure; the task must not retry forever
        logger.exception("training run %s failed", run_id)
        TrainingRun.objects.filter(pk=run_id).update(
            status=Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            progress=1.0,
            finished_at=timezone.now(),
        )
    else:
        TrainingRun.objects.filter(pk=run_id).update(
            status=Status.SUCCEEDED,
            result=result,
            files=files,
            progress=1.0,
            finished_at=timezone.now(),
        )
    return TrainingRun.objects.filter(pk=run_id).first()


def training_file(run: TrainingRun, kind: str) -> Path:
    """The path of one of a finished run's files; LookupError when it has none of that kind."""
    entry = (run.files or {}).get(kind)
    if kind not in FILE_KINDS or not entry:
        raise LookupError(f"training run #{run.pk} has no {kind} file")
    path = Path(entry["path"])
    if not path.is_file():
        raise LookupError(f"the {kind} file of training run #{run.pk} is gone from disk")
    return path

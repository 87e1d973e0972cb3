"""Decision JSONL export: daily files under VAR_DIR/decisions, one writer at a time.

A decision's line is written only after its row is committed (the export reads committed rows
whose `exported_at` is empty), and an exclusive `flock` on a lock file makes every process
(worker, beat, `runagent`, the command) take turns, so lines are never interleaved or lost.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from trading.models import Decision

BATCH = 500


def export_dir() -> Path:
    """Where the daily decision files live."""
    path = Path(settings.VAR_DIR) / "decisions"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def export_path(day: str) -> Path:
    """The file of one UTC day (`decisions-YYYY-MM-DD.jsonl`)."""
    return export_dir() / f"decisions-{day}.jsonl"


@contextmanager
def _single_writer() -> Iterator[None]:
    with (export_dir() / ".export.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@dataclass
class ExportReport:
    """How many lines went to which files."""

    lines: int = 0
    files: set[Path] = field(default_factory=set)


def decisions_export() -> ExportReport:
    """Append every committed, not yet exported decision to its day's file (by market time)."""
    report = ExportReport()
    with _single_writer():
        while True:
            batch = list(
                Decision.objects.filter(exported_at=None)
                .exclude(log_line="")
                .order_by("id")[:BATCH]
            )
            if not batch:
                return report
            _write(batch, report)
            Decision.objects.filter(pk__in=[d.pk for d in batch]).update(exported_at=timezone.now())


def _write(batch: list[Decision], report: ExportReport) -> None:
    by_day: dict[str, list[str]] = {}
    for decision in batch:
        by_day.setdefault(f"{decision.market_time:%Y-%m-%d}", []).append(decision.log_line)
    for day, lines in by_day.items():
        path = export_path(day)
        with path.open("a", encoding="utf-8") as handle:
            handle.write("".join(line + "\n" for line in lines))
            handle.flush()
        path.chmod(0o600)  # decision files are the owner's only
        report.files.add(path)
        report.lines += len(lines)

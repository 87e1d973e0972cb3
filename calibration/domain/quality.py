"""Data quality of harvested chains: one report per day and underlying.

Checks: coverage of expiries and strikes, gaps in time between snapshots, stale snapshots (marks
identical to the previous one), crossed books, IV outliers (robust z within an expiry), rows
without a mark and duplicate instruments within one snapshot. The verdict is `bad` when the
share of rows without a mark, of crossed books or of duplicates is above its limit, or the day
has no usable snapshot; `warn` on gaps, stale snapshots or outliers; `ok` otherwise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True, slots=True)
class QualityLimits:
    """Limits of the verdict (shares of rows, minutes)."""

    max_missing_mark_share: float = 0.2
    max_crossed_share: float = 0.05
    max_duplicate_share: float = 0.01
    max_gap_minutes: float = 60.0
    outlier_robust_z: float = 8.0
    min_rows_per_snapshot: int = 100


@dataclass(frozen=True, slots=True)
class QualityReport:
    """Quality of one underlying's chains over a day (or any set of snapshots)."""

    underlying: str
    day: str
    snapshots: int
    rows: int
    expiries: int
    strikes_per_expiry_median: float
    max_gap_minutes: float
    stale_snapshots: int
    partial_snapshots: int
    crossed_books: int
    iv_outliers: int
    missing_marks: int
    duplicates: int
    verdict: str
    problems: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        out = asdict(self)
        out["problems"] = list(self.problems)
        return out


def _iv_outliers(chain: pd.DataFrame, z_limit: float) -> int:
    """Marks whose IV jumps away from their strike neighbours (mean of the two, robust z)."""
    frame = chain[["harvest_time", "expiry", "option_type", "strike", "mark_iv"]].dropna()
    frame = frame.sort_values(["harvest_time", "expiry", "option_type", "strike"])
    groups = frame.groupby(["harvest_time", "expiry", "option_type"], sort=False)["mark_iv"]
    local = (groups.shift(1) + groups.shift(-1)) / 2.0
    deviation = (frame["mark_iv"] - local).abs()
    scale = deviation.groupby([frame["harvest_time"], frame["expiry"]]).transform("median")
    limit = np.maximum(z_limit * 1.4826 * scale.to_numpy(), 10.0)
    return int(np.sum(deviation.to_numpy() > limit))


def quality_report(
    chain: pd.DataFrame, *, underlying: str, day: str, limits: QualityLimits | None = None
) -> QualityReport:
    """Assess stacked normalised chains (many snapshots, told apart by `harvest_time`)."""
    lim = limits or QualityLimits()
    rows = len(chain)
    if rows == 0:
        return QualityReport(
            underlying, day, 0, 0, 0, 0.0, 0.0, 0, 0, 0, 0, 0, 0, "bad", ("no rows",)
        )
    times = chain["harvest_time"]
    per_snapshot = chain.groupby(times, sort=True)
    stamps = np.sort(times.unique().to_numpy(dtype="datetime64[us]"))
    gaps = np.diff(stamps).astype("timedelta64[s]").astype(np.float64) / 60.0
    sizes = per_snapshot.size().to_numpy()
    mark = chain["mark_price"].to_numpy(dtype=np.float64)
    missing = int(np.sum(~np.isfinite(mark) | (mark <= 0)))
    bid = chain["best_bid_price"].to_numpy(dtype=np.float64)
    ask = chain["best_ask_price"].to_numpy(dtype=np.float64)
    crossed = int(np.sum(np.isfinite(bid) & np.isfinite(ask) & (bid > ask) & (ask > 0)))
    duplicates = int(chain.duplicated(subset=["harvest_time", "instrument_name"]).sum())
    stale = 0
    previous: pd.Series | None = None
    for _, snap in per_snapshot:
        marks = snap.set_index("instrument_name")["mark_price"]
        if previous is not None and len(marks) > 10 and marks.equals(previous):
            stale += 1
        previous = marks
    strikes = chain.groupby("expiry")["strike"].nunique()
    outliers = _iv_outliers(chain, lim.outlier_robust_z)
    max_gap = float(gaps.max()) if gaps.size else 0.0
    partial = int(np.sum(sizes < lim.min_rows_per_snapshot))
    problems: list[str] = []
    bad = False
    if missing > lim.max_missing_mark_share * rows:
        problems.append(f"{missing} of {rows} rows have no mark")
        bad = True
    if crossed > lim.max_crossed_share * rows:
        problems.append(f"{crossed} crossed books")
        bad = True
    if duplicates > lim.max_duplicate_share * rows:
        problems.append(f"{duplicates} duplicate instruments")
        bad = True
    if partial == len(sizes):
        problems.append("every snapshot is partial")
        bad = True
    warn = [
        (max_gap > lim.max_gap_minutes, f"gap of {max_gap:.0f} min between snapshots"),
        (stale > 0, f"{stale} stale snapshots"),
        (outliers > 0, f"{outliers} IV outliers"),
        (0 < partial < len(sizes), f"{partial} partial snapshots"),
    ]
    problems += [text for flagged, text in warn if flagged]
    verdict = "bad" if bad else ("warn" if problems else "ok")
    return QualityReport(
        underlying=underlying,
        day=day,
        snapshots=len(sizes),
        rows=rows,
        expiries=int(chain["expiry"].nunique()),
        strikes_per_expiry_median=float(strikes.median()),
        max_gap_minutes=round(max_gap, 2),
        stale_snapshots=stale,
        partial_snapshots=partial,
        crossed_books=crossed,
        iv_outliers=outliers,
        missing_marks=missing,
        duplicates=duplicates,
        verdict=verdict,
        problems=tuple(problems),
    )

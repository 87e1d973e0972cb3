"""Harvested Parquet snapshots (`snapshots/<CCY>/<YYYY-MM-DD>/<CCY>_<date>_<HHMM>.parquet`).

Files are normalised by `trading.domain.chain.normalize_chain` (both harvest schema
versions). Partial harvests (fewer than `min_rows` rows) are skipped: a snapshot holding only a
few far expiries would otherwise stand in a far forward for the index. Realised vol comes from the
harvest's `volatility_history/<ccy>_volatility_history.parquet` (`rv_30d`, percent) when
present, taken as of each snapshot time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from backtests.domain.panel import ChainPanel, panel_from_chains
from backtests.domain.sources.base import clip_provenance
from backtests.domain.types import DataProvenance, FloatArray
from trading.domain.chain import CHAIN_COLUMNS, SnapshotReadError, normalize_chain

_FILE_PATTERN = re.compile(
    r"^(?P<ccy>[A-Z]+)_(?P<date>\d{4}-\d{2}-\d{2})_(?P<hhmm>\d{4})\.parquet$"
)


@dataclass(frozen=True, slots=True)
class SnapshotFile:
    """One harvested file and the time its name states (UTC, minute precision)."""

    path: Path
    time: datetime


def list_snapshot_files(
    root: Path, underlying: str, start: datetime | None = None, end: datetime | None = None
) -> list[SnapshotFile]:
    """Snapshot files of one underlying, sorted by time, within [start, end] by file name."""
    files: list[SnapshotFile] = []
    # Both layouts: <CCY>/<date>/ (reference data) and underlying=<CCY>/date=<date>/ (harvester).
    paths = [
        *(root / underlying).glob("*/*.parquet"),
        *(root / f"underlying={underlying}").glob("date=*/*.parquet"),
    ]
    for path in sorted(paths, key=lambda p: p.name):
        match = _FILE_PATTERN.match(path.name)
        if match is None or match["ccy"] != underlying:
            continue
        stamp = datetime.strptime(f"{match['date']} {match['hhmm']}", "%Y-%m-%d %H%M").replace(
            tzinfo=UTC
        )
        # The name is the minute the harvest started; rows carry the exact harvest_time.
        if start is not None and stamp < start.replace(second=0, microsecond=0):
            continue
        if end is not None and stamp > end:
            continue
        files.append(SnapshotFile(path=path, time=stamp))
    return files


def read_snapshots(
    files: list[SnapshotFile], *, min_rows: int
) -> tuple[pd.DataFrame, int, list[str]]:
    """Read and normalise many snapshot files: (stacked chain, files used, files skipped).

    Files are grouped by schema version and each group goes through `normalize_chain` once,
    which is what `read_snapshot` does per file, at a fraction of the cost.
    """
    groups: dict[tuple[str, ...], list[pd.DataFrame]] = {}
    skipped: list[str] = []
    for item in files:
        try:
            frame = pq.read_table(item.path).to_pandas()
        except (OSError, pa.ArrowException) as exc:
            raise SnapshotReadError(f"cannot read {item.path}: {exc}") from None
        if len(frame) < min_rows:
            skipped.append(item.path.name)
            continue
        groups.setdefault(tuple(sorted(frame.columns)), []).append(frame)
    chains = [normalize_chain(pd.concat(group, ignore_index=True)) for group in groups.values()]
    used = sum(len(group) for group in groups.values())
    if not chains:
        return pd.DataFrame(columns=list(CHAIN_COLUMNS)), 0, skipped
    return pd.concat(chains, ignore_index=True), used, skipped


def read_rv_history(path: Path) -> pd.Series:
    """`rv_30d` (percent) of a volatility-history file as decimal RV indexed by UTC time."""
    frame = pd.read_parquet(path, columns=["timestamp", "rv_30d"])
    index = pd.to_datetime(frame["timestamp"], utc=True)
    return pd.Series(frame["rv_30d"].to_numpy(dtype=np.float64) / 100.0, index=index).dropna()


class ParquetSnapshotSource:
    """Real chains from a harvest directory (for tests, benchmarks and honest backtests)."""

    name = "parquet_snapshots"

    def __init__(
        self,
        snapshots_dir: Path,
        *,
        volatility_dir: Path | None = None,
        min_rows: int = 100,
    ) -> None:
        self.snapshots_dir = Path(snapshots_dir)
        self.volatility_dir = None if volatility_dir is None else Path(volatility_dir)
        self.min_rows = min_rows

    def load_panel(
        self, *, underlying: str, start: datetime | None = None, end: datetime | None = None
    ) -> ChainPanel:
        """Read every snapshot file of the period into one panel."""
        files = list_snapshot_files(self.snapshots_dir, underlying, start, end)
        if not files:
            raise ValueError(f"no {underlying} snapshots under {self.snapshots_dir}")
        stacked, used, skipped = read_snapshots(files, min_rows=self.min_rows)
        if used == 0:
            raise ValueError(f"every {underlying} snapshot has fewer than {self.min_rows} rows")
        rv, rv_note = self._rv(underlying)
        provenance = DataProvenance(
            source=self.name,
            underlying=underlying,
            description=f"harvested Deribit mainnet chains from {self.snapshots_dir}; {rv_note}",
            details={
                "files": used,
                "skipped_partial_files": skipped,
                "min_rows": self.min_rows,
                "rv_source": rv_note,
            },
        )
        panel = panel_from_chains(
            stacked, underlying=underlying, provenance=provenance, rv_by_time=rv
        )
        gaps = settlement_gaps_hours(panel.times, panel.expiry_ts)
        final = clip_provenance(panel.provenance, panel.times, rows=panel.n_rows)
        details = final.details | {"settlement_gaps_hours": gaps}
        return _with_provenance(panel, final.model_copy(update={"details": details}))

    def _rv(self, underlying: str) -> tuple[pd.Series | None, str]:
        if self.volatility_dir is None:
            return None, "no realised-vol history (IV/RV filters see NaN)"
        path = self.volatility_dir / f"{underlying.lower()}_volatility_history.parquet"
        if not path.exists():
            return None, f"no realised-vol history at {path.name}"
        return read_rv_history(path), f"RV = rv_30d of {path.name}, as of each snapshot"


def settlement_gaps_hours(times: FloatArray, expiry_ts: FloatArray) -> dict[str, float]:
    """For expiries inside the data, hours between the snapshots around 08:00 when over 1 h.

    A wide gap means the delivery price was interpolated across missing data; reports say so.
    """
    gaps: dict[str, float] = {}
    for expiry in np.unique(expiry_ts):
        if not times[0] <= expiry <= times[-1]:
            continue
        after = int(np.searchsorted(times, expiry, side="left"))
        before = max(after - 1, 0)
        width = (times[min(after, len(times) - 1)] - times[before]) / 3600.0
        if width > 1.0:
            label = datetime.fromtimestamp(float(expiry), tz=UTC).strftime("%Y-%m-%d")
            gaps[label] = round(float(width), 2)
    return gaps


def _with_provenance(panel: ChainPanel, provenance: DataProvenance) -> ChainPanel:
    from dataclasses import replace

    return replace(panel, provenance=provenance)

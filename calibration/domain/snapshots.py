"""Reading and writing harvested chain snapshots (both schema versions, both directory layouts).

Layouts: the shared reference data `<CCY>/<YYYY-MM-DD>/<CCY>_<date>_<HHMM>.parquet` and the
harvester's partitioned `underlying=<CCY>/date=<YYYY-MM-DD>/<CCY>_<date>_<HHMM>.parquet` (the same
file name, so `backtests`' snapshot source reads both). Files written by the harvester carry a
`schema_version` column; the reference files have none (version 1 lacks strike/expiry/type, version
2 has them; `normalize_chain` accepts both).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from trading.domain.chain import ChainSchemaError, SnapshotReadError, normalize_chain

#: Version written by the harvester (2 = the newer reference schema plus this column).
HARVEST_SCHEMA_VERSION = 3
FILE_PATTERN = re.compile(r"^(?P<ccy>[A-Z]+)_(?P<date>\d{4}-\d{2}-\d{2})_(?P<hhmm>\d{4})\.parquet$")


class SnapshotError(ValueError):
    """A snapshot file is missing, unreadable, of the wrong schema or empty; names what."""


@dataclass(frozen=True, slots=True)
class LoadedSnapshot:
    """A normalised chain with where it came from."""

    path: Path
    chain: pd.DataFrame
    schema_version: int
    content_sha256: str


def schema_version_of(columns: Iterable[str]) -> int:
    """1: name-only reference files; 2: with strike/expiry/type; 3: harvester (version column)."""
    names = set(columns)
    if "schema_version" in names:
        return HARVEST_SCHEMA_VERSION
    return 2 if {"strike", "expiry", "option_type"} <= names else 1


def snapshot_load(path: Path) -> LoadedSnapshot:
    """Read one snapshot file, normalised; `SnapshotError` says what is wrong with it."""
    if not path.exists():
        raise SnapshotError(f"{path}: no such file")
    if not path.is_file():
        raise SnapshotError(f"{path}: not a file")
    data = path.read_bytes()
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (OSError, pa.ArrowException) as exc:
        raise SnapshotError(f"{path}: not a Parquet file ({exc})") from None
    frame = table.to_pandas()
    if frame.empty:
        raise SnapshotError(f"{path}: no rows")
    try:
        chain = normalize_chain(frame)
    except (ChainSchemaError, SnapshotReadError) as exc:
        raise SnapshotError(f"{path}: {exc}") from None
    return LoadedSnapshot(
        path=path,
        chain=chain,
        schema_version=schema_version_of(frame.columns),
        content_sha256=hashlib.sha256(data).hexdigest(),
    )


@dataclass(frozen=True, slots=True)
class SnapshotRef:
    """A snapshot file found under a harvest root, with the time and day its name states."""

    path: Path
    underlying: str
    time: datetime

    @property
    def day(self) -> str:
        """YYYY-MM-DD of the snapshot."""
        return f"{self.time:%Y-%m-%d}"


def snapshots_list(root: Path, underlying: str) -> list[SnapshotRef]:
    """Snapshot files of an underlying under `root` in either layout, sorted by time."""
    candidates = [
        *root.glob(f"{underlying}/*/*.parquet"),
        *root.glob(f"underlying={underlying}/date=*/*.parquet"),
    ]
    found: list[SnapshotRef] = []
    for path in candidates:
        match = FILE_PATTERN.match(path.name)
        if match is None or match["ccy"] != underlying:
            continue
        stamp = datetime.strptime(f"{match['date']} {match['hhmm']}", "%Y-%m-%d %H%M")
        found.append(SnapshotRef(path=path, underlying=underlying, time=stamp.replace(tzinfo=UTC)))
    return sorted(found, key=lambda ref: (ref.time, str(ref.path)))


def snapshot_path(root: Path, underlying: str, moment: datetime) -> Path:
    """Where the harvester puts the snapshot of `underlying` taken at `moment` (UTC)."""
    day = f"{moment:%Y-%m-%d}"
    return (
        root
        / f"underlying={underlying}"
        / f"date={day}"
        / f"{underlying}_{day}_{moment:%H%M}.parquet"
    )


def snapshot_write_atomic(chain: pd.DataFrame, target: Path) -> None:
    """Write Parquet to a temp file in the target folder, fsync, then `os.replace` it.

    Why: a harvest killed mid-write leaves at most a hidden temp file, never a partial snapshot.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.*.tmp"):  # left by a killed writer
        stale.unlink(missing_ok=True)
    handle, temp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    try:
        with os.fdopen(handle, "wb") as stream:
            pq.write_table(pa.Table.from_pandas(chain, preserve_index=False), stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise

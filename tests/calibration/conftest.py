"""Fixtures of the calibration tests: real snapshot files from ../shared/data/deribit."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def snapshots_root(shared_dir: Path) -> Path:
    """The shared harvested snapshots (`<CCY>/<date>/<CCY>_<date>_<HHMM>.parquet`)."""
    return shared_dir / "data" / "deribit" / "snapshots"


def full_snapshot_files(root: Path, every: int = 12) -> list[Path]:
    """Every `every`-th full snapshot (>= 300 rows) of both underlyings, both schema versions."""
    import pyarrow.parquet as pq

    files = sorted(root.glob("*/*/*.parquet"))
    full = [f for f in files if pq.read_metadata(f).num_rows >= 300]
    return full[::every]

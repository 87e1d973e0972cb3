"""Writes and orchestration of the calibration app (<entity>_<verb>, keyword-only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from calibration.domain.calibrate import chain_calibrate, snapshot_summary
from calibration.domain.snapshots import SnapshotError, snapshot_load
from calibration.domain.surface import surface_warm_up
from trading.domain.market_model import MarketModelParams


def snapshot_file_calibrate(*, path: Path) -> dict[str, Any]:
    """Calibrate one snapshot file against the default market model (no database writes)."""
    loaded = snapshot_load(path)
    surface_warm_up()
    underlying = str(loaded.chain["underlying"].iloc[0])
    params = MarketModelParams().currencies.get(underlying)
    if params is None:
        raise SnapshotError(f"{path}: the market model has no parameters for {underlying}")
    return snapshot_summary(str(path), chain_calibrate(loaded.chain, params))

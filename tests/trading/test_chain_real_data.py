"""Our IVs reproduce Deribit's mark_iv on the real harvested snapshots (issue 3 target)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trading.domain.chain import (
    CHAIN_COLUMNS,
    MIN_MARK_PRICE_COIN,
    enrich_chain,
    otm_mask,
    read_snapshot,
)

SAMPLE_EVERY = 10


@pytest.fixture(scope="module")
def snapshot_files(shared_dir: Path) -> list[Path]:
    files = sorted((shared_dir / "data" / "deribit" / "snapshots").glob("*/*/*.parquet"))
    if not files:
        pytest.skip("no snapshots under shared/data/deribit/snapshots")
    return files


def _abs_diffs_vol_pts(files: list[Path]) -> np.ndarray:
    diffs = []
    for path in files:
        enriched = enrich_chain(read_snapshot(path))
        selected = otm_mask(enriched) & (enriched["mark_price"] >= MIN_MARK_PRICE_COIN).to_numpy()
        selected &= np.isfinite(enriched["mark_iv"].to_numpy())
        iv_pct = 100 * enriched["iv"].to_numpy()[selected]
        diffs.append(np.abs(iv_pct - enriched["mark_iv"].to_numpy()[selected]))
    return np.concatenate(diffs)


@pytest.mark.parametrize("currency", ["BTC", "ETH"])
def test_iv_matches_deribit_mark_iv_on_real_snapshots(
    snapshot_files: list[Path], currency: str
) -> None:
    files = [p for p in snapshot_files if p.parent.parent.name == currency][::SAMPLE_EVERY]
    diffs = _abs_diffs_vol_pts(files)
    assert diffs.size > 1_000
    assert not np.isnan(diffs).any(), "an OTM option priced >= 0.001 coin had no IV"
    assert np.median(diffs) <= 0.03
    assert np.percentile(diffs, 95) <= 0.15


def test_both_schema_versions_normalise_to_one_shape(snapshot_files: list[Path]) -> None:
    old = [p for p in snapshot_files if "2025-12-07_2032" in p.name]
    new = snapshot_files[-1:]
    if not old:
        pytest.skip("the old-schema snapshot BTC_2025-12-07_2032 is not present")
    for path in old + new:
        chain = read_snapshot(path)
        assert tuple(chain.columns) == CHAIN_COLUMNS
        assert chain["strike"].gt(0).all()
        assert chain["option_type"].isin(["C", "P"]).all()
        assert (chain["expiry_timestamp"] % 86400 == 8 * 3600).all()

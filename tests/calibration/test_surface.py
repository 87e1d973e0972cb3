"""Surface fitting: accuracy on the real snapshots, arbitrage checks, speed-independent shape."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calibration.domain.snapshots import snapshot_load
from calibration.domain.surface import butterfly_check, calendar_violations, surface_fit
from calibration.domain.svi import fit_svi_batch, svi_total_variance
from tests.calibration.conftest import full_snapshot_files


def test_it_fits_every_sampled_real_snapshot_within_a_quarter_vol_point(snapshots_root: Path):
    files = full_snapshot_files(snapshots_root, every=10)
    assert len(files) >= 40
    versions = set()
    for path in files:
        loaded = snapshot_load(path)
        versions.add(loaded.schema_version)
        fit = surface_fit(loaded.chain)
        assert len(fit.expiries) >= 8, path.name
        assert fit.surface.n >= 100, path.name
        assert fit.surface.vw_mae_volpts <= 0.25, (path.name, fit.surface)
    assert versions == {1, 2}


def test_it_reads_the_old_schema_by_parsing_names(snapshots_root: Path):
    loaded = snapshot_load(snapshots_root / "BTC" / "2025-12-07" / "BTC_2025-12-07_2032.parquet")
    assert loaded.schema_version == 1
    row = loaded.chain.iloc[0]
    assert row["strike"] > 0
    assert row["option_type"] in ("C", "P")
    assert len(row["expiry"]) == 10


def _smile_chain(params_by_expiry: dict[str, tuple[float, list[float]]]) -> pd.DataFrame:
    """A synthetic chain whose mark IVs lie exactly on given SVI smiles."""
    harvest = pd.Timestamp("2025-12-10 08:00", tz="UTC")
    rows = []
    for expiry, (t_years, p) in params_by_expiry.items():
        forward = 100_000.0
        for k in np.linspace(-0.5, 0.5, 41) * np.sqrt(t_years):
            w = float(svi_total_variance(np.array(p)[None], np.array([k]))[0, 0])
            iv = np.sqrt(w / t_years)
            strike = forward * np.exp(k)
            rows.append(
                {
                    "harvest_time": harvest,
                    "instrument_name": f"BTC-X-{int(strike)}-{'C' if k >= 0 else 'P'}",
                    "underlying": "BTC",
                    "expiry": expiry,
                    "expiry_timestamp": harvest.timestamp() + t_years * 365 * 86400,
                    "option_type": "C" if k >= 0 else "P",
                    "strike": strike,
                    "underlying_price": forward,
                    "mark_price": 0.01,
                    "best_bid_price": np.nan,
                    "best_ask_price": np.nan,
                    "mark_iv": 100 * iv,
                    "open_interest": 10.0,
                    "volume": 1.0,
                }
            )
    return pd.DataFrame(rows)


def test_it_recovers_a_known_smile_and_finds_no_arbitrage():
    chain = _smile_chain(
        {
            "2026-01-09": (30 / 365, [0.010, 0.05, -0.3, 0.01, 0.08]),
            "2026-03-10": (90 / 365, [0.030, 0.08, -0.25, 0.02, 0.12]),
        }
    )
    fit = surface_fit(chain)
    assert fit.surface.vw_mae_volpts < 0.01
    assert fit.arbitrage_free


def test_it_catches_a_planted_butterfly_arbitrage():
    # Gatheral & Jacquier (2014), section 5: raw SVI with a negative density.
    planted = np.array([-0.0410, 0.1331, 0.3060, 0.3586, 0.4153])
    ok, min_g = butterfly_check(planted, 1.0)
    assert not ok
    assert min_g < 0
    sane = np.array([0.04, 0.1, -0.3, 0.0, 0.2])
    assert butterfly_check(sane, 1.0)[0]


def test_it_catches_a_planted_calendar_arbitrage():
    near = np.array([0.02, 0.05, -0.3, 0.0, 0.1])
    far_lower = np.array([0.01, 0.05, -0.3, 0.0, 0.1])
    far_higher = np.array([0.03, 0.06, -0.3, 0.0, 0.1])
    assert calendar_violations([("near", 0.1, near), ("far", 0.3, far_lower)]) == [("near", "far")]
    assert calendar_violations([("near", 0.1, near), ("far", 0.3, far_higher)]) == []


def test_it_catches_calendar_arbitrage_planted_in_a_chain():
    chain = _smile_chain(
        {
            "2026-01-09": (30 / 365, [0.020, 0.05, -0.3, 0.0, 0.08]),
            "2026-03-10": (90 / 365, [0.005, 0.05, -0.3, 0.0, 0.08]),
        }
    )
    fit = surface_fit(chain)
    assert fit.calendar_violations == (("2026-01-09", "2026-03-10"),)
    assert not fit.arbitrage_free


@settings(max_examples=30, deadline=None)
@given(
    a=st.floats(0.001, 0.05),
    b=st.floats(0.02, 0.3),
    rho=st.floats(-0.8, 0.5),
    m=st.floats(-0.05, 0.05),
    sigma=st.floats(0.05, 0.3),
)
def test_it_fits_exact_svi_smiles_to_tiny_error(a, b, rho, m, sigma):
    t = 0.25
    k = np.linspace(-0.6, 0.6, 31)[None]
    p = np.array([[a, b, rho, m, sigma]])
    w = svi_total_variance(p, k)
    iv = np.sqrt(w / t)
    scale = 1.0 / (2 * iv * t)
    fit = fit_svi_batch(k, w, scale, np.array([t]), max_iterations=200)
    fitted_iv = np.sqrt(np.maximum(svi_total_variance(fit.params, k), 0) / t)
    assert np.max(np.abs(fitted_iv - iv)) * 100 < 0.05


def test_it_reports_no_expiry_for_a_tiny_partial_file(snapshots_root: Path):
    loaded = snapshot_load(snapshots_root / "BTC" / "2025-12-07" / "BTC_2025-12-07_2034.parquet")
    fit = surface_fit(loaded.chain)
    assert fit.expiries == ()
    assert np.isnan(fit.surface.vw_mae_volpts)


@pytest.mark.parametrize("bad", ["missing.parquet", "notparquet.parquet"])
def test_it_names_what_is_wrong_with_a_bad_file(tmp_path: Path, bad: str):
    from calibration.domain.snapshots import SnapshotError

    path = tmp_path / bad
    if bad == "notparquet.parquet":
        path.write_text("hello")
    with pytest.raises(SnapshotError, match=r"no such file|not a Parquet"):
        snapshot_load(path)

"""Synthetic-vs-marks comparison, bad-day refusal and data quality on real snapshots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from calibration.domain.calibrate import chain_calibrate, snapshot_summary
from calibration.domain.quality import quality_report
from calibration.domain.snapshots import snapshot_load
from calibration.domain.synthetic import multipliers_as_model_bands, synthetic_iv
from trading.domain.market_model import default_currency_params

BTC_FILE = Path("BTC") / "2025-12-12" / "BTC_2025-12-12_1802.parquet"


def test_it_recommends_multipliers_that_reduce_the_synthetic_error(snapshots_root: Path):
    chain = snapshot_load(snapshots_root / BTC_FILE).chain
    result = chain_calibrate(chain, default_currency_params()["BTC"])
    syn = result.synthetic
    assert set(syn.multipliers_by_band) == {"0-7d", "7-30d", "30-90d", "90d+"}
    assert 0.5 < syn.recommended_multiplier < 2
    assert syn.adjusted.vw_mae_volpts < syn.raw.vw_mae_volpts
    assert result.verdict.ok, result.verdict.reasons
    summary = snapshot_summary("f.parquet", result)
    assert list(summary) == [
        "file",
        "underlying",
        "n_options",
        "expiries",
        "surface_vw_mae_volpts",
        "surface_mae_volpts",
        "synthetic_vw_mae_volpts",
        "recommended_iv_multiplier",
        "fit_ms",
    ]


def test_multipliers_fed_to_the_market_model_scale_its_smile(snapshots_root: Path):
    chain = snapshot_load(snapshots_root / BTC_FILE).chain
    result = chain_calibrate(chain, default_currency_params()["BTC"])
    bands = result.synthetic.multipliers_by_band
    params = default_currency_params()["BTC"].model_copy(
        update={"iv_multiplier_by_dte": multipliers_as_model_bands(bands)}
    )
    from trading.domain.market_model import smile_iv

    points = result.fit.points
    raw = synthetic_iv(points, default_currency_params()["BTC"])
    scaled = smile_iv(
        params.atm_iv_mean,
        params,
        points["strike"].to_numpy(),
        points["t_years"].to_numpy(),
        points["forward"].to_numpy(),
    )
    expected = synthetic_iv(points, params, multipliers_by_band=bands)
    np.testing.assert_allclose(scaled, expected, rtol=1e-12)
    assert not np.allclose(scaled, raw)


def test_guardrails_refuse_a_planted_bad_day_with_half_the_marks_zeroed(snapshots_root: Path):
    chain = snapshot_load(snapshots_root / BTC_FILE).chain
    bad = chain.copy()
    rows = np.arange(len(bad)) % 2 == 0
    bad.loc[rows, "mark_price"] = 0.0
    bad.loc[rows, "mark_iv"] = 0.0
    report = quality_report(bad, underlying="BTC", day="2025-12-12")
    assert report.verdict == "bad"
    assert "no mark" in report.problems[0]
    result = chain_calibrate(bad, default_currency_params()["BTC"], quality_ok=False)
    assert not result.verdict.ok
    assert any("coverage" in r for r in result.verdict.reasons)
    good = quality_report(chain, underlying="BTC", day="2025-12-12")
    assert good.verdict == "ok", good.problems


def test_quality_report_flags_duplicates_crossed_books_and_gaps(snapshots_root: Path):
    chain = snapshot_load(snapshots_root / BTC_FILE).chain
    later = chain.assign(harvest_time=chain["harvest_time"] + pd.Timedelta(hours=3))
    stacked = pd.concat([chain, later, chain.iloc[:50]], ignore_index=True)
    crossed = stacked.index[:60]
    stacked.loc[crossed, "best_bid_price"] = stacked.loc[crossed, "best_ask_price"] + 0.01
    report = quality_report(stacked, underlying="BTC", day="2025-12-12")
    assert report.duplicates == 50
    assert report.crossed_books == 60
    assert report.max_gap_minutes > 170
    assert report.snapshots == 2
    assert report.verdict == "bad"

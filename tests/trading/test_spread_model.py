"""The synthetic spread rule against the real December 2025 chains (issue 12).

Every two-sided call of ../shared/data/deribit is grouped by delta (0.05-0.5 in 0.1 steps, first
0.05-0.1) and days to expiry (0-1, 1-2, 2-4, 4-7, 7-14, 14-35); the rule `quote_bid_ask`,
applied to each real quote's mark, vega, moneyness and time left with the default parameters,
must give each bucket's median spread (vol points) within 40% of the real median, and the
seller's band (delta 0.1-0.4, 1-21 days) within 15%. The old defaults (1.5 + 8 / dte**0.7
vol points, 0.3 wing) were about three times too wide and fail both.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backtests.domain.sources.snapshots import list_snapshot_files, read_snapshots
from trading.domain.market_model import default_currency_params
from trading.domain.market_model.spreads import (
    SpreadObservations,
    bucket_label,
    bucket_medians,
    fit_spread_params,
    model_spread_vol_pts,
    spread_observations,
)

BUCKET_TOLERANCE = 0.40
BAND_TOLERANCE = 0.15
OLD_DEFAULTS = {
    "spread_base_vol_pts": 1.5,
    "spread_near_expiry_vol_pts": 8.0,
    "spread_near_expiry_power": 0.7,
    "spread_wing_per_z": 0.3,
    "spread_min_frac_of_price": 0.01,
}


@pytest.fixture(scope="module")
def observations(shared_dir: Path) -> dict[str, SpreadObservations]:
    root = shared_dir / "data" / "deribit" / "snapshots"
    out = {}
    for currency in ("BTC", "ETH"):
        files = list_snapshot_files(root, currency)
        if not files:
            pytest.skip("no snapshots under shared/data/deribit/snapshots")
        chain, _, _ = read_snapshots(files, min_rows=100)
        out[currency] = spread_observations(chain)
    return out


def _band_medians(obs: SpreadObservations, model: np.ndarray) -> tuple[float, float]:
    band = (obs.delta >= 0.1) & (obs.delta <= 0.4) & (obs.dte_days >= 1) & (obs.dte_days <= 21)
    return float(np.median(obs.spread_vol_pts[band])), float(np.median(model[band]))


def _worst_bucket_ratio(obs: SpreadObservations, model: np.ndarray) -> tuple[float, str]:
    real = bucket_medians(obs, obs.spread_vol_pts)
    fitted = bucket_medians(obs, model, min_count=1)
    worst, label = 1.0, ""
    for key, (median, count) in real.items():
        ratio = fitted[key][0] / median
        print(f"{bucket_label(key)}: n={count} real {median:.2f} model {fitted[key][0]:.2f}")
        if abs(np.log(ratio)) > abs(np.log(worst)):
            worst, label = ratio, bucket_label(key)
    return worst, label


@pytest.mark.parametrize("currency", ["BTC", "ETH"])
def test_model_spreads_match_the_real_median_per_delta_and_dte_bucket(
    observations, currency
) -> None:
    obs = observations[currency]
    model = model_spread_vol_pts(obs, default_currency_params()[currency])

    worst, label = _worst_bucket_ratio(obs, model)
    real_band, model_band = _band_medians(obs, model)

    assert len(obs) > 30_000
    assert 1 - BUCKET_TOLERANCE < worst < 1 + BUCKET_TOLERANCE, (label, worst)
    assert abs(model_band / real_band - 1) < BAND_TOLERANCE, (real_band, model_band)


@pytest.mark.parametrize("currency", ["BTC", "ETH"])
def test_the_old_threefold_spreads_fail_the_same_comparison(observations, currency) -> None:
    obs = observations[currency]
    old = default_currency_params()[currency].model_copy(update=OLD_DEFAULTS)

    real_band, model_band = _band_medians(obs, model_spread_vol_pts(obs, old))

    assert model_band / real_band > 1 + BAND_TOLERANCE


@pytest.mark.slow
def test_the_fit_recovers_the_default_parameters(observations) -> None:
    obs = observations["BTC"]
    default = default_currency_params()["BTC"]

    fitted = fit_spread_params(obs, default)

    refit = default.model_copy(update=fitted)
    real_band, model_band = _band_medians(obs, model_spread_vol_pts(obs, refit))
    assert abs(model_band / real_band - 1) < BAND_TOLERANCE
    assert fitted["spread_base_vol_pts"] == pytest.approx(default.spread_base_vol_pts, rel=0.2)

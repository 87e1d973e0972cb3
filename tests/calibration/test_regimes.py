"""Synthetic universe v2: regimes stable under another seed; generated paths keep the AR(1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from calibration.domain.regimes import ar1_fit, daily_timeline, regime_path, regimes_fit


@pytest.fixture(scope="module", params=["btc", "eth"])
def history(request, shared_dir: Path) -> pd.DataFrame:
    path = shared_dir / "data" / "deribit" / "volatility_history"
    return pd.read_parquet(path / f"{request.param}_volatility_history.parquet")


def test_regimes_fitted_on_the_shared_history_are_stable_under_another_seed(history):
    first = regimes_fit(history, seed=0)
    other = regimes_fit(history, seed=12345)
    np.testing.assert_allclose(first.centroids, other.centroids, atol=0.1)
    assert np.mean(first.labels == other.labels) > 0.99
    assert first.n_regimes == 3
    assert np.all(np.diff(first.centroids[:, 0]) > 0)  # numbered calm to stressed
    assert np.allclose(first.transition.sum(axis=1), 1.0)
    assert len(daily_timeline(first)) > 150


def test_generated_paths_match_the_fitted_ar1_within_standard_errors(history):
    model = regimes_fit(history, seed=0)
    regimes, iv = regime_path(model.dynamics, model.transition, hours=100_000, seed=3)
    assert set(np.unique(regimes)) == set(range(model.n_regimes))
    for fitted in model.dynamics:
        at = np.flatnonzero(regimes[:-1] == fitted.regime)
        _, phi, sigma, _, phi_se = ar1_fit(iv[at], iv[at + 1])
        assert abs(phi - fitted.phi) < 3 * phi_se, (fitted.regime, phi, fitted.phi, phi_se)
        assert sigma == pytest.approx(fitted.sigma, rel=0.05)


def test_a_path_with_a_broken_generator_would_fail_the_ar1_check(history):
    model = regimes_fit(history, seed=0)
    regimes, iv = regime_path(model.dynamics, model.transition, hours=50_000, seed=3)
    shuffled = np.random.default_rng(0).permutation(iv)  # no persistence at all
    fitted = model.dynamics[0]
    at = np.flatnonzero(regimes[:-1] == 0)
    _, phi, _, _, phi_se = ar1_fit(shuffled[at], shuffled[at + 1])
    assert abs(phi - fitted.phi) > 3 * phi_se

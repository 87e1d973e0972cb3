"""Synthetic universe v2: stored regimes drive a market model, a backtest source, the simulator."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from backtests.domain.sources.spec import SourceSpec
from backtests.services import source_build
from calibration import selectors, services
from calibration.domain.regimes import RegimeAR1
from calibration.domain.universe_v2 import RegimeDynamics, RegimeMarketModel, smile_from_fit
from trading.deribit.simulator import SimConfig
from trading.domain.market_model import MarketModel, MarketModelParams

pytestmark = pytest.mark.django_db
START = datetime(2025, 12, 10, 8, tzinfo=UTC)


def _two_regimes() -> RegimeDynamics:
    calm = RegimeAR1(0, mu=0.30, phi=0.9, sigma=0.002, phi_se=0, intercept_se=0, n=1, share=0.5)
    wild = RegimeAR1(1, mu=0.90, phi=0.9, sigma=0.002, phi_se=0, intercept_se=0, n=1, share=0.5)
    return RegimeDynamics((calm, wild), np.array([[0.98, 0.02], [0.02, 0.98]]))


def test_the_v2_model_switches_regimes_and_its_iv_follows_them():
    model = RegimeMarketModel(
        MarketModelParams(step_seconds=3600), seed=1, start=START, regimes={"BTC": _two_regimes()}
    )
    seen = []
    for _ in range(800):
        model.step(3600)
        seen.append((model.current_regime("BTC"), model.atm_iv("BTC")))
    regimes = np.array([r for r, _ in seen])
    iv = np.array([v for _, v in seen])
    assert set(regimes) == {0, 1}
    # after a few hours in a regime the IV sits near that regime's mean
    settled = np.array([i for i in range(40, 800) if np.all(regimes[i - 30 : i + 1] == regimes[i])])
    assert settled.size > 0
    for regime, mean in ((0, 0.30), (1, 0.90)):
        chosen = settled[regimes[settled] == regime]
        if chosen.size:
            assert abs(float(np.mean(iv[chosen])) - mean) < 0.08
    v1 = MarketModel(MarketModelParams(step_seconds=3600), seed=1, start=START)
    v1.step(3600)
    assert v1.atm_iv("ETH") > 0  # v1 untouched, ETH without regimes keeps v1 dynamics


def test_stored_regimes_feed_the_v2_backtest_source(shared_dir: Path):
    services.regimes_fit(underlying="BTC", seed=0)
    assert selectors.regime_dynamics()["BTC"].dynamics[0].regime == 0
    spec = SourceSpec(kind="synthetic_v2", underlying="BTC", start=START, days=10)
    source = source_build(spec=spec)
    panel = source.load_panel(underlying="BTC", start=START, end=spec.period()[1])
    assert panel.n_rows > 0
    assert panel.provenance.source == "synthetic_v2"
    assert len(panel.provenance.details["regimes"]) == 3
    assert source_build(spec=SourceSpec(kind="synthetic")).name == "synthetic"  # v1 stays


def test_the_simulator_serves_the_v2_market(shared_dir: Path):
    from calibration.simulator import exchange_v2

    with pytest.raises(ValueError, match="fit_regimes"):
        exchange_v2(SimConfig(seed=3, start=START))
    services.regimes_fit(underlying="BTC", seed=0)
    exchange = exchange_v2(SimConfig(seed=3, start=START))
    model = exchange.market.model  # type: ignore[attr-defined]
    assert isinstance(model, RegimeMarketModel)
    assert model.current_regime("BTC") in (0, 1, 2)


def test_the_smile_from_a_fitted_surface_has_a_put_skew(snapshots_root: Path, tmp_path: Path):
    import shutil

    target = tmp_path / "BTC" / "2025-12-12"
    target.mkdir(parents=True)
    for path in sorted((snapshots_root / "BTC" / "2025-12-12").glob("*.parquet"))[::40]:
        shutil.copy(path, target / path.name)
    run = services.calibration_run_harvested(underlying="BTC", root=tmp_path, trigger="command")
    smile = smile_from_fit(run.fit)
    assert smile is not None
    assert smile["skew"] < 0 < smile["smile_curvature"]
    params = selectors.market_params_v2()
    assert params.currencies["BTC"].skew == pytest.approx(smile["skew"])

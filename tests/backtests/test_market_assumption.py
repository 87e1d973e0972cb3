"""Every report states the market's drift and forward basis (issue 12)."""

from __future__ import annotations

from datetime import UTC, datetime

from backtests.domain.simulator import CoveredCallSimulator, market_assumption
from backtests.domain.sources.synthetic import SyntheticSource
from backtests.domain.types import BacktestConfig
from trading.domain.candidates import StrategyParams
from trading.domain.market_model import default_currency_params


def test_the_default_synthetic_market_drifts_at_its_basis() -> None:
    for params in default_currency_params().values():
        assert params.basis_per_year > 0
        assert params.spot_drift_per_year == params.basis_per_year


def test_the_assumption_says_drift_and_basis_are_consistent() -> None:
    text = market_assumption({"basis_per_year": 0.044, "drift_per_year": 0.044})
    assert text.startswith("spot drift 4.4%/yr, forward basis 4.4%/yr")
    assert "no edge from the basis" in text


def test_the_assumption_warns_when_drift_and_basis_differ() -> None:
    text = market_assumption({"basis_per_year": 0.044, "drift_per_year": 0.0})
    assert "sellers gain or lose from the basis" in text


def test_real_chains_keep_their_observed_basis() -> None:
    assert "observed basis" in market_assumption({"files": 3})


def test_a_synthetic_run_reports_its_market() -> None:
    source = SyntheticSource(seed=3, start=datetime(2025, 2, 3, tzinfo=UTC), days=5, max_dte_days=8)
    simulator = CoveredCallSimulator(source.load_panel(underlying="BTC"))

    result = simulator.simulate_policy(BacktestConfig(strategy=StrategyParams.research()))

    assert result.assumptions["market"].startswith("spot drift 4.4%/yr, forward basis 4.4%/yr")

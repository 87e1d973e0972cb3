"""Synthetic vs live (issue 15): the same policy on two sources, compared with a stated
tolerance; identical inputs agree, a deliberately shifted synthetic source diverges."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from scipy import stats

from backtests.domain.simulator import CoveredCallSimulator
from backtests.domain.source_compare import (
    COMPARED,
    Tolerance,
    compare_policy,
    compare_samples,
    ks_two_sample,
)
from backtests.domain.sources.synthetic import SyntheticSource
from backtests.domain.types import BacktestConfig
from trading.domain.market_model import MarketModelParams

START = datetime(2025, 3, 1, tzinfo=UTC)
CONFIG = BacktestConfig(underlying="BTC")


def _simulator(params: MarketModelParams | None = None) -> CoveredCallSimulator:
    source = SyntheticSource(params=params, seed=5, start=START, days=10)
    return CoveredCallSimulator(source.load_panel(underlying="BTC"))


def _shifted_iv(factor: float) -> MarketModelParams:
    base = MarketModelParams()
    btc = base.currencies["BTC"]
    return base.model_copy(
        update={
            "currencies": {"BTC": btc.model_copy(update={"atm_iv_mean": btc.atm_iv_mean * factor})}
        }
    )


def test_identical_inputs_agree() -> None:
    result = compare_policy(_simulator(), _simulator(), CONFIG)

    assert result["verdict"] == "agree"
    assert {m["measure"] for m in result["measures"]} == set(COMPARED)
    assert all(m["ks"] == 0.0 for m in result["measures"])
    assert result["measures"][0]["live"]["n"] > 100


def test_a_shifted_synthetic_source_diverges() -> None:
    result = compare_policy(_simulator(), _simulator(_shifted_iv(1.6)), CONFIG)

    assert result["verdict"] == "diverge"
    premium = next(m for m in result["measures"] if m["measure"] == "premium_pct")
    assert premium["verdict"] == "diverge"
    assert premium["synthetic"]["q50"] > premium["live"]["q50"]


def test_a_small_shift_stays_within_the_tolerance() -> None:
    rng = np.random.default_rng(1)
    live = {name: rng.normal(0, 1, 200) for name in COMPARED}
    near = {name: values + 0.05 for name, values in live.items()}
    far = {name: values + 1.0 for name, values in live.items()}

    assert compare_samples(live, near)["verdict"] == "agree"
    assert compare_samples(live, far)["verdict"] == "diverge"
    few = {name: values[:5] for name, values in far.items()}
    assert compare_samples(live, few, Tolerance(min_samples=10))["verdict"] == "insufficient"


def test_the_ks_test_matches_scipy() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.normal(0, 1, 150), rng.normal(0.3, 1.2, 90)

    distance, p_value = ks_two_sample(a, b)
    reference = stats.ks_2samp(a, b, method="asymp")

    assert distance == pytest.approx(reference.statistic)
    assert p_value == pytest.approx(reference.pvalue, rel=0.15)

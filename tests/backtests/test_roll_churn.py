"""No roll churn in the backtester (issue 12).

Under `roll_at_dte` the roll used to re-sell a call inside the roll window (a daily sold at
08:00 with exactly 1.000 day left, bought back an hour later) or the call it had just bought
back. On a synthetic month at roll_dte_days 1 and 2, no trade closed by the roll rule is held an
hour or less and no call is re-sold at the hour it was bought back; without the guard
(`policy_selection` returning the plain selection) the same run churns.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from backtests.domain.panel import ChainPanel
from backtests.domain.simulator import CoveredCallSimulator
from backtests.domain.sources.synthetic import SyntheticSource
from backtests.domain.types import BacktestConfig, ExitPolicy, ExitReason, ExitStyle
from trading.domain.candidates import StrategyParams


@pytest.fixture(scope="module")
def panel() -> ChainPanel:
    source = SyntheticSource(
        seed=5, start=datetime(2025, 3, 1, tzinfo=UTC), days=30, max_dte_days=8
    )
    return source.load_panel(underlying="BTC")


def _run(panel: ChainPanel, roll_dte_days: float):
    config = BacktestConfig(
        strategy=StrategyParams.research(ivrv_min=0.0, premium_min_usd=0.0, dte_max_days=7),
        exit=ExitPolicy(style=ExitStyle.ROLL_AT_DTE, roll_dte_days=roll_dte_days),
    )
    return CoveredCallSimulator(panel).simulate_policy(config).trades


def _churn(trades) -> tuple[int, int]:
    quick = [
        t
        for t in trades
        if t.exit_reason is ExitReason.ROLL_AT_DTE and t.exit_ts - t.entry_ts <= 3600
    ]
    resold = sum(
        1
        for a, b in itertools.pairwise(trades)
        if a.exit_ts == b.entry_ts and a.instrument_name == b.instrument_name
    )
    return len(quick), resold


@pytest.mark.parametrize("roll_dte_days", [1.0, 2.0])
def test_no_trade_is_rolled_an_hour_or_less_after_its_sale(panel, roll_dte_days) -> None:
    trades = _run(panel, roll_dte_days)

    assert len(trades) >= 10
    assert sum(t.exit_reason is ExitReason.ROLL_AT_DTE for t in trades) >= 5
    assert min(t.dte_entry_days for t in trades) > roll_dte_days
    assert _churn(trades) == (0, 0)


def test_without_the_roll_window_the_same_run_churns(panel, monkeypatch) -> None:
    monkeypatch.setattr(
        CoveredCallSimulator,
        "policy_selection",
        lambda self, config: self.selection(config.strategy, config.fill),
    )

    quick, _ = _churn(_run(panel, 1.0))

    assert quick > 0

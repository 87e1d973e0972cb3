"""A backtest report carries the worst-scenario loss over time (the live stress figure)."""

from __future__ import annotations

import numpy as np
import pytest

from backtests import services
from backtests.charts import drawdown_svg
from backtests.domain.stress import worst_scenario_loss_pct
from backtests.domain.types import EquityCurve
from tests.backtests.conftest import SHORT_SOURCE, TRADING_CONFIG


def test_coins_alone_lose_40_percent_at_the_worst_scenario_at_every_time() -> None:
    n = 50
    curve = EquityCurve(
        times=np.arange(n, dtype=np.float64) * 3600 + 1.76e9,
        spot_usd=np.full(n, 90_000.0),
        equity_coin=np.ones(n),
        in_position=np.zeros(n, dtype=np.bool_),
    )
    series = worst_scenario_loss_pct(curve, [])
    assert series.shape == (n,)
    assert np.allclose(series, 40.0)


@pytest.mark.django_db
def test_a_run_report_has_the_worst_loss_series_below_the_coins_alone_while_calls_are_open() -> (
    None
):
    run = services.backtest_run_create(
        config=TRADING_CONFIG, source=SHORT_SOURCE, name="t", enqueue=False
    )
    done = services.backtest_run_execute(run_id=run.pk)
    assert done is not None
    curve = done.equity_curve
    worst = np.asarray(curve["worst_loss_pct"])
    assert worst.shape == (len(curve["t"]),)
    assert 0 < worst.min() <= worst.max() <= 41.0  # a covered call never loses more than coins
    assert "worst-scenario loss" in drawdown_svg(curve)

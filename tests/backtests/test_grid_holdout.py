"""Grid search with a holdout (issue 12): ranked in-sample, out-of-sample shown beside it.

The in-sample part is the period's first 1 - holdout_frac, the held-out part the rest; each
part is a panel of its own (`panel_window`), so a call open at the split closes there and no
later price leaks into the in-sample result. Shown by the domain, the command, the API and the
run page.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import numpy as np
import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from backtests import services
from backtests.domain.grid import GridSpec, run_grid
from backtests.domain.panel import ChainPanel, holdout_split, panel_window
from backtests.domain.simulator import CoveredCallSimulator
from backtests.domain.sources.synthetic import SyntheticSource
from backtests.domain.types import BacktestConfig, ExitReason
from backtests.models import BacktestRun
from tests.backtests.conftest import SHORT_SOURCE, TRADING_CONFIG
from trading.domain.candidates import StrategyParams

CONFIG = BacktestConfig(strategy=StrategyParams.research(ivrv_min=0.0))


@pytest.fixture(scope="module")
def panel() -> ChainPanel:
    source = SyntheticSource(
        seed=4, start=datetime(2025, 4, 1, tzinfo=UTC), days=40, max_dte_days=10
    )
    return source.load_panel(underlying="BTC")


def test_a_window_is_a_panel_of_its_own(panel) -> None:
    window = panel_window(panel, 100, 400)

    assert len(window.times) == 300
    assert window.times[0] == panel.times[100]
    assert window.n_rows == panel.time_start[400] - panel.time_start[100]
    late = window.expiry_ts > window.times[-1]
    assert np.isnan(window.settlement_usd[late]).all()
    np.testing.assert_array_equal(
        window.mark_coin[window.rows_at(0)], panel.mark_coin[panel.rows_at(100)]
    )


def test_the_holdout_split_keeps_every_trade_on_its_side(panel) -> None:
    inside, outside = holdout_split(panel, 0.3)
    split = outside.times[0]

    in_trades = CoveredCallSimulator(inside).simulate_policy(CONFIG).trades
    out_trades = CoveredCallSimulator(outside).simulate_policy(CONFIG).trades

    assert len(inside.times) + len(outside.times) == len(panel.times)
    assert in_trades
    assert out_trades
    assert max(t.exit_ts for t in in_trades) < split
    assert min(t.entry_ts for t in out_trades) >= split
    assert in_trades[-1].exit_reason in (
        ExitReason.END_OF_DATA,
        ExitReason.EXPIRED_OTM,
        ExitReason.EXPIRED_ITM,
    )


def test_run_grid_ranks_in_sample_and_reports_out_of_sample(panel) -> None:
    spec = GridSpec(
        base=CONFIG, axes={"ivrv_min": [0.0, 0.9]}, rank_by="net_profit_usd", holdout_frac=0.3
    )

    rows = run_grid(CoveredCallSimulator(panel), spec)

    inside, outside = holdout_split(panel, 0.3)
    for row in rows:
        config = spec.combinations()[row.index]
        expected_in = CoveredCallSimulator(inside).simulate_policy(config).metrics
        expected_out = CoveredCallSimulator(outside).simulate_policy(config).metrics
        assert row.metrics["net_profit_usd"] == pytest.approx(expected_in.net_profit_usd)
        assert row.out_of_sample is not None
        assert row.out_of_sample["metrics"]["net_profit_usd"] == pytest.approx(
            expected_out.net_profit_usd
        )
        assert row.out_of_sample["num_trades"] == expected_out.num_trades
    best, worst = rows[0].metrics["net_profit_usd"], rows[-1].metrics["net_profit_usd"]
    assert best is not None
    assert worst is not None
    assert best >= worst


def test_without_a_holdout_there_is_no_out_of_sample(panel) -> None:
    rows = run_grid(CoveredCallSimulator(panel), GridSpec(base=CONFIG, axes={"ivrv_min": [0.0]}))

    assert rows[0].out_of_sample is None


@pytest.mark.django_db
def test_the_command_prints_in_and_out_of_sample() -> None:
    out = io.StringIO()
    call_command(
        "run_backtest",
        "--days",
        "12",
        "--seed",
        "3",
        "--ivrv-min",
        "0",
        "--grid",
        '{"exit_style": ["hold_to_expiry", "stop_loss"]}',
        "--holdout",
        "0.3",
        stdout=out,
    )

    grid = BacktestRun.objects.get(kind=BacktestRun.Kind.GRID)
    assert all(cell["out_of_sample"] for cell in grid.results)
    assert "OOS" in out.getvalue()
    assert "held out" in out.getvalue()


@pytest.mark.django_db
def test_the_api_and_the_run_page_show_both_samples(
    desk_user, desk_client, eager_celery, django_capture_on_commit_callbacks
) -> None:
    api = APIClient()
    api.force_authenticate(desk_user)
    body = {
        "source": SHORT_SOURCE.model_dump(mode="json"),
        "config": TRADING_CONFIG.model_dump(mode="json"),
        "grid": {"axes": {"exit_style": ["hold_to_expiry", "stop_loss"]}, "holdout_frac": 0.3},
    }

    with django_capture_on_commit_callbacks(execute=True):
        created = api.post("/api/backtests", body, format="json")

    assert created.status_code == 201
    detail = api.get(f"/api/backtests/{created.json()['id']}").json()
    assert len(detail["results"]) == 2
    for cell in detail["results"]:
        assert cell["out_of_sample"]["start"] < cell["out_of_sample"]["end"]
        assert "net_profit_usd" in cell["out_of_sample"]["metrics"]
    html = desk_client.get(f"/backtests/runs/{created.json()['id']}/").content.decode()
    assert "OOS Sharpe" in html
    assert 'data-testid="oos-trades"' in html
    assert services.grid_rows(BacktestRun.objects.get(pk=created.json()["id"]))[0].out_of_sample

"""Policy arena (issue 15): block-bootstrap intervals that contain zero for identical policies
and exclude it for a planted edge."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import numpy as np
import pytest
from django.core.management import call_command

from backtests.domain.arena import ArenaEntry, block_bootstrap_means, interval, run_arena
from backtests.domain.simulator import CoveredCallSimulator
from backtests.domain.sources.synthetic import SyntheticSource
from backtests.domain.types import BacktestConfig
from trading.domain.candidates import StrategyParams

BASE = BacktestConfig(strategy=StrategyParams.research(ivrv_min=0.0, explore_prob=0.0))


@pytest.fixture(scope="module")
def simulator() -> CoveredCallSimulator:
    source = SyntheticSource(seed=11, start=datetime(2025, 1, 1, tzinfo=UTC), days=180)
    return CoveredCallSimulator(source.load_panel(underlying="BTC"))


def test_two_identical_policies_differ_by_an_interval_containing_zero(simulator) -> None:
    rows = run_arena(simulator, [ArenaEntry("a", BASE), ArenaEntry("b", BASE)], resamples=500)

    b = next(row for row in rows if row.name == "b")
    assert b.diff_ci_low_usd <= 0.0 <= b.diff_ci_high_usd
    assert b.diff_vs_baseline_usd == 0.0


def test_a_planted_edge_gives_an_interval_that_excludes_zero(simulator) -> None:
    # The same policy without trading fees: every trade is better by its fees, a real edge.
    planted = BASE.model_copy(update={"include_fees": False})

    rows = run_arena(simulator, [ArenaEntry("base", BASE), ArenaEntry("no fees", planted)])

    edge = next(row for row in rows if row.name == "no fees")
    assert edge.diff_vs_baseline_usd > 0
    assert edge.diff_ci_low_usd > 0
    assert edge.p_value < 0.05
    assert rows[0].name == "no fees"


def test_exploration_is_ranked_with_honest_intervals(simulator) -> None:
    explore = BASE.model_copy(
        update={"strategy": BASE.strategy.model_copy(update={"explore_prob": 0.5})}
    )

    rows = run_arena(simulator, [ArenaEntry("greedy", BASE), ArenaEntry("explore", explore)])

    for row in rows:
        assert row.ci_low_usd <= row.mean_daily_pnl_usd <= row.ci_high_usd
        assert row.trades > 0


def test_the_block_bootstrap_keeps_blocks_and_is_seeded() -> None:
    series = np.arange(30, dtype=float)
    a = block_bootstrap_means(series, block_days=7, resamples=50, rng=np.random.default_rng(1))
    b = block_bootstrap_means(series, block_days=7, resamples=50, rng=np.random.default_rng(1))

    np.testing.assert_array_equal(a, b)
    low, high, p = interval(np.ones(40), block_days=7, resamples=200, seed=0)
    assert low == high == 1.0
    assert p == 0.0


@pytest.mark.django_db
def test_the_arena_command_prints_the_league_table_as_json() -> None:
    out = io.StringIO()

    call_command("arena", "--days", "40", "--resamples", "200", "--json", stdout=out)

    table = json.loads(out.getvalue())
    names = {row["name"] for row in table["rows"]}
    assert {"research (baseline)", "research, no exploration", "production"} <= names
    assert all("diff_ci_low_usd" in row for row in table["rows"])

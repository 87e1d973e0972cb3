"""One number format and metric names in words on every table a trader reads (issue 19): the
rendered pages of the Live Agent tab, orders, P&L, a decision, System Health and its sections,
backtest runs, a grid and its cell, compare, Greg Lab and Bots show no snake_case name and no
unformatted long float (`tests.units_scan`)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.units_scan import unit_problems

pytestmark = pytest.mark.django_db


def test_the_scanner_catches_snake_case_and_raw_floats_but_not_code() -> None:
    html = (
        "<table><tr><th>max_drawdown_pct</th><td>0.30000000000000004</td><td>92009.2</td>"
        "<td><code>delta_range</code> $92,009.20 0.001234 BTC rb_v1_explore</td></tr></table>"
    )
    problems = unit_problems(html)
    assert len(problems) == 3
    assert any("'max_drawdown_pct'" in p for p in problems)
    assert any("'0.30000000000000004'" in p for p in problems)
    assert any("'92009.2'" in p for p in problems)


@pytest.fixture
def desk(decisions: list[Any], sim_client: Any) -> dict[str, str]:
    """Pages with data: two agent ticks (a paper call), a finished run, a 2 x 2 grid, Greg."""
    from backtests import services
    from backtests.domain.grid import GridSpec
    from greg.services.evaluation import greg_evaluate
    from tests.backtests.conftest import SHORT_SOURCE, TRADING_CONFIG

    greg_evaluate(client=sim_client, underlyings=["BTC"])
    single = services.backtest_run_create(config=TRADING_CONFIG, source=SHORT_SOURCE, enqueue=False)
    services.backtest_run_execute(run_id=single.pk)
    axes: dict[str, list[Any]] = {"delta_range": [[0.1, 0.3], [0.2, 0.4]], "ivrv_min": [0.0, 0.5]}
    grid = services.grid_run_create(
        spec=GridSpec(base=TRADING_CONFIG, axes=axes), source=SHORT_SOURCE, enqueue=False
    )
    services.grid_run_execute_inline(run=grid)
    cell = grid.children.order_by("combo_index").first()
    assert cell is not None
    return {
        "live": "/",
        "orders": "/orders/",
        "pnl": "/pnl/",
        "decision": f"/decisions/{decisions[0].pk}/",
        "system health": "/system/",
        "controls": "/agent/controls/",
        "agent health": "/agent/health/?run=0",
        "risk": "/agent/risk/",
        "preflight": "/agent/preflight/",
        "backtests": "/backtests/",
        "run": f"/backtests/runs/{single.pk}/",
        "grid": f"/backtests/runs/{grid.pk}/",
        "grid with a chosen metric": (
            f"/backtests/runs/{grid.pk}/?metric=max_drawdown_pct&x=ivrv_min&y=delta_range"
        ),
        "cell": f"/backtests/runs/{cell.pk}/",
        "compare": f"/backtests/compare/?ids={single.pk}&ids={cell.pk}",
        "greg lab": "/greg/",
        "rules vs llm": "/compare/",
    }


def test_every_table_shows_words_and_one_number_format(
    desk: dict[str, str], logged_in_client: Any
) -> None:
    found = {}
    for name, url in desk.items():
        response = logged_in_client.get(url)
        assert response.status_code == 200, name
        problems = unit_problems(response.content.decode())
        if problems:
            found[name] = problems
    assert found == {}


def test_the_bots_tab_shows_no_raw_floats(desk: dict[str, str], logged_in_client: Any) -> None:
    """Greg's sensors keep their spec names (shown as code), but every figure is formatted."""
    html = logged_in_client.get("/bots/").content.decode()
    assert unit_problems(html, snake_case=False) == []


def test_metric_names_read_as_words_with_units(desk: dict[str, str], logged_in_client: Any) -> None:
    html = logged_in_client.get(desk["compare"]).content.decode()
    assert "Max drawdown, %" in html
    assert "Net profit, USD" in html
    grid = logged_in_client.get(desk["grid with a chosen metric"]).content.decode()
    assert "Max drawdown, % over IV/RV minimum and delta range" in grid

"""Greg's stress check sees the whole book the agent's tick sees (issue #17): coins, every open
position of every strategy, the perpetuals, plus the proposed legs; sandbox rows only when
RISK_INCLUDE_SANDBOX says so. One function builds that book for both
(`trading.services.state.book_inputs`)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from greg.models import GregDecision
from greg.services.evaluation import underlying_evaluate
from greg.services.execution import _book, suggestion_execute
from tests.greg.helpers import advised_open
from trading.models import Order, Position
from trading.services.controls import effective_params_load
from trading.services.state import state_build

pytestmark = pytest.mark.django_db
STRATEGY = "STRATEGY_C_SHORT_PUT"
CELL = re.compile(
    r"stress_loss: worst scenario after order: spot [-+]\d+%, vol [-+]\d+%, \+\d+ d: "
    r"-[\d,]+ USD \(\d+\.\d% of equity\); max 50\.0% of equity and the order makes it worse"
)


@pytest.fixture
def suggestion(agent_settings, sim_client) -> GregDecision:
    """A 0.1 BTC short put (30-45 DTE), every Greg gate open, dry run on (paper orders)."""
    quote = underlying_evaluate(client=sim_client, underlying="BTC").structures[STRATEGY]
    return advised_open(STRATEGY, quote, dry_run=True)


def _hold_short_puts(suggestion: GregDecision, *, strategy_id: str, sandbox: bool) -> None:
    """Another strategy's open paper position: 16 BTC short of the same put."""
    leg = suggestion.structures[STRATEGY]["legs"][0]
    Position.objects.create(
        instrument_name=leg["instrument_name"],
        currency="BTC",
        strategy_id=strategy_id,
        paper=True,
        sandbox=sandbox,
        size=Decimal("-16"),
        average_price_coin=Decimal(str(leg["price_coin"])),
    )


def _execute(suggestion, sim_client):
    return suggestion_execute(
        suggestion=suggestion, client=sim_client, user="op", confirmed=True, expect_dry_run=True
    )


def test_a_proposal_that_passes_alone_goes_through_the_gate(suggestion, sim_client):
    result = _execute(suggestion, sim_client)
    assert result.refused == "", result.refused
    assert [o.state for o in Order.objects.all()] == [Order.State.SIMULATED]
    checks = {c["name"]: c for c in result.record.details["verdict"]["checks"]}
    assert checks["stress_loss"]["passed"]


def test_existing_positions_make_the_same_proposal_break_the_limit_naming_the_cell(
    suggestion, sim_client
):
    _hold_short_puts(suggestion, strategy_id="covered_call", sandbox=False)
    result = _execute(suggestion, sim_client)
    assert CELL.search(result.refused), result.refused
    assert not Order.objects.exists()
    assert result.record.outcome == "refused"


def test_sandbox_positions_count_only_when_the_setting_says_so(suggestion, sim_client, settings):
    _hold_short_puts(suggestion, strategy_id="greg_short_put", sandbox=True)
    params = effective_params_load()
    book = _book(sim_client, params, "BTC", [])
    assert book.portfolio.positions == ()
    settings.RISK_INCLUDE_SANDBOX = True
    book = _book(sim_client, params, "BTC", [])
    assert [p.strategy_id for p in book.portfolio.positions] == ["greg_short_put"]
    result = _execute(suggestion, sim_client)
    assert CELL.search(result.refused), result.refused


def test_greg_and_the_tick_judge_the_same_book(suggestion, sim_client):
    _hold_short_puts(suggestion, strategy_id="covered_call", sandbox=False)
    _hold_short_puts(suggestion, strategy_id="greg_straddle", sandbox=False)
    params = effective_params_load()
    tick = state_build(client=sim_client, params=params, expire=False).inputs
    greg = _book(sim_client, params, "BTC", [])
    assert greg.portfolio == tick.portfolio
    held = {p.instrument_name for p in tick.portfolio.positions}
    assert {n: greg.quotes[n] for n in held} == {n: tick.quotes[n] for n in held}

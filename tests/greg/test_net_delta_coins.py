"""Greg's net-delta check counts the coins held (`PortfolioState.net_delta`'s convention): a
short call the coins cover is not a naked short, on the simulator and in the domain."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from greg.domain.risk import Guardrails, StructureRisk, evaluate_greg_risk
from greg.services.evaluation import underlying_evaluate
from greg.services.execution import suggestion_execute
from tests.greg.helpers import advised_open
from trading.domain.params import AgentDefaults, RiskLimits
from trading.domain.risk import PortfolioState, RiskInputs
from trading.models import Order
from trading.services import controls

STRATEGY = "STRATEGY_F_BEAR_CALL_SPREAD"
LIMITS = RiskLimits(max_net_delta_abs=0.3)
RAILS = Guardrails(
    max_notional_position_usd=1e9, max_notional_underlying_usd=1e9, open_notional_underlying_usd=0
)


@pytest.mark.django_db
def test_covered_calls_do_not_make_greg_refuse_a_bear_call_spread_as_naked_short(
    agent_settings, sim_client, monkeypatch: Any
):
    # 10 BTC held, 2 BTC of the spread's short call sold: the book is ~9.5 coins long and
    # covered; its options alone (-0.5) are beyond a 0.3-coin limit.
    monkeypatch.setattr(
        controls, "agent_defaults", lambda: AgentDefaults(dry_run=True, risk=LIMITS)
    )
    quote = underlying_evaluate(client=sim_client, underlying="BTC").structures[STRATEGY]
    assert quote["ok"], quote
    assert float(quote["net_delta"]) < 0
    short = next(leg for leg in quote["legs"] if leg["side"] == "sell")
    sim_client.sell(short["instrument_name"], Decimal(2), type="market")
    suggestion = advised_open(STRATEGY, quote, dry_run=True)
    result = suggestion_execute(
        suggestion=suggestion, client=sim_client, user="op", confirmed=True, expect_dry_run=True
    )
    assert result.refused == "", result.refused
    checks = {c["name"]: c for c in result.record.details["verdict"]["checks"]}
    assert checks["net_delta"]["passed"]
    assert "coins held included" in checks["net_delta"]["detail"]
    assert float(checks["net_delta"]["value"]) > 9  # the book's delta, coins counted
    assert {o.state for o in Order.objects.all()} == {Order.State.SIMULATED}


def _inputs(net_delta: float, holdings: str = "10") -> RiskInputs:
    portfolio = PortfolioState(
        equity_usd=Decimal(900_000),
        holdings_coin={"BTC": Decimal(holdings)},
        net_delta={"BTC": net_delta},
    )
    return RiskInputs.build(portfolio=portfolio, quotes=[], now=datetime(2025, 12, 10, tzinfo=UTC))


def _verdict(net_delta: float, change: float, holdings: str = "10") -> dict[str, Any]:
    order = StructureRisk(
        action="GREG_OPEN",
        underlying="BTC",
        legs=[],
        margin_usd=0.0,
        delta_change=change,
        notional_usd=0.0,
    )
    verdict = evaluate_greg_risk(order, _inputs(net_delta, holdings), LIMITS, RAILS)
    return {c.name: c.passed for c in verdict.checks}


@pytest.mark.parametrize(
    ("net_delta", "change", "passed", "why"),
    [
        (9.5, -0.02, True, "covered calls beside the coins: still covered"),
        (9.5, +0.02, True, "a short put on a covered book: still within the coins"),
        (10.0, +0.2, True, "bare coins: 0.2 coin beyond them is within the limit"),
        (10.2, +0.2, False, "0.4 coin of leverage beyond the coins"),
        (0.1, -0.5, False, "a naked short of 0.4 coin"),
        (-0.5, +0.1, True, "a naked short made smaller"),
    ],
)
def test_greg_net_delta_limits_only_the_delta_the_coins_do_not_cover(
    net_delta: float, change: float, passed: bool, why: str
) -> None:
    assert _verdict(net_delta, change)["net_delta"] is passed, why

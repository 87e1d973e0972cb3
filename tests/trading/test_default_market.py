"""The offline demo: the research agent trades on the simulator's *default* synthetic market."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache

from tests.trading.agent_helpers import SIM_START, make_agent_client, short_size
from trading.deribit.simulator import ServerThread, SimConfig, SimulatedExchange, create_app
from trading.domain.market_model import (
    DEC_2025_REALIZED_TO_IMPLIED,
    LONG_RUN_REALIZED_TO_IMPLIED,
    default_currency_params,
)
from trading.domain.params import RiskLimits
from trading.models import Order, Position
from trading.services import tick_run


def test_the_default_market_has_a_volatility_risk_premium_and_dec_2025_is_kept() -> None:
    defaults = default_currency_params()
    assert {name: cp.realized_to_implied for name, cp in defaults.items()} == dict(
        LONG_RUN_REALIZED_TO_IMPLIED
    )
    assert all(cp.realized_to_implied < 1 for cp in defaults.values())
    december = default_currency_params(DEC_2025_REALIZED_TO_IMPLIED)
    assert december["BTC"].realized_to_implied == pytest.approx(1.10)
    assert december["ETH"].realized_to_implied == pytest.approx(1.05)
    # Only the ratio differs.
    assert december["BTC"].model_copy(update={"realized_to_implied": 0.8}) == defaults["BTC"]


def test_the_default_spread_guard_admits_real_deribit_spreads() -> None:
    # Real 0.1-0.4-delta 1-21-DTE BTC calls quote 5.5-10% of mid (median ~9%).
    assert RiskLimits().liquidity_max_spread_pct >= 10.0


@pytest.fixture(params=[42, 7], ids=["seed42", "seed7"])
def default_sim(request: pytest.FixtureRequest) -> Iterator[ServerThread]:
    """The simulator exactly as `run_exchange_sim` builds it (default market), on loopback."""
    cache.clear()
    config = SimConfig(seed=request.param, start=SIM_START, rate_limits=None)
    assert config.market_params is None  # MarketModelParams() defaults
    server = ServerThread(create_app(SimulatedExchange(config)), port=0).start()
    yield server
    server.stop()


@pytest.mark.django_db
def test_the_research_agent_opens_a_covered_call_on_the_default_market(agent_settings, default_sim):
    with make_agent_client(default_sim.base_url) as client:
        outcome = tick_run(trigger="test", client=client, seed=1)
        decision = outcome.decision
        assert decision is not None
        assert decision.mode == "research"
        assert decision.action == "OPEN_COVERED_CALL", decision.reason
        assert decision.verdict_code == "approved"
        (order,) = outcome.orders
        assert order.state == Order.State.SIMULATED
        assert short_size(client, order.instrument_name) == 0  # dry run: nothing was sent
    position = Position.objects.get(instrument_name=order.instrument_name)
    assert position.paper
    assert position.status == "open"

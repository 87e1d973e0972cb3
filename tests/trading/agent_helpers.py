"""Builders for the live agent's Django-side tests: a VRP simulator, a client of it, sizes.

The fixtures built on them (`sim_server`, `sim_exchange`, `sim_client`, `agent_settings`,
`decisions`) live in `tests/conftest.py`, so test modules use them without importing them.
The simulated market gets a stronger volatility risk premium than the default (realized vol
70% of implied, default 80%), so the tests' ticks have several candidates and stable choices.
Quotes are the default spread model's (fitted to the real December 2025 chains); no test needs
narrower spreads than the real market's. The agent on the *default* market is tested in
`test_default_market.py` and `test_agent_celery_e2e.py`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from trading.deribit.client import DeribitClient, RetryPolicy
from trading.deribit.limiter import NoLimiter
from trading.deribit.simulator import SimConfig, SimulatedExchange
from trading.domain.market_model import MarketModelParams, default_currency_params

SIM_START = datetime(2025, 12, 10, 9, 0, tzinfo=UTC)
CLIENT_ID = "optionsdesk-sim"
CLIENT_SECRET = "optionsdesk-sim-secret"
FAST_RETRY = RetryPolicy(max_attempts=2, base_delay_s=0.0, max_delay_s=0.0)


def vrp_market(realized_to_implied: float = 0.7) -> MarketModelParams:
    """The default synthetic market with a VRP (realized vol a fraction of implied), so the
    seed's filters leave calls to sell."""
    currencies = {
        name: params.model_copy(update={"realized_to_implied": realized_to_implied})
        for name, params in default_currency_params().items()
    }
    return MarketModelParams(currencies=currencies)


def make_vrp_exchange(**overrides: object) -> SimulatedExchange:
    """A simulated exchange at SIM_START with a VRP, a manual clock and no server rate limits."""
    fields: dict[str, object] = {
        "seed": 7,
        "start": SIM_START,
        "rate_limits": None,
        "market_params": vrp_market(),
    }
    fields.update(overrides)
    return SimulatedExchange(SimConfig.model_validate(fields))


def make_agent_client(base_url: str, **overrides: object) -> DeribitClient:
    """A client of the loopback simulator that never sleeps on retries."""
    options: dict[str, object] = {"timeout_s": 5.0, "limiter": NoLimiter(), "retry": FAST_RETRY}
    options.update(overrides)
    return DeribitClient(base_url, CLIENT_ID, CLIENT_SECRET, **options)  # type: ignore[arg-type]


def short_size(client: DeribitClient, instrument_name: str) -> Decimal:
    """The exchange's size of one option position (0 when none)."""
    for position in client.get_positions("any", "option"):
        if position.instrument_name == instrument_name:
            return position.size
    return Decimal(0)

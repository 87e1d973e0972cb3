"""Fixtures for the Deribit client and the simulated exchange.

`exchange` + `sim_client` talk in-process (no sockets); `loopback` runs one uvicorn server on
127.0.0.1 with an ephemeral port for the whole session, and `loopback_client` talks to it over a
real socket. Simulated time never moves unless a test advances it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from trading.deribit.client import DeribitClient, RetryPolicy
from trading.deribit.limiter import NoLimiter
from trading.deribit.simulator import (
    ServerThread,
    SimConfig,
    SimulatedExchange,
    create_app,
    exchange_transport,
)

SIM_START = datetime(2025, 12, 10, 9, 0, tzinfo=UTC)
CLIENT_ID = "optionsdesk-sim"
CLIENT_SECRET = "optionsdesk-sim-secret"
FAST_RETRY = RetryPolicy(max_attempts=3, base_delay_s=0.0, max_delay_s=0.0)


def make_exchange(**overrides: object) -> SimulatedExchange:
    """A fresh simulated exchange at SIM_START with a manual clock and no server rate limits."""
    fields: dict[str, object] = {"seed": 42, "start": SIM_START, "rate_limits": None}
    fields.update(overrides)
    return SimulatedExchange(SimConfig.model_validate(fields))


def make_client(exchange: SimulatedExchange, **overrides: object) -> DeribitClient:
    """An in-process client for `exchange` that never sleeps on retries."""
    options: dict[str, object] = {
        "timeout_s": 5.0,
        "transport": exchange_transport(exchange),
        "limiter": NoLimiter(),
        "retry": FAST_RETRY,
    }
    options.update(overrides)
    return DeribitClient("http://sim.local/api/v2", CLIENT_ID, CLIENT_SECRET, **options)  # type: ignore[arg-type]


@pytest.fixture
def exchange() -> SimulatedExchange:
    """A fresh simulated exchange (manual clock, seed 42)."""
    return make_exchange()


@pytest.fixture
def sim_client(exchange: SimulatedExchange) -> Iterator[DeribitClient]:
    """An in-process client of `exchange`."""
    with make_client(exchange) as c:
        yield c


@pytest.fixture(scope="session")
def loopback() -> Iterator[ServerThread]:
    """One uvicorn server on 127.0.0.1:<ephemeral> serving a simulated exchange."""
    server = ServerThread(create_app(make_exchange()), port=0).start()
    yield server
    server.stop()


@pytest.fixture
def loopback_exchange(loopback: ServerThread) -> Iterator[SimulatedExchange]:
    """The loopback server's exchange, with faults cleared before and after each test."""
    exchange = loopback.app.exchange
    exchange.faults.clear()
    yield exchange
    exchange.faults.clear()


@pytest.fixture
def loopback_client(
    loopback: ServerThread, loopback_exchange: SimulatedExchange
) -> Iterator[DeribitClient]:
    """A client talking to the loopback server over a real socket."""
    with DeribitClient(
        loopback.base_url,
        CLIENT_ID,
        CLIENT_SECRET,
        timeout_s=2.0,
        limiter=NoLimiter(),
        retry=FAST_RETRY,
    ) as c:
        yield c

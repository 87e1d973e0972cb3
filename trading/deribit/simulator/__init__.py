"""A simulated Deribit exchange speaking API v2 over HTTP (in-process or on a socket).

Typical test use::

    exchange = SimulatedExchange(SimConfig(seed=42, start=datetime(2025, 12, 10, 8, tzinfo=UTC)))
    client = DeribitClient("http://sim/api/v2", "optionsdesk-sim", "optionsdesk-sim-secret",
                           transport=exchange_transport(exchange))
    exchange.faults.inject("drop_reply", methods=["private/sell"])
    exchange.clock.advance(3600)
    handle(exchange, "public/get_time", {})  # a method straight, without HTTP
"""

from __future__ import annotations

from trading.deribit.simulator.app import DeribitSimApp, create_app, sim_state
from trading.deribit.simulator.clock import SimClock
from trading.deribit.simulator.dispatch import handle
from trading.deribit.simulator.exchange import AccountConfig, SimConfig, SimulatedExchange
from trading.deribit.simulator.faults import FaultInjector, FaultRule
from trading.deribit.simulator.market import ReplayMarket, SyntheticMarket
from trading.deribit.simulator.server import ServerThread, serve
from trading.deribit.simulator.transport import SyncASGITransport


def exchange_transport(exchange: SimulatedExchange) -> SyncASGITransport:
    """An in-process httpx transport onto `exchange` (one per client: closing it stops it)."""
    return SyncASGITransport(create_app(exchange))


__all__ = [
    "AccountConfig",
    "DeribitSimApp",
    "FaultInjector",
    "FaultRule",
    "ReplayMarket",
    "ServerThread",
    "SimClock",
    "SimConfig",
    "SimulatedExchange",
    "SyncASGITransport",
    "SyntheticMarket",
    "create_app",
    "exchange_transport",
    "handle",
    "serve",
    "sim_state",
]

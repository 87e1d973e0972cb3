"""Which exchange client Greg talks to (the configured one; tests inject the simulator)."""

from __future__ import annotations

from trading.deribit.client import DeribitClient
from trading.exchange import exchange_client


def greg_client() -> DeribitClient:
    """The configured Deribit client (sim, testnet or mainnet)."""
    return exchange_client()

"""Which exchange client the agent talks to (the settings' one unless a caller injects one)."""

from __future__ import annotations

from trading.deribit.client import DeribitClient
from trading.exchange import exchange_client


def agent_client() -> DeribitClient:
    """The configured client (in `sim` without credentials, settings supply the simulator's key)."""
    return exchange_client()

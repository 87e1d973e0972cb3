"""Which exchange client the agent talks to (the settings' one unless a caller injects one)."""

from __future__ import annotations

from django.conf import settings

from trading.deribit.client import DeribitClient
from trading.domain.params import Environment
from trading.exchange import exchange_client


def agent_environment() -> Environment:
    """Where orders would go, from settings.DERIBIT_ENV (sim, testnet, mainnet)."""
    return Environment(settings.DERIBIT_ENV)


def agent_client() -> DeribitClient:
    """The configured client (in `sim` without credentials, settings supply the simulator's key)."""
    return exchange_client()

"""Which exchange client the agent talks to (the settings' one unless a caller injects one)."""

from __future__ import annotations

from django.conf import settings

from trading.deribit.client import DeribitClient
from trading.domain.params import Environment
from trading.exchange import exchange_client

#: The simulated exchange's built-in key (`trading.deribit.simulator.AccountConfig`).
SIM_CLIENT_ID = "optionsdesk-sim"
SIM_CLIENT_SECRET = "optionsdesk-sim-secret"


def agent_environment() -> Environment:
    """Where orders would go, from settings.DERIBIT_ENV (sim, testnet, mainnet)."""
    return Environment(settings.DERIBIT_ENV)


def agent_client() -> DeribitClient:
    """The configured client; in `sim` without credentials, the simulator's built-in key.

    Why: `exchange_client()` passes empty credentials when none are configured, and the
    simulator's private API then refuses every call, so the offline demo could never trade.
    """
    if settings.DERIBIT_ENV == "sim" and not settings.DERIBIT_CLIENT_ID:
        return DeribitClient(
            settings.DERIBIT_BASE_URL,
            SIM_CLIENT_ID,
            SIM_CLIENT_SECRET,
            timeout_s=float(settings.DERIBIT_TIMEOUT_S),
        )
    return exchange_client()

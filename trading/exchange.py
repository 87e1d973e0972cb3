"""The one Django-aware piece of Deribit connectivity: build the client from settings.

Everything else in `trading.deribit` is plain Python; services, tasks and commands call
`exchange_client()` instead of reading DERIBIT_* settings themselves.
"""

from __future__ import annotations

from django.conf import settings

from trading.deribit.client import DeribitClient
from trading.deribit.rpc import RetryPolicy


def exchange_client(
    *, timeout_s: float | None = None, retry: RetryPolicy | None = None
) -> DeribitClient:
    """A `DeribitClient` for the configured environment (sim, testnet or mainnet).

    Mainnet is allowed only when `DERIBIT_ENV` is "mainnet": the settings module has already
    enforced the second confirmation at start-up, and the client refuses the mainnet URL
    otherwise. Probes (the health check) pass a short `timeout_s` and a single-attempt `retry`.
    """
    return DeribitClient(
        settings.DERIBIT_BASE_URL,
        settings.DERIBIT_CLIENT_ID,
        settings.DERIBIT_CLIENT_SECRET,
        timeout_s=float(timeout_s if timeout_s is not None else settings.DERIBIT_TIMEOUT_S),
        allow_mainnet=settings.DERIBIT_ENV == "mainnet",
        retry=retry,
    )


def market_data_venue() -> str:
    """Where research reads public market data: `mainnet-public`, or the configured environment."""
    if settings.DERIBIT_MARKET_DATA == "mainnet_public":
        return "mainnet-public"
    return str(settings.DERIBIT_ENV)


def market_data_client(*, timeout_s: float | None = None) -> DeribitClient:
    """The client research reads public market data with (backtest history, the harvester).

    With `DERIBIT_MARKET_DATA=mainnet_public` it is a public-only client of Deribit's mainnet
    public API (`DERIBIT_PUBLIC_DATA_URL`): no keys, every private method and `public/auth`
    refused before anything is sent. Otherwise it is the configured environment's client.
    """
    if settings.DERIBIT_MARKET_DATA != "mainnet_public":
        return exchange_client(timeout_s=timeout_s)
    return DeribitClient(
        settings.DERIBIT_PUBLIC_DATA_URL,
        timeout_s=float(timeout_s if timeout_s is not None else settings.DERIBIT_TIMEOUT_S),
        public_only=True,
    )


def exchange_time_ms() -> int:
    """The configured exchange's clock (ms), asked once with a short timeout and no retry: the
    `/health` probe (`settings.HEALTH_EXCHANGE_TIME`, so `optionsdesk` imports no app)."""
    from trading.deribit.rpc import RetryPolicy

    with exchange_client(timeout_s=3.0, retry=RetryPolicy(max_attempts=1)) as client:
        return int(client.get_time())

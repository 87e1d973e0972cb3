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

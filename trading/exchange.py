"""The one Django-aware piece of Deribit connectivity: build the client from settings.

Everything else in `trading.deribit` is plain Python; services, tasks and commands call
`exchange_client()` instead of reading DERIBIT_* settings themselves.
"""

from __future__ import annotations

from django.conf import settings

from trading.deribit.client import DeribitClient


def exchange_client() -> DeribitClient:
    """A `DeribitClient` for the configured environment (sim, testnet or mainnet).

    Mainnet is allowed only when `DERIBIT_ENV` is "mainnet": the settings module has already
    enforced the second confirmation at start-up, and the client refuses the mainnet URL
    otherwise.
    """
    return DeribitClient(
        settings.DERIBIT_BASE_URL,
        settings.DERIBIT_CLIENT_ID,
        settings.DERIBIT_CLIENT_SECRET,
        timeout_s=float(settings.DERIBIT_TIMEOUT_S),
        allow_mainnet=settings.DERIBIT_ENV == "mainnet",
    )

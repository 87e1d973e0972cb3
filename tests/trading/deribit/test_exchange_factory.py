"""`trading.exchange.exchange_client()` builds the client from Django settings."""

from __future__ import annotations

import pytest
from django.test import override_settings

from trading.deribit.errors import MainnetRefusedError
from trading.exchange import exchange_client


@override_settings(
    DERIBIT_ENV="sim",
    DERIBIT_BASE_URL="http://127.0.0.1:8082/api/v2",
    DERIBIT_CLIENT_ID="optionsdesk-sim",
    DERIBIT_CLIENT_SECRET="optionsdesk-sim-secret",
    DERIBIT_TIMEOUT_S=3.5,
)
def test_it_builds_the_client_from_settings() -> None:
    with exchange_client() as client:
        assert client.base_url == "http://127.0.0.1:8082/api/v2"
        assert client.client_id == "optionsdesk-sim"
        assert client.timeout_s == 3.5
        assert "optionsdesk-sim-secret" not in repr(client)


@override_settings(DERIBIT_ENV="testnet", DERIBIT_BASE_URL="https://www.deribit.com/api/v2")
def test_it_refuses_a_mainnet_url_unless_the_environment_is_mainnet() -> None:
    with pytest.raises(MainnetRefusedError):
        exchange_client()


@override_settings(DERIBIT_ENV="mainnet", DERIBIT_BASE_URL="https://www.deribit.com/api/v2")
def test_it_allows_mainnet_once_settings_have_opted_in() -> None:
    with exchange_client() as client:
        assert client.base_url == "https://www.deribit.com/api/v2"

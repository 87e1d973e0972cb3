"""Research on mainnet's public market data: no keys, no real-money confirmation, no private call.

A loopback simulator stands in for Deribit's public API (it answers the same methods in the
same shapes); the settings point the research data venue at it as they would at mainnet.
"""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from django.core.management import call_command

from backtests.models import BacktestRun
from tests.trading.agent_helpers import SIM_START
from trading.deribit.client import DeribitClient
from trading.deribit.errors import PublicOnlyError
from trading.exchange import market_data_client, market_data_venue

pytestmark = pytest.mark.django_db


@pytest.fixture
def mainnet_public(settings, tmp_path, sim_server):
    settings.DERIBIT_ENV = "sim"
    settings.DERIBIT_MARKET_DATA = "mainnet_public"
    settings.DERIBIT_PUBLIC_DATA_URL = sim_server.base_url
    settings.VAR_DIR = tmp_path
    return sim_server


def _private_or_auth(counts: dict[str, int]) -> list[str]:
    return [m for m in counts if m.startswith("private/") or m == "public/auth"]


def test_a_backtest_runs_on_mainnet_public_history_with_no_keys(mainnet_public):
    start = (SIM_START - timedelta(days=6)).date().isoformat()
    out = io.StringIO()
    call_command(
        "run_backtest",
        *("--source", "deribit_history", "--start", start, "--days", "4", "--ivrv-min", "0"),
        stdout=out,
    )
    run = BacktestRun.objects.get()
    assert run.status == BacktestRun.Status.SUCCEEDED, run.error
    assert run.provenance["details"]["venue"] == "mainnet-public"
    counts = dict(mainnet_public.app.exchange.request_counts)
    assert any(m.startswith("public/get_tradingview_chart_data") for m in counts), counts
    assert not _private_or_auth(counts)


def test_a_private_call_through_the_research_client_is_refused_before_sending(mainnet_public):
    assert market_data_venue() == "mainnet-public"
    client = market_data_client()
    before = dict(mainnet_public.app.exchange.request_counts)
    with pytest.raises(PublicOnlyError, match="private/get_account_summary refused"):
        client.get_account_summary("BTC")
    with pytest.raises(PublicOnlyError):
        client.sell("BTC-PERPETUAL", Decimal(10), price=Decimal(1))
    assert dict(mainnet_public.app.exchange.request_counts) == before


def test_the_real_mainnet_url_needs_no_confirmation_for_public_data_only():
    sent: list[str] = []

    def transport(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return httpx.Response(500)

    client = DeribitClient(
        "https://www.deribit.com/api/v2", public_only=True, transport=httpx.MockTransport(transport)
    )
    with pytest.raises(PublicOnlyError):
        client.authenticate()
    with pytest.raises(PublicOnlyError):
        client.get_positions("BTC")
    assert not sent


def test_without_the_setting_research_reads_the_configured_environment(settings):
    settings.DERIBIT_MARKET_DATA = "configured"
    settings.DERIBIT_ENV = "sim"
    assert market_data_venue() == "sim"
    assert not market_data_client().public_only

"""Fixtures of the security tests: a position on the exchange that our books never recorded."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.trading.agent_helpers import CLIENT_ID, CLIENT_SECRET


@pytest.fixture
def drift(agent_settings, sim_server, sim_client, settings) -> str:
    """A short call on the exchange our books never recorded; the API's client points at it."""
    settings.DERIBIT_BASE_URL = sim_server.base_url
    settings.DERIBIT_CLIENT_ID = CLIENT_ID
    settings.DERIBIT_CLIENT_SECRET = CLIENT_SECRET
    rows = sim_client.get_book_summary_by_currency("BTC", "option")
    name = next(
        r.instrument_name
        for r in rows
        if r.instrument_name.endswith("-C") and r.bid_price and r.instrument_name[4:9] == "19DEC"
    )
    bid = next(r.bid_price for r in rows if r.instrument_name == name)
    sim_client.sell(
        name, Decimal("0.2"), price=Decimal(str(bid)), time_in_force="immediate_or_cancel"
    )
    return name

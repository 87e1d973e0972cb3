"""Issue #11's reproduction, end to end through the API: with the kill switch on,
`POST /api/agent/reconcile {"action": "close"}` sent a live market buy that filled.

Kept free of the order gate's names so that it runs (and fails) on the code before the gate.
"""
# ruff: noqa: F811 - fixtures are imported from tests.trading.agent_helpers

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.trading.agent_helpers import (  # noqa: F401 - fixtures
    CLIENT_ID,
    CLIENT_SECRET,
    agent_settings,
    short_size,
    sim_client,
    sim_exchange,
    sim_server,
)
from trading.services import controls_update

pytestmark = pytest.mark.django_db


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


def _close(client) -> dict:
    response = client.post(
        "/api/agent/reconcile", {"action": "close"}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_kill_switch_on_reconcile_close_through_the_api_sends_nothing(
    drift, sim_exchange, sim_client, logged_in_client
):
    controls_update(changes={"dry_run": False, "kill_switch": True}, user="test")
    sent_before = len(sim_exchange.orders)
    _close(logged_in_client)
    assert len(sim_exchange.orders) == sent_before, "an order reached the exchange"
    assert short_size(sim_client, drift) == Decimal("-0.2")


def test_without_the_kill_switch_the_same_close_does_send(
    drift, sim_exchange, sim_client, logged_in_client
):
    # The control case: the path is live, so the test above can fail.
    controls_update(changes={"dry_run": False}, user="test")
    sent_before = len(sim_exchange.orders)
    _close(logged_in_client)
    assert len(sim_exchange.orders) == sent_before + 1
    assert short_size(sim_client, drift) == 0

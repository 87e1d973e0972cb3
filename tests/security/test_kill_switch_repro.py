"""Issue #11's reproduction, end to end through the API: with the kill switch on,
`POST /api/agent/reconcile {"action": "close"}` sent a live market buy that filled.

Kept free of the order gate's names so that it runs (and fails) on the code before the gate.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.trading.agent_helpers import short_size
from trading.services import controls_update

pytestmark = pytest.mark.django_db


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

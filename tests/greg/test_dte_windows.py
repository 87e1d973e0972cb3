"""DTE windows as the rules say, end to end: on a date whose listing has no expiry in a
strategy's window, the evaluation says so (stored, in the Bots tab and the API) and no
structure is built on another expiry; on a date with one, the legs lie inside it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from greg.models import GregDecision
from greg.services.evaluation import greg_evaluate
from tests.trading.agent_helpers import SIM_START, make_agent_client, make_vrp_exchange
from trading.deribit.simulator import ServerThread, create_app

pytestmark = pytest.mark.django_db

STANDARD = "not buildable: no listed expiry within 25-45 DTE (target 30-45); listed DTE: "


@pytest.fixture
def mid_december_client() -> Iterator[Any]:
    """A simulator on 2025-12-10: listed 1-4, 9, 16, then 51 DTE (nothing in 17-50)."""
    exchange = make_vrp_exchange(start=SIM_START)
    with (
        ServerThread(create_app(exchange), port=0) as server,
        make_agent_client(server.base_url) as client,
    ):
        yield client


def test_unbuildable_windows_are_shown_with_the_reason_in_bots_and_api(
    agent_settings, mid_december_client, logged_in_client, client_as
):
    greg_evaluate(client=mid_december_client, underlyings=["BTC"])
    row = GregDecision.objects.get(kind="evaluation", underlying="BTC")
    structures = row.structures
    for strategy in ("STRATEGY_A_STRADDLE", "STRATEGY_A_STRANGLE", "STRATEGY_C_SHORT_PUT"):
        assert structures[strategy]["ok"] is False
        assert structures[strategy]["reason"].startswith(STANDARD)
        assert "16.0, 51.0" in structures[strategy]["reason"]
    assert "no listed back expiry" in structures["STRATEGY_B_CALENDAR"]["reason"]
    assert "within 20-35 DTE" in structures["STRATEGY_F_BULL_PUT_SPREAD"]["reason"]
    assert not any(s["ok"] for s in structures.values())

    html = logged_in_client.get("/bots/").content.decode()
    assert f"structure: {STANDARD}" in html
    api = client_as("viewer").get("/api/greg/decisions?kind=evaluation").json()
    straddle = api["results"][0]["structures"]["STRATEGY_A_STRADDLE"]
    assert straddle == {"ok": False, "reason": structures["STRATEGY_A_STRADDLE"]["reason"]}


def test_on_a_date_with_every_window_listed_the_legs_lie_inside_them(agent_settings, sim_client):
    # tests/greg/conftest.py starts Greg's simulator on 2025-12-29.
    greg_evaluate(client=sim_client, underlyings=["ETH"])
    structures = GregDecision.objects.get(kind="evaluation", underlying="ETH").structures
    windows = {"STRATEGY_F_BULL_PUT_SPREAD": (20, 35), "STRATEGY_F_BEAR_CALL_SPREAD": (20, 35)}
    for strategy, quote in structures.items():
        assert quote["ok"], (strategy, quote)
        low, high = windows.get(strategy, (30, 45))
        if strategy == "STRATEGY_B_CALENDAR":
            front, back = quote["legs"]
            assert 7 <= front["dte_days"] <= 14
            assert low <= back["dte_days"] <= high
            continue
        assert all(low <= leg["dte_days"] <= high for leg in quote["legs"]), strategy
        assert quote["dte_note"] == ""

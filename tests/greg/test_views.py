"""The Bots and Greg Lab tabs render what Greg evaluated and holds; operators execute."""

from __future__ import annotations

import pytest

from greg.models import GregDecision
from greg.services import greg_settings_update
from greg.services.evaluation import greg_evaluate
from greg.services.notes import observer_notes
from greg.services.positions import positions_review, sandbox_open
from tests.trading.agent_helpers import make_agent_client
from trading.models import Order
from trading.services import controls_update

pytestmark = pytest.mark.django_db


@pytest.fixture
def greg_state(agent_settings, sim_client):
    greg_evaluate(client=sim_client, underlyings=["BTC", "ETH"])
    sandbox_open(
        client=sim_client,
        underlyings=["BTC"],
        run_id="view-run",
        strategies=["STRATEGY_A_STRADDLE", "STRATEGY_C_SHORT_PUT"],
    )
    positions_review(client=sim_client)


def test_bots_tab_shows_sensors_and_all_eight_outcomes(greg_state, logged_in_client):
    html = logged_in_client.get("/bots/").content.decode()
    for name in ("vrp_30d", "skew_25d", "price_vs_ma200", "predicted_funding_rate"):
        assert name in html
    assert "(put \u2212 call)" in html
    for outcome in (
        "STRATEGY_B_CALENDAR",
        "STRATEGY_D_IRON_BUTTERFLY",
        "STRATEGY_A_STRADDLE",
        "STRATEGY_A_STRANGLE",
        "STRATEGY_C_SHORT_PUT",
        "STRATEGY_F_BULL_PUT_SPREAD",
        "STRATEGY_F_BEAR_CALL_SPREAD",
        "NO_TRADE",
    ):
        assert outcome in html
    assert 'data-testid="chosen-BTC"' in html
    assert "needs 200 daily bars" in html


def test_lab_tab_shows_banner_positions_filters_and_notes(greg_state, logged_in_client):
    html = logged_in_client.get("/greg/").content.decode()
    assert "ADVICE ONLY" in html
    assert "view-run" in html
    assert 'data-testid="badge-' in html
    assert "SANDBOX" in html
    assert "view hedge" in html
    none = logged_in_client.get("/greg/?sandbox=no").content.decode()
    assert "No Greg positions match" in none
    notes = logged_in_client.get("/greg/notes/").content.decode()
    assert "template (no LLM configured" in notes
    assert "2 open positions" in notes


def test_observer_notes_come_from_the_llm_when_configured(greg_state, fake, llm_server):
    from tests.fake_openai import answer, make_llm_client

    fake.queue(answer("- Watch the BTC straddle."))
    notes = observer_notes(llm=make_llm_client(llm_server))
    assert notes.kind == "llm"
    assert "straddle" in notes.text


def test_operator_executes_a_suggestion_from_the_lab_with_confirmation(
    agent_settings, sim_server, sim_client, client_as, monkeypatch
):
    monkeypatch.setattr(
        "greg.services.exchange.greg_client", lambda: make_agent_client(sim_server.base_url)
    )
    rows = greg_evaluate(client=sim_client, underlyings=["BTC"])
    quote = rows[0].structures["STRATEGY_C_SHORT_PUT"]
    suggestion = GregDecision.objects.create(
        kind="suggestion",
        action="OPEN",
        outcome="advised",
        underlying="BTC",
        strategy="STRATEGY_C_SHORT_PUT",
        structures={"STRATEGY_C_SHORT_PUT": quote},
    )
    operator = client_as("operator")
    assert f"execute-{suggestion.pk}" in operator.get("/greg/").content.decode()
    refused = operator.post(
        f"/greg/execute/{suggestion.pk}/", {"confirm": "yes", "expect_dry_run": "true"}, follow=True
    )
    assert "ADVICE ONLY mode" in refused.content.decode()
    greg_settings_update(
        changes={
            "mode": "live",
            "master_switch": True,
            "enabled_strategies": ["STRATEGY_C_SHORT_PUT"],
        },
        user="op",
        source="test",
    )
    controls_update(changes={"dry_run": True}, user="op")
    done = operator.post(
        f"/greg/execute/{suggestion.pk}/", {"confirm": "yes", "expect_dry_run": "true"}, follow=True
    )
    assert "Executed through the order gate" in done.content.decode()
    assert Order.objects.filter(origin="greg").count() == 1
    viewer = client_as("viewer")
    assert viewer.post(f"/greg/execute/{suggestion.pk}/", {"confirm": "yes"}).status_code == 403

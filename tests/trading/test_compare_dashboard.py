"""Rules vs LLM on the dashboard (`/compare/`) and the API (`/api/agent/comparison`).

The numbers come from real ticks: the VRP simulator and the fake OpenAI server on loopback.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from optionsdesk.llm import LLMClient, OpenAICompatibleClient, UnavailableLLMClient
from tests.fake_openai import FakeOpenAIServer, Scripted, decision, make_llm_client
from trading.deribit.client import DeribitClient
from trading.domain.proposal import ActionType, DecisionSource, OrderLeg, Proposal
from trading.models import AgentRun, Decision
from trading.services import controls_update, effective_params_load, tick_run
from trading.services.state import state_build

pytestmark = pytest.mark.django_db

COMPARE_URL = "/api/agent/comparison"


@pytest.fixture
def llm(llm_server: FakeOpenAIServer) -> OpenAICompatibleClient:
    return make_llm_client(llm_server)


@pytest.fixture
def api(admin_user) -> APIClient:
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


def tick(
    client: DeribitClient, llm: LLMClient, *, mode: str, kill_switch: bool = False
) -> Decision:
    """One real tick in `mode` (the kill switch makes the rules do nothing)."""
    controls_update(changes={"decision_mode": mode, "kill_switch": kill_switch}, user="test")
    outcome = tick_run(trigger="test", client=client, seed=1, llm=llm)
    assert outcome.run.status == AgentRun.Status.OK, outcome.summary
    assert outcome.decision is not None
    outcome.decision.refresh_from_db()
    return outcome.decision


def ranked_btc_call(client: DeribitClient) -> str:
    """The lowest-ranked BTC candidate this tick (the simulator's clock is manual, so it holds)."""
    state = state_build(client=client, params=effective_params_load())
    return state.evaluations["BTC"].ranked[-1].instrument_name


@pytest.fixture
def four_ticks(agent_settings, sim_client, fake, llm) -> list[Decision]:
    """Four ticks that consulted the LLM, oldest first, one of each kind the page tells apart.

    1. hybrid_shadow, kill switch on: the rules and the LLM both do nothing (agree, by choice);
    2. llm_only, kill switch on: the LLM opens a call (it acts; the risk engine refuses it)
       while the rules' shadow does nothing (disagree);
    3. hybrid_shadow: the rules open a call, the LLM refuses to answer (a failure: not compared);
    4. llm_only with no LLM: the rules decide, there is no LLM proposal (not compared).
    """
    pick = ranked_btc_call(sim_client)
    fake.queue(decision("DO_NOTHING", reasoning="calm"))
    fake.queue(decision("OPEN_COVERED_CALL", symbol=pick, size=0.1, reasoning="rich IV"))
    fake.queue(Scripted(refusal="I can't help with trading."))
    rows = [
        tick(sim_client, llm, mode="hybrid_shadow", kill_switch=True),
        tick(sim_client, llm, mode="llm_only", kill_switch=True),
        tick(sim_client, llm, mode="hybrid_shadow"),
        tick(sim_client, UnavailableLLMClient("no key in this test"), mode="llm_only"),
    ]
    assert rows[1].action == "OPEN_COVERED_CALL"
    assert rows[1].decision_source == "llm"
    assert rows[2].action == "OPEN_COVERED_CALL", rows[2].reason
    tick(sim_client, llm, mode="rule_only")  # never consults the LLM: left out
    return rows


def test_the_api_pairs_real_ticks_and_sums_them_up(four_ticks, api):
    body = api.get(COMPARE_URL).json()
    assert body["limit"] == 200
    summary = body["summary"]
    assert (summary["ticks"], summary["compared"], summary["agreements"]) == (4, 2, 1)
    assert summary["agreement_rate"] == pytest.approx(1 / 2)
    assert summary["acted"] == {"rules": 3, "llm": 1}
    statuses = {k: v for k, v in summary["llm_statuses"].items() if v}
    assert statuses == {"ok": 2, "refused": 1, "unavailable": 1}
    assert summary["llm_do_nothing_by_choice"] == 1
    assert summary["llm_do_nothing_by_failure"] == 1
    assert summary["llm_without_proposal"] == 1
    assert summary["actions"]["rules"]["DO_NOTHING"] == 2
    assert summary["actions"]["rules"]["OPEN_COVERED_CALL"] == 2
    assert summary["actions"]["llm"]["OPEN_COVERED_CALL"] == 1
    assert summary["mean_tokens"] == 150.0  # the fake server's 120 + 30 per call
    assert summary["median_latency_ms"] is not None

    newest, refused, llm_open, calm = body["rows"]
    assert [r["decision_id"] for r in body["rows"]] == [d.pk for d in reversed(four_ticks)]
    assert (newest["llm_action"], newest["agree"], newest["llm_status"]) == (
        None,
        None,
        "unavailable",
    )
    assert (refused["acted"], refused["llm_action"], refused["llm_failed"]) == (
        "rules",
        "DO_NOTHING",
        True,
    )
    rule_call = four_ticks[2].proposal["legs"][0]["instrument_name"]
    assert refused["rule_instruments"] == [rule_call]
    assert refused["agree"] is None  # its DO_NOTHING is the refusal's fallback, not a view
    assert (llm_open["acted"], llm_open["rule_action"], llm_open["agree"]) == (
        "llm",
        "DO_NOTHING",
        False,
    )
    assert llm_open["llm_instruments"] == [four_ticks[1].proposal["legs"][0]["instrument_name"]]
    assert llm_open["verdict_code"] == four_ticks[1].verdict_code
    assert llm_open["executed"] is False
    assert (calm["agree"], calm["total_tokens"]) == (True, 150)


def test_the_api_limit_takes_the_newest_ticks(four_ticks, api):
    body = api.get(COMPARE_URL, {"limit": 2}).json()
    assert body["limit"] == 2
    assert [r["decision_id"] for r in body["rows"]] == [four_ticks[3].pk, four_ticks[2].pk]
    assert body["summary"]["ticks"] == 2
    assert body["summary"]["compared"] == 0  # no LLM, then a refusal: nothing to compare


@pytest.mark.parametrize("limit", ["0", "-1", "2001", "many", "2.5"])
def test_a_bad_limit_is_a_400_in_the_error_envelope(api, limit):
    response = api.get(COMPARE_URL, {"limit": limit})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["status"] == 400
    assert "limit" in error["details"]


def test_the_api_needs_a_login():
    assert APIClient().get(COMPARE_URL).status_code == 401


def test_the_api_says_plainly_when_nothing_was_compared(api):
    body = api.get(COMPARE_URL).json()
    assert body["rows"] == []
    assert body["summary"]["ticks"] == 0
    assert body["summary"]["agreement_rate"] is None


def test_the_page_shows_the_summary_the_picture_and_the_table(four_ticks, logged_in_client):
    page = logged_in_client.get(reverse("trading:compare")).content.decode()
    assert "<h2>Rules vs LLM</h2>" in page
    assert 'data-testid="agreement-rate">50%<' in page
    assert "1 of 2 ticks the LLM answered, among the last 4" in page
    figure = page[page.index('data-testid="compare-chart"') :]
    assert "<svg" in figure.split("</figure>")[0]
    table = page[page.index('data-testid="compare-table"') :]
    assert table.count('data-testid="compare-row"') == 4
    assert four_ticks[2].proposal["legs"][0]["instrument_name"] in table
    assert "refused" in table
    assert "no proposal" in table
    assert "by choice 1 · after a failure 1 · no proposal at all 1" in page
    assert 'data-testid="compare-empty"' not in page


def test_the_page_limit_is_selectable_and_a_bad_one_falls_back(four_ticks, logged_in_client):
    url = reverse("trading:compare")
    page = logged_in_client.get(url, {"limit": 1}).content.decode()
    assert page.count('data-testid="compare-row"') == 1
    assert '<option value="1" selected>' in page
    page = logged_in_client.get(url, {"limit": "lots"}).content.decode()
    assert 'data-testid="limit-error"' in page
    assert page.count('data-testid="compare-row"') == 4


def test_the_empty_page_says_how_to_start_comparing(logged_in_client):
    page = logged_in_client.get(reverse("trading:compare")).content.decode()
    assert 'data-testid="compare-empty"' in page
    assert "Switch the decision mode to hybrid (LLM in shadow)" in page
    assert "<svg" not in page
    assert 'data-testid="compare-table"' not in page


def test_the_page_needs_a_login(client):
    response = client.get(reverse("trading:compare"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_live_tab_links_to_it_and_htmx_gets_the_agreement_of_the_last_50(
    four_ticks, logged_in_client
):
    live = logged_in_client.get(reverse("trading:live")).content.decode()
    assert f'href="{reverse("trading:compare")}"' in live
    assert f'hx-get="{reverse("trading:compare")}?limit=50"' in live
    fragment = logged_in_client.get(
        reverse("trading:compare"), {"limit": 50}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert fragment.lstrip().startswith('<span data-testid="agreement">')
    assert "50%" in fragment
    assert "<h2>" not in fragment


# ------------------------------------------------------------------------------ in a browser


def _leg(name: str) -> OrderLeg:
    return OrderLeg(
        instrument_name=name, direction="sell", amount=Decimal("0.1"), limit_price_coin=Decimal(1)
    )


def _stored_decision(minutes_ago: int, rule: Proposal, llm: Proposal) -> Decision:
    """A hybrid_shadow decision row as the tick stores it (the rules act, the LLM is shadow)."""
    return Decision.objects.create(
        decided_at=timezone.now() - timedelta(minutes=minutes_ago),
        market_time=timezone.now(),
        environment="sim",
        mode="research",
        policy_version="test",
        params_hash="0" * 12,
        decision_mode="hybrid_shadow",
        decision_source=rule.source.value,
        dry_run=True,
        action=rule.action.value,
        verdict_code="approved",
        proposal=rule.as_record(),
        shadow_proposal=llm.as_record(),
        llm_record={"status": "ok", "issues": [], "total_tokens": 150, "latency_ms": 12.5},
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_browser_reads_the_agreement_on_the_compare_page(live_server, browser_login):
    call = "BTC-26DEC25-105000-C"
    opens = {
        source: Proposal(
            action=ActionType.OPEN_COVERED_CALL,
            underlying="BTC",
            legs=(_leg(call),),
            source=source,
        )
        for source in DecisionSource
    }
    idle_llm = Proposal.do_nothing("prefer to wait", source=DecisionSource.LLM)
    for minutes_ago in (30, 20, 10):
        _stored_decision(minutes_ago, opens[DecisionSource.RULE], opens[DecisionSource.LLM])
    _stored_decision(5, opens[DecisionSource.RULE], idle_llm)
    page = browser_login(reverse("trading:compare"))
    page.wait_for_selector("[data-testid=compare-table]")
    assert page.locator("[data-testid=agreement-rate]").inner_text() == "75%"
    assert page.locator("[data-testid=compare-row]").count() == 4
    assert page.locator("[data-testid=compare-chart] svg").count() == 1
    # The Live Agent tab loads the same figure for its last 50 through htmx.
    page.goto(f"{live_server.url}{reverse('trading:live')}")
    page.wait_for_selector("[data-testid=compare-section] [data-testid=agreement-rate]")
    assert (
        page.locator("[data-testid=compare-section] [data-testid=agreement-rate]").inner_text()
        == "75%"
    )
    page.click("[data-testid=compare-link]")
    page.wait_for_selector("[data-testid=compare-table]")


def test_the_live_timeline_says_who_decided_and_what_the_shadow_proposed(
    four_ticks, logged_in_client
):
    page = logged_in_client.get(reverse("trading:live")).content.decode()
    cells = page.split('data-testid="decided-by">')[1:]
    by = [cell[: cell.index("</td>")] for cell in cells]
    # Newest first: rule_only, llm_only without an LLM, hybrid_shadow, llm_only, hybrid_shadow.
    assert by[0] == "rules"
    assert by[2].startswith("rules<br><small")
    assert "shadow: DO_NOTHING" in by[2]
    assert by[3].startswith("LLM<br><small")
    assert "shadow: DO_NOTHING" in by[3]
    assert "shadow: DO_NOTHING" in by[4]

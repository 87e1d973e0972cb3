"""The Live Agent tab: page, htmx fragment, and what a tick puts on it."""

from __future__ import annotations

from typing import cast

import pytest
from django.urls import reverse

from trading.models import Order
from trading.services import tick_run

pytestmark = pytest.mark.django_db


def test_the_empty_tab_says_nothing_happened_yet(logged_in_client):
    page = logged_in_client.get(reverse("trading:live")).content.decode()
    assert "<h2>Live Agent</h2>" in page
    assert 'data-testid="empty"' in page


def test_after_a_tick_it_shows_spot_mode_action_candidates_and_timeline(
    agent_settings, sim_client, logged_in_client
):
    outcome = tick_run(trigger="test", client=sim_client, seed=1)
    page = logged_in_client.get(reverse("trading:live")).content.decode()
    assert "RESEARCH · exploring 25%" in page
    assert "OPEN_COVERED_CALL" in page
    assert outcome.orders[0].instrument_name in page
    for testid in ("spot", "positions", "candidates", "timeline", "last-action"):
        assert f'data-testid="{testid}"' in page


def test_htmx_polls_get_only_the_fragment(logged_in_client):
    html = logged_in_client.get(reverse("trading:live"), HTTP_HX_REQUEST="true").content.decode()
    assert html.lstrip().startswith('<div id="live"')
    assert "<h2>" not in html


def test_the_rules_vs_llm_figure_loads_once_outside_the_polled_fragment(logged_in_client):
    page = logged_in_client.get(reverse("trading:live")).content.decode()
    poll = logged_in_client.get(reverse("trading:live"), HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="load"' in page
    assert 'data-testid="compare-section"' in page
    assert 'hx-trigger="load"' not in poll
    assert 'data-testid="compare-section"' not in poll


def test_its_links_come_from_the_url_names(logged_in_client):
    page = logged_in_client.get(reverse("trading:live")).content.decode()
    assert f'href="{reverse("agent-status")}"' in page


def test_the_timeline_shows_decisions_and_their_orders_from_factory_rows(logged_in_client):
    from tests.factories import CALL, DecisionFactory, OrderFactory, PositionFactory

    DecisionFactory.create_batch(2)
    order = cast(Order, OrderFactory())
    PositionFactory()
    page = logged_in_client.get(reverse("trading:live")).content.decode()
    timeline = page[page.index('data-testid="timeline"') :]
    assert timeline.count('data-testid="decided-by"') == 3
    assert f"sell 0.1000 {CALL} [simulated]" in timeline
    assert order.decision is not None
    assert order.decision.reason in timeline
    assert CALL in page[page.index('data-testid="positions"') :]

"""Reconciliation finds drift between our positions and the exchange's, in each mode."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.trading.agent_helpers import short_size
from trading.models import Position, ReconciliationDiscrepancy
from trading.services import controls_update, reconcile_run

pytestmark = pytest.mark.django_db
GHOST = "BTC-19DEC25-120000-C"  # ours, not on the exchange
Kind = ReconciliationDiscrepancy.Kind


@pytest.fixture
def drift(agent_settings, sim_client) -> str:
    """One short call on the exchange we never booked, one booked call the exchange lacks."""
    rows = sim_client.get_book_summary_by_currency("BTC", "option")
    name = next(
        r.instrument_name
        for r in rows
        if r.instrument_name.startswith("BTC-19DEC25")
        and r.instrument_name.endswith("-C")
        and r.bid_price
    )
    bid = next(r.bid_price for r in rows if r.instrument_name == name)
    sim_client.sell(
        name, Decimal("0.2"), price=Decimal(str(bid)), time_in_force="immediate_or_cancel"
    )
    assert short_size(sim_client, name) < 0
    Position.objects.create(instrument_name=GHOST, currency="BTC", size=Decimal("-0.1"))
    return name


def _kinds(run) -> dict[str, str]:
    return {item.instrument_name: item.kind for item in run.items.all()}


def test_report_records_both_sides_and_changes_nothing(drift, sim_client):
    run = reconcile_run(client=sim_client, action="report", trigger="test")
    assert _kinds(run) == {drift: Kind.UNKNOWN_ON_EXCHANGE, GHOST: Kind.MISSING_ON_EXCHANGE}
    assert Position.objects.filter(status="open").count() == 1


def test_flag_marks_our_rows_and_records_the_unknown_one(drift, sim_client):
    reconcile_run(client=sim_client, action="flag", trigger="test")
    assert Position.objects.get(instrument_name=GHOST).flagged
    assert Position.objects.get(instrument_name=drift).flagged


def test_adopt_takes_the_exchange_view_and_a_second_run_is_clean(drift, sim_client):
    reconcile_run(client=sim_client, action="adopt", trigger="test")
    assert Position.objects.get(instrument_name=GHOST).status == "closed"
    adopted = Position.objects.get(instrument_name=drift, status="open")
    assert adopted.size == short_size(sim_client, drift)
    assert adopted.origin == "adopted"
    assert not reconcile_run(client=sim_client, action="adopt", trigger="test").items.exists()


def test_close_buys_back_unknown_exposure_outside_dry_run(drift, sim_client):
    controls_update(changes={"dry_run": False}, user="test")
    run = reconcile_run(client=sim_client, action="close", trigger="test")
    assert short_size(sim_client, drift) == 0, [i.action_taken for i in run.items.all()]
    assert Position.objects.get(instrument_name=GHOST).status == "closed"


def test_close_in_dry_run_only_reports(drift, sim_client):
    run = reconcile_run(client=sim_client, action="close", trigger="test")
    assert short_size(sim_client, drift) < 0
    assert "dry run" in run.items.get(instrument_name=drift).action_taken


def test_the_control_decides_the_default_action(drift, sim_client):
    controls_update(changes={"reconcile_action": "flag"}, user="test")
    run = reconcile_run(client=sim_client, trigger="test")
    assert run.action == "flag"

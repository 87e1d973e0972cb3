"""Greg on the simulated exchange: evaluation, sandbox batches, the engines over simulated days,
and the covered-call agent and reconciliation leaving sandbox positions alone."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from greg.domain.spec import SENSOR_NAMES, STRATEGY_OUTCOMES
from greg.models import GregDecision, GregPosition, GregPositionLog
from greg.services.evaluation import greg_evaluate, underlying_evaluate
from greg.services.positions import positions_review, sandbox_close, sandbox_open
from tests.trading.agent_helpers import make_agent_client
from trading.models import Position

pytestmark = pytest.mark.django_db


def test_evaluation_computes_sensors_and_all_structures_in_few_requests(agent_settings, sim_client):
    evaluation = underlying_evaluate(client=sim_client, underlying="BTC")
    readings = {r.name: r for r in evaluation.sensors.readings}
    assert tuple(readings) == SENSOR_NAMES
    for name in ("vrp_30d", "vrp_7d", "skew_25d", "term_structure_spread", "adx_14d", "rsi_14d"):
        assert readings[name].value is not None, (name, readings[name].reason)
        assert readings[name].inputs_to is not None
    # The simulator keeps ~35 days: no 200-day MA, and the IV rank reaches back to harvested data.
    assert readings["price_vs_ma200"].value is None
    assert "needs 200 daily bars" in readings["price_vs_ma200"].reason
    assert evaluation.requests <= 15
    assert set(evaluation.structures) == set(STRATEGY_OUTCOMES)
    assert len(evaluation.decision.rules) == 9


def test_evaluate_logs_evaluations_and_suggestions(agent_settings, sim_client):
    rows = greg_evaluate(client=sim_client, underlyings=["BTC", "ETH"])
    assert [r.underlying for r in rows] == ["BTC", "ETH"]
    assert all(r.kind == "evaluation" and len(r.sensors) == 11 for r in rows)
    trades = [r for r in rows if r.strategy != "NO_TRADE"]
    assert GregDecision.objects.filter(kind="suggestion").count() == len(trades)


def test_sandbox_opens_every_strategy_and_the_engines_advise_over_days(
    agent_settings, sim_client, sim_exchange
):
    result = sandbox_open(client=sim_client, underlyings=["BTC", "ETH"], run_id="run-1")
    opened = {(p.underlying, p.strategy) for p in result.opened}
    assert opened == {(u, s) for u in ("BTC", "ETH") for s in STRATEGY_OUTCOMES}, result.skipped
    legs = Position.objects.filter(origin="GREG_SANDBOX", sandbox=True, paper=True)
    assert legs.count() == sum(len(p.legs) for p in result.opened)
    # At the same moment a second batch cannot reuse the same paper book rows.
    again = sandbox_open(client=sim_client, underlyings=["BTC"], strategies=["STRATEGY_A_STRADDLE"])
    assert not again.opened
    assert "already open" in again.skipped[0][2]
    dtes = []
    for _day in range(3):
        reviews = positions_review(client=sim_client)
        assert len(reviews) == 14
        dtes.append(reviews[0][1].dte_days)
        sim_exchange.clock.advance(86_400)
    assert dtes[0] > dtes[1] > dtes[2]
    straddle = GregPosition.objects.get(underlying="BTC", strategy="STRATEGY_A_STRADDLE")
    assert straddle.review["checks"]
    assert any("hedge" in c for c in straddle.review["checks"])
    assert GregPositionLog.objects.filter(position=straddle).exists()
    assert sandbox_close(run_id="run-1", client=sim_client) == 14
    assert not Position.objects.filter(origin="GREG_SANDBOX", status="open").exists()


def test_the_covered_call_agent_and_reconciliation_ignore_sandbox_positions(
    agent_settings, sim_client
):
    from trading.services import tick_run
    from trading.services.reconcile import reconcile_run
    from trading.services.state import portfolio_positions

    sandbox_open(client=sim_client, underlyings=["BTC"], strategies=["STRATEGY_A_STRADDLE"])
    assert Position.objects.filter(sandbox=True).count() == 2
    assert portfolio_positions((), dry_run=True) == ()
    run = reconcile_run(client=sim_client, trigger="test")
    assert (
        not run.items.filter(instrument_name__contains="BTC")
        .exclude(kind="unknown_on_exchange")
        .exists()
    )
    tick_run(trigger="test", client=sim_client, seed=1)
    assert Position.objects.filter(sandbox=True, status="open").count() == 2
    assert not Position.objects.filter(sandbox=False, strategy_id__startswith="greg").exists()


def test_sandbox_commands_open_and_close_a_batch(agent_settings, sim_server, monkeypatch, capsys):
    monkeypatch.setattr(
        "greg.services.exchange.greg_client", lambda: make_agent_client(sim_server.base_url)
    )
    call_command(
        "open_greg_sandbox_positions",
        "--underlying",
        "BTC,ETH",
        "--strategies",
        "STRATEGY_C_SHORT_PUT,STRATEGY_F_BULL_PUT_SPREAD",
        "--run-id",
        "cmd-run",
    )
    assert GregPosition.objects.filter(run_id="cmd-run", status="open").count() == 4
    call_command("close_greg_sandbox_positions", "--run-id", "cmd-run")
    assert GregPosition.objects.filter(run_id="cmd-run", status="closed").count() == 4
    out = capsys.readouterr().out
    assert "cmd-run" in out


def test_whatif_values_every_advised_suggestion(agent_settings, sim_client, sim_exchange):
    from greg.models import GregDecision
    from greg.services.reports import whatif_report

    rows = greg_evaluate(client=sim_client, underlyings=["BTC"])
    quote = rows[0].structures["STRATEGY_F_BULL_PUT_SPREAD"]
    GregDecision.objects.create(
        kind="suggestion",
        action="OPEN",
        outcome="advised",
        underlying="BTC",
        strategy="STRATEGY_F_BULL_PUT_SPREAD",
        structures={"STRATEGY_F_BULL_PUT_SPREAD": quote},
    )
    sim_exchange.clock.advance(2 * 86_400)
    report = whatif_report(client=sim_client)
    item = next(i for i in report["items"] if i["strategy"] == "STRATEGY_F_BULL_PUT_SPREAD")
    assert item["credit_usd"] == pytest.approx(quote["credit_usd"])
    assert item["pnl_usd"] != 0.0
    assert report["totals"]["STRATEGY_F_BULL_PUT_SPREAD"]["count"] >= 1


def test_the_beat_task_evaluates_and_reviews(agent_settings, sim_server, monkeypatch):
    from greg.tasks import greg_evaluate_task

    monkeypatch.setattr(
        "greg.services.exchange.greg_client", lambda: make_agent_client(sim_server.base_url)
    )
    summary = greg_evaluate_task.apply().get()
    assert set(summary["evaluations"]) == {"BTC", "ETH"}
    assert GregDecision.objects.filter(kind="evaluation").count() == 2


def test_whatif_command_and_task(agent_settings, sim_server, sim_client, monkeypatch, capsys):
    import json

    from greg.tasks import greg_whatif_task

    monkeypatch.setattr(
        "greg.services.exchange.greg_client", lambda: make_agent_client(sim_server.base_url)
    )
    rows = greg_evaluate(client=sim_client, underlyings=["ETH"])
    quote = rows[0].structures["STRATEGY_C_SHORT_PUT"]
    GregDecision.objects.create(
        kind="suggestion",
        action="OPEN",
        outcome="advised",
        underlying="ETH",
        strategy="STRATEGY_C_SHORT_PUT",
        structures={"STRATEGY_C_SHORT_PUT": quote},
    )
    call_command("greg_whatif_report", "--json")
    report = json.loads(capsys.readouterr().out)
    assert any(i["strategy"] == "STRATEGY_C_SHORT_PUT" for i in report["items"])
    call_command("greg_whatif_report", "--days", "7")
    assert "STRATEGY_C_SHORT_PUT" in capsys.readouterr().out
    summary = greg_whatif_task.apply(kwargs={"days": 7}).get()
    assert summary["items"] >= 1

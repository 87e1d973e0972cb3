"""One object of each kind an `{id}` operation reads or acts on, for the schemathesis run.

Schemathesis cannot guess an id that exists, so `seed_objects` stores one row per kind (in the
test database: a real dry-run tick on the simulator, the services where they are cheap, else
the rows those services write) and `config_with_ids` adds to the schemathesis config one
`[[operations]]` entry per kind that fixes the `id` of its operations (`OPERATIONS`). Every
`{id}` operation then answers with the object, and its 2xx responses and write paths are
checked against the schema. Operations that delete, close, roll or act get an object of their
own, so the reads keep theirs whatever order the operations run in."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.utils import timezone

from tests.builders import pick_call
from trading.deribit.client import DeribitClient

#: The seeded object each `{id}` operation gets, by kind (`seed_objects`' keys).
OPERATIONS: dict[str, tuple[str, ...]] = {
    "agent_decision": ("GET /api/agent/decisions/{id}",),
    "agent_order": ("GET /api/agent/orders/{id}",),
    "agent_position": ("GET /api/agent/positions/{id}",),
    # Archived by `POST /api/agent/paper-book`, which runs first: close and roll answer 409.
    "agent_position_closed": ("POST /api/agent/positions/{id}/close",),
    "agent_position_rolled": ("POST /api/agent/positions/{id}/roll",),
    "agent_reconcile": ("GET /api/agent/reconcile/{id}",),
    "backtest": (  # a finished single run; stopping it is a no-op
        "GET /api/backtests/{id}",
        "GET /api/backtests/{id}/download",
        "GET /api/backtests/{id}/trades",
        "POST /api/backtests/{id}/stop",
    ),
    "backtest_deleted": ("DELETE /api/backtests/{id}",),
    "backtest_grid": ("POST /api/backtests/{id}/resume",),
    "study": ("GET /api/backtests/studies/{id}", "GET /api/backtests/studies/{id}/regime"),
    "training": ("GET /api/backtests/training/{id}", "GET /api/backtests/training/{id}/download"),
    "calibration_decision": ("GET /api/calibration/decisions/{id}",),
    "calibration_harvest": ("GET /api/calibration/harvests/{id}",),
    "calibration_quality": ("GET /api/calibration/quality/{id}",),
    "calibration_regimes": ("GET /api/calibration/regimes/{id}",),
    "calibration_run": (
        "GET /api/calibration/runs/{id}",
        "POST /api/calibration/runs/{id}/apply",
        "POST /api/calibration/runs/{id}/hold",
    ),
    "chat": ("GET /api/chat/conversations/{id}",),
    "chat_deleted": ("DELETE /api/chat/conversations/{id}",),
    "greg_decision": ("GET /api/greg/decisions/{id}", "POST /api/greg/decisions/{id}/execute"),
    "greg_position": ("GET /api/greg/positions/{id}", "GET /api/greg/positions/{id}/logs"),
    "greg_position_acted": ("POST /api/greg/positions/{id}/act",),
    "steward_report": ("GET /api/steward/reports/{id}",),
}


def _two_calls(client: DeribitClient) -> tuple[str, str]:
    """Two calls the simulator quotes (bid and ask), near `pick_call`'s: one position each."""
    picked, _ = pick_call(client)
    calls = sorted(
        (i for i in client.get_instruments("BTC") if i.option_type == "call"),
        key=lambda i: (i.expiry != picked.expiry, abs((i.strike or 0) - (picked.strike or 0))),
    )
    quoted = [
        i.instrument_name
        for i in calls[:8]
        if (ticker := client.ticker(i.instrument_name)).best_bid_price and ticker.best_ask_price
    ]
    return quoted[0], quoted[1]


def _agent(client: DeribitClient) -> dict[str, int]:
    from tests.factories import PositionFactory
    from trading.models import (
        Decision,
        Order,
        Position,
        ReconcileAction,
        ReconciliationDiscrepancy,
        ReconciliationRun,
    )
    from trading.services import tick_run

    # A real dry-run tick: it sells a covered call on paper (decision, order, position) and
    # leaves the drawdown state and the risk report (`/api/agent/drawdown`, `/api/risk/...`).
    tick_run(trigger="test", client=client, seed=1)
    order = Order.objects.get()
    assert order.dry_run, "the tick went through the order gate in dry run"
    closed, rolled = (PositionFactory.create(instrument_name=name) for name in _two_calls(client))
    reconcile = ReconciliationRun.objects.create(
        trigger="test",
        action=ReconcileAction.REPORT,
        status="done",
        finished_at=timezone.now(),
        summary="1 discrepancy",
    )
    ReconciliationDiscrepancy.objects.create(
        run=reconcile,
        instrument_name=order.instrument_name,
        kind=ReconciliationDiscrepancy.Kind.SIZE_MISMATCH,
        local_size=Decimal("-0.1"),
        exchange_size=Decimal("-0.2"),
    )
    return {
        "agent_decision": Decision.objects.get().pk,
        "agent_order": order.pk,
        "agent_position": Position.objects.get(instrument_name=order.instrument_name).pk,
        "agent_position_closed": closed.pk,
        "agent_position_rolled": rolled.pk,
        "agent_reconcile": reconcile.pk,
    }


def _backtests(user: Any, out_dir: Path) -> dict[str, int]:
    from backtests import lab_services, services, training_services
    from backtests.domain.grid import GridSpec
    from backtests.models import BacktestRun
    from tests.backtests.conftest import SHORT_SOURCE, TRADING_CONFIG

    def done_run() -> BacktestRun:
        run = services.backtest_run_create(
            config=TRADING_CONFIG, source=SHORT_SOURCE, user=user, enqueue=False
        )
        services.backtest_run_execute(run_id=run.pk)
        return run

    run, doomed = done_run(), done_run()
    grid = services.grid_run_create(
        spec=GridSpec(base=TRADING_CONFIG, axes={"ivrv_min": [0, 1]}),
        source=SHORT_SOURCE,
        user=user,
        enqueue=False,
    )
    # Its cells done, so a resume (even `include_queued`) has nothing to send to a broker.
    grid.children.update(status=BacktestRun.Status.SUCCEEDED)
    study = lab_services.lab_study_create(
        kind="environment",
        source=SHORT_SOURCE,
        config=TRADING_CONFIG,
        user=user,
        enqueue=False,
    )
    lab_services.lab_study_execute(study_id=study.pk)
    training = training_services.training_run_create(
        source=SHORT_SOURCE, config=TRADING_CONFIG, profiles=["research"], user=user, enqueue=False
    )
    training_services.training_run_execute(run_id=training.pk, out_dir=out_dir / "training")
    return {
        "backtest": run.pk,
        "backtest_deleted": doomed.pk,
        "backtest_grid": grid.pk,
        "study": study.pk,
        "training": training.pk,
    }


def _calibration() -> dict[str, int]:
    from calibration.models import (
        CalibrationRun,
        DataQualityReport,
        HarvestRun,
        PolicyDecision,
        RegimeFit,
    )

    now = timezone.now()
    harvest = HarvestRun.objects.create(
        venue="sim",
        underlyings=["BTC"],
        rows=120,
        files=["BTC/2025-12-10.parquet"],
        duration_s=1.5,
        status=HarvestRun.Status.OK,
        finished_at=now,
        trigger="test",
    )
    quality = DataQualityReport.objects.create(
        underlying="BTC", day=now.date(), source_dir="BTC", snapshots=24, rows=120, verdict="ok"
    )
    run = CalibrationRun.objects.create(
        underlying="BTC",
        source=CalibrationRun.Source.HARVESTED,
        content_sha256="a" * 64,
        multipliers={"7-30d": 1.05},
        guardrail_ok=True,
        surface_vw_mae_volpts=0.12,
        fit={"expiries": []},
        files=["BTC/2025-12-10.parquet"],
        quality_report=quality,
    )
    decision = PolicyDecision.objects.create(
        underlying="BTC",
        calibration=run,
        outcome=PolicyDecision.Outcome.HELD,
        reasons=["seeded"],
    )
    regimes = RegimeFit.objects.create(
        underlying="BTC",
        source_file="BTC_volatility.parquet",
        content_sha256="b" * 64,
        n_regimes=2,
        features=["rv_24h", "iv_30d"],
        centroids=[[0.4, 0.5], [0.8, 0.9]],
        regimes=[
            {"mu": 0.5, "phi": 0.9, "sigma": 0.05, "se": 0.01, "centroid": [0.4, 0.5]},
            {"mu": 0.9, "phi": 0.8, "sigma": 0.1, "se": 0.02, "centroid": [0.8, 0.9]},
        ],
        transition=[[0.99, 0.01], [0.02, 0.98]],
        timeline=[["2025-12-10T00:00:00+00:00", 0]],
    )
    return {
        "calibration_decision": decision.pk,
        "calibration_harvest": harvest.pk,
        "calibration_quality": quality.pk,
        "calibration_regimes": regimes.pk,
        "calibration_run": run.pk,
    }


def _chat(user: Any) -> dict[str, int]:
    from trading.models import ChatMessage, Conversation

    kept, doomed = (Conversation.objects.create(user=user, title=t) for t in ("kept", "doomed"))
    ChatMessage.objects.create(conversation=kept, role=ChatMessage.Role.USER, content="status?")
    return {"chat": kept.pk, "chat_deleted": doomed.pk}


def _greg() -> dict[str, int]:
    from greg.models import GregDecision, GregPosition
    from greg.services.positions import position_log

    position, acted = (
        GregPosition.objects.create(
            underlying="BTC",
            strategy="STRATEGY_A_STRADDLE",
            strategy_id="greg_straddle",
            run_id="fuzz",
            entry_index_price=90_000,
            size_coin=Decimal("0.1"),
            credit_usd=1200,
            max_loss_usd=3000,
            margin_usd=4000,
            legs=[],
        )
        for _ in "ab"
    )
    position_log(position, "opened", "Opened on paper")
    suggestion = GregDecision.objects.create(
        kind="suggestion", action="OPEN", underlying="BTC", strategy="STRATEGY_C_SHORT_PUT"
    )
    return {
        "greg_decision": suggestion.pk,
        "greg_position": position.pk,
        "greg_position_acted": acted.pk,
    }


def _steward() -> dict[str, int]:
    from optionsdesk.llm import UnavailableLLMClient
    from steward.services import report_run

    report = report_run(trigger="test", llm=UnavailableLLMClient())
    assert report is not None
    return {"steward_report": report.pk}


def seed_objects(*, user: Any, client: DeribitClient, out_dir: Path) -> dict[str, int]:
    """Seed every kind of `OPERATIONS`; its id by kind.

    `client` talks to the simulator (the tick trades on it; the positions to close and roll
    are on its calls); `out_dir` receives the training run's files.
    """
    ids = {
        **_agent(client),
        **_backtests(user, out_dir),
        **_calibration(),
        **_chat(user),
        **_greg(),
        **_steward(),
    }
    assert set(ids) == set(OPERATIONS), set(ids) ^ set(OPERATIONS)
    return ids


def _id_type(schema: dict[str, Any], name: str) -> str:
    """The JSON type of operation `name`'s path `id` ("integer", or "string" with a pattern)."""
    method, path = name.split(" ", 1)
    parameters = schema["paths"][path][method.lower()]["parameters"]
    (id_schema,) = (p["schema"] for p in parameters if p["in"] == "path" and p["name"] == "id")
    return str(id_schema["type"])


def config_with_ids(config: str, ids: dict[str, int], schema: dict[str, Any]) -> str:
    """The schemathesis config `config` with an entry per kind fixing its operations' `id`.

    The value has the type the schema gives the `id` (a string for the backtests' patterns):
    schemathesis checks it against the schema to tell which of its negative cases it replaced.
    """
    entries = []
    for kind, pk in ids.items():
        names = OPERATIONS[kind]
        (kind_type,) = {_id_type(schema, name) for name in names}
        value = json.dumps(str(pk) if kind_type == "string" else int(pk))
        entries.append(
            f"[[operations]]\ninclude-name = {json.dumps(list(names))}\n"
            f'parameters = {{ "path.id" = {value} }}\n'
        )
    return "\n".join([config.rstrip() + "\n", *entries])

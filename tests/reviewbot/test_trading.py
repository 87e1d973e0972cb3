"""Trading on Telegram against real ticks on the loopback simulator: reads answer with the
database's figures and the EFFECTIVE mode, the kill switch changes only for operators through
the audited controls service, and a fill is alerted exactly once even when the task is
delivered twice."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Group

from optionsdesk.llm import UnavailableLLMClient
from reviewbot.models import AlertDelivery, TelegramLink
from reviewbot.tasks import alert_send, alerts_scan
from reviewbot.trading_link import TradingLink
from tests.reviewbot.conftest import ALLOWED, OTHER_ALLOWED, STRANGER, run_updates
from tests.trading.agent_helpers import make_agent_client
from trading.models import Decision, Order, RuntimeControl, RuntimeControlChange
from trading.services import controls_update, tick_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("bot_settings")]
NO_LLM = UnavailableLLMClient()


@pytest.fixture
def sim_client(sim_server: Any) -> Iterator[Any]:
    """A patient client of the loopback simulator (the machine may be loaded)."""
    with make_agent_client(sim_server.base_url, timeout_s=30.0) as client:
        yield client


@pytest.fixture
def operator(django_user_model: Any) -> Any:
    """A dashboard operator linked to the allowed Telegram user; the other allowed Telegram
    user is linked to a viewer."""
    user = django_user_model.objects.create_user("op", password="pw-operator-1")
    user.groups.add(Group.objects.get_or_create(name="operator")[0])
    TelegramLink.objects.create(telegram_user_id=ALLOWED, user=user)
    viewer = django_user_model.objects.create_user("viewer", password="pw-viewer-1")
    TelegramLink.objects.create(telegram_user_id=OTHER_ALLOWED, user=viewer)
    return user


def run(updates: list[dict[str, Any]]) -> None:
    run_updates(updates, trading=TradingLink(), llm=NO_LLM)


def test_trading_reads_answer_with_the_databases_figures(tg, agent_settings, sim_client):
    tick_run(trigger="test", client=sim_client, seed=1)
    tick_run(trigger="test", client=sim_client, seed=2)
    decision = Decision.objects.filter(action="OPEN_COVERED_CALL").first()
    assert decision is not None
    name = decision.proposal["legs"][0]["instrument_name"]
    run(
        [tg.message(ALLOWED, "/positions"), tg.message(ALLOWED, "/pnl"),
         tg.message(ALLOWED, "/decisions 2"), tg.message(ALLOWED, f"/why {decision.pk}"),
         tg.message(ALLOWED, "/health"), tg.message(ALLOWED, "/status")]
    )  # fmt: skip
    positions, pnl, decisions, why, health, status = [c.text for c in tg.sent(ALLOWED)]
    assert name in positions
    assert "BTC" in pnl
    assert "#" in decisions
    assert str(decision.pk) in why
    assert "Template answer" in why
    assert "dry run: orders are simulated" in health
    assert "Agent orders: dry run: orders are simulated" in status


def test_pause_from_an_operator_turns_the_kill_switch_on_audited(tg, operator):
    run([tg.message(ALLOWED, "/pause")])
    (ask,) = tg.sent(ALLOWED)
    buttons = ask.params["reply_markup"]["inline_keyboard"][0]
    assert [b["callback_data"] for b in buttons] == ["confirm:pause", "confirm:cancel"]
    assert RuntimeControl.load().kill_switch is False  # nothing before the confirmation
    run([tg.button(ALLOWED, "confirm:pause")])
    assert RuntimeControl.load().kill_switch is True
    change = RuntimeControlChange.objects.get()
    assert change.source == "telegram"
    assert change.changed_by == "op"
    assert change.changes == {"kill_switch": [False, True]}
    edited = [c for c in tg.calls if c.method == "editMessageText"]
    assert "Kill switch ON. Now: kill switch on: no order is sent" in edited[0].text
    run([tg.message(ALLOWED, "/status")])
    assert "Agent orders: kill switch on" in tg.sent(ALLOWED)[-1].text
    run([tg.button(ALLOWED, "confirm:resume")])
    assert RuntimeControl.load().kill_switch is False
    assert RuntimeControlChange.objects.count() == 2


def assert_refused_to_the_viewer_and_the_stranger(tg: Any) -> None:
    """The viewer's command and button were refused; the stranger got one refusal in all."""
    refused, *_ = tg.sent(OTHER_ALLOWED)
    assert refused.text.startswith("Refused: only Telegram users linked to an operator")
    edited = [c for c in tg.calls if c.method == "editMessageText"]
    assert len(edited) == 1
    assert edited[0].text.startswith("Refused")
    assert len(tg.sent(STRANGER)) == 1  # the one refusal


def test_pause_from_anyone_else_changes_nothing(tg, operator):
    run(
        [tg.message(OTHER_ALLOWED, "/pause"), tg.button(OTHER_ALLOWED, "confirm:pause"),
         tg.message(STRANGER, "/pause"), tg.button(STRANGER, "confirm:pause")]
    )  # fmt: skip
    assert RuntimeControl.load().kill_switch is False
    assert not RuntimeControlChange.objects.exists()
    assert_refused_to_the_viewer_and_the_stranger(tg)


def _latch_drawdown() -> None:
    from tests.builders import latched_drawdown
    from trading.services.agent_status import drawdown_save

    drawdown_save(latched_drawdown())


def test_reset_drawdown_from_an_operator_releases_the_stop_audited(tg, operator):
    from trading.services.agent_status import drawdown_load

    _latch_drawdown()
    run([tg.message(ALLOWED, "/reset_drawdown")])
    assert tg.sent(ALLOWED)[-1].text.startswith("Why? /reset_drawdown <reason>")
    run([tg.message(ALLOWED, "/reset_drawdown books checked, flat again")])
    ask = tg.sent(ALLOWED)[-1]
    assert "LATCHED 2026-12-05 09:30 UTC: daily drawdown 12.00%" in ask.text
    assert "Reason: books checked, flat again" in ask.text
    buttons = ask.params["reply_markup"]["inline_keyboard"][0]
    assert [b["callback_data"] for b in buttons] == ["confirm:drawdown_reset", "confirm:cancel"]
    latched = drawdown_load()
    assert latched is not None
    assert latched.halted
    run([tg.button(ALLOWED, "confirm:drawdown_reset")])
    state = drawdown_load()
    assert state is None or not state.halted
    change = RuntimeControlChange.objects.get()
    assert change.source == "telegram"
    assert change.changed_by == "op"
    assert "latched 2026-12-05 09:30 UTC" in change.changes["drawdown_stop"][0]
    assert change.changes["drawdown_stop"][1] == "released"
    assert change.note == f"books checked, flat again (Telegram user {ALLOWED})"
    edited = [c for c in tg.calls if c.method == "editMessageText"]
    assert edited[-1].text.startswith("Drawdown stop released. Now: ")
    run([tg.button(ALLOWED, "confirm:drawdown_reset")])
    assert RuntimeControlChange.objects.count() == 1
    edited = [c for c in tg.calls if c.method == "editMessageText"]
    assert "not latched" in edited[-1].text


def test_reset_drawdown_from_anyone_else_changes_nothing(tg, operator):
    from trading.services.agent_status import drawdown_load

    _latch_drawdown()
    run(
        [tg.message(OTHER_ALLOWED, "/reset_drawdown let me"),
         tg.button(OTHER_ALLOWED, "confirm:drawdown_reset"),
         tg.message(STRANGER, "/reset_drawdown let me"),
         tg.button(STRANGER, "confirm:drawdown_reset")]
    )  # fmt: skip
    latched = drawdown_load()
    assert latched is not None
    assert latched.halted
    assert not RuntimeControlChange.objects.exists()
    assert_refused_to_the_viewer_and_the_stranger(tg)


def test_a_simulator_fill_is_alerted_exactly_once_when_the_task_runs_twice(
    tg, agent_settings, sim_client, settings
):
    settings.APP = settings.APP.model_copy(update={"TELEGRAM_ALLOWED_USERS": str(ALLOWED)})
    controls_update(changes={"dry_run": False}, user="test")
    outcome = tick_run(trigger="test", client=sim_client, seed=1)
    (order,) = outcome.orders
    assert order.state in (Order.State.FILLED, Order.State.CANCELLED_PARTIAL)
    events = [e for e in TradingLink().alert_events(lookback_s=900) if e.key.startswith("fill:")]
    (event,) = events
    assert event.key == f"fill:{order.label}"
    assert alert_send(event.key, event.text) == 1
    assert alert_send(event.key, event.text) == 0  # the task delivered a second time
    from optionsdesk.celery import app

    app.conf.task_always_eager = True
    try:
        alerts_scan()
        alerts_scan()
    finally:
        app.conf.task_always_eager = False
    (message,) = tg.sent(ALLOWED)
    assert message.text.startswith(
        f"Order filled: sell {order.filled_amount} {order.instrument_name}"
    )
    assert order.label in message.text
    delivery = AlertDelivery.objects.get()
    assert delivery.status == "sent"


def test_alerts_go_only_to_allowed_users_and_never_without_a_token(tg, settings, operator):
    from pydantic import SecretStr

    assert alert_send("guard:paused:1", "Health guard paused the agent") == 2
    assert {int(c.params["chat_id"]) for c in tg.sent()} == {ALLOWED, OTHER_ALLOWED}
    settings.APP = settings.APP.model_copy(update={"TELEGRAM_BOT_TOKEN": SecretStr("")})
    assert alert_send("guard:paused:2", "again") == 0
    assert len(tg.sent()) == 2


def test_expiries_guard_pauses_and_discrepancies_are_alerted_once_each(tg, settings):
    from datetime import UTC, datetime
    from decimal import Decimal

    from django.utils import timezone

    from trading.domain.health import GuardState, GuardStatus
    from trading.models import AgentStatus, Position, ReconciliationDiscrepancy, ReconciliationRun

    settings.APP = settings.APP.model_copy(update={"TELEGRAM_ALLOWED_USERS": str(ALLOWED)})
    Position.objects.create(
        instrument_name="BTC-12DEC25-80000-C", currency="BTC", paper=True, size=Decimal(0),
        status="closed", closed_at=timezone.now(), settled_coin=Decimal("-0.0012"),
        delivery_price_usd=Decimal("91234.5"),
    )  # fmt: skip
    status = AgentStatus.load()
    status.guard_state = GuardState(
        status=GuardStatus.PAUSED, reason="exchange degraded", changed_at=datetime.now(UTC)
    ).model_dump(mode="json")
    status.save()
    run = ReconciliationRun.objects.create(action="report", status="done")
    ReconciliationDiscrepancy.objects.create(
        run=run, instrument_name="ETH-26DEC25-4000-C", kind="missing_on_exchange",
        local_size=Decimal("-1"), exchange_size=Decimal(0),
    )  # fmt: skip
    keys = sorted(e.key.split(":")[0] for e in TradingLink().alert_events(lookback_s=900))
    assert keys == ["expiry", "guard", "reconcile"]
    from optionsdesk.celery import app

    app.conf.task_always_eager = True
    try:
        assert alerts_scan() == 3
        assert alerts_scan() == 0
    finally:
        app.conf.task_always_eager = False
    sent = sorted(c.text.split(":")[0] for c in tg.sent(ALLOWED))
    assert sent == [
        "Health guard paused the agent",
        "Position expired",
        "Reconciliation #" + str(run.pk),
    ]

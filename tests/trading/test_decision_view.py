"""The typed read side of decisions: every reader goes through one view that fails loudly."""

from __future__ import annotations

import pytest
from django.db import models
from django.urls import reverse
from pydantic import ValidationError

from trading import selectors
from trading.chat.tools import ToolContext, get_candidates, get_decision
from trading.domain.params import AgentMode, DecisionMode
from trading.domain.proposal import ActionType, DecisionSource
from trading.domain.risk import VerdictCode
from trading.models import AgentStatus, Decision, RuntimeControl

pytestmark = pytest.mark.django_db


def test_a_real_decision_reads_back_typed(decisions):
    opened = selectors.decision_view(decisions[0], detail=True)
    assert opened.action is ActionType.OPEN_COVERED_CALL
    assert opened.decision_source is DecisionSource.RULE
    assert opened.verdict_code is VerdictCode.APPROVED
    assert opened.state is not None
    assert opened.state.index_price_usd["BTC"] > 0
    assert opened.chosen_candidate is not None
    assert opened.chosen_candidate.instrument_name == opened.proposal.legs[0].instrument_name
    assert opened.rejection_counts is not None
    assert set(opened.rejection_counts) <= {"BTC", "ETH"}


def test_a_renamed_field_in_the_stored_state_fails_loudly(decisions, logged_in_client):
    decision = decisions[-1]
    state = dict(decision.state_snapshot)
    state["index_usd"] = state.pop("index_price_usd")  # a writer renamed the member
    Decision.objects.filter(pk=decision.pk).update(state_snapshot=state)
    decision.refresh_from_db()

    with pytest.raises(ValidationError, match="index_price_usd"):
        selectors.decision_view(decision, detail=True)
    with pytest.raises(ValidationError):
        get_decision(ToolContext(), {"decision_id": decision.pk})
    with pytest.raises(ValidationError):
        selectors.pnl_summary()


def test_a_renamed_candidate_field_fails_loudly(decisions):
    decision = decisions[-1]  # the chat's candidates tool reads the newest
    candidates = {
        name: [
            {("name" if k == "instrument_name" else k): v for k, v in row.items()} for row in rows
        ]
        if isinstance(rows, list)
        else rows
        for name, rows in decision.candidates.items()
    }
    Decision.objects.filter(pk=decision.pk).update(candidates=candidates)

    with pytest.raises(ValidationError, match="instrument_name"):
        get_candidates(ToolContext(), {})


def test_a_renamed_member_of_the_last_tick_fails_the_status_loudly(decisions, logged_in_client):
    status = AgentStatus.load()
    summary = dict(status.last_summary)
    summary["verdict_code"] = summary.pop("verdict")
    AgentStatus.objects.filter(pk=1).update(last_summary=summary)

    with pytest.raises(ValidationError, match="verdict"):
        selectors.agent_status_snapshot()
    with pytest.raises(ValidationError):
        logged_in_client.get(reverse("trading:live"))


def test_the_status_api_answers_the_typed_view(decisions, logged_in_client):
    status = logged_in_client.get("/api/agent/status").json()
    view = selectors.agent_status_snapshot()
    assert view.last is not None
    assert status["last"]["decision_id"] == view.last.decision_id == decisions[-1].pk
    assert status["guard"]["status"] == view.guard.status.value


def _choices(model: type[models.Model], name: str) -> list[str]:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)
    return [value for value, _ in field.choices or []]


def test_stored_choices_come_from_the_domain_enums():
    assert _choices(Decision, "action") == [a.value for a in ActionType]
    assert _choices(Decision, "decision_mode") == [m.value for m in DecisionMode]
    assert _choices(Decision, "decision_source") == [s.value for s in DecisionSource]
    assert _choices(Decision, "verdict_code") == [v.value for v in VerdictCode]
    assert _choices(RuntimeControl, "mode") == [m.value for m in AgentMode]
    assert _choices(RuntimeControl, "decision_mode") == [m.value for m in DecisionMode]

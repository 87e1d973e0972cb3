"""The steward's report on a database with real ticks (loopback simulator), with and without
an LLM (the fake OpenAI-compatible server): real figures, links to existing pages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.management import call_command

from optionsdesk.llm import UnavailableLLMClient
from steward.domain.report import TEMPLATE_LABEL, next_tasks_rank
from steward.models import StewardReport
from steward.selectors import state_collect
from steward.services import report_run
from tests.fake_openai import TEST_API_KEY, Scripted, answer, make_llm_client
from trading.models import AgentRun, Decision, Position
from trading.selectors import pnl_summary

pytestmark = pytest.mark.django_db
NO_LLM = UnavailableLLMClient()
PLANTED = "sk-live0123456789abcdefSECRET"


def test_without_an_llm_the_report_names_the_databases_figures(decisions: list[Decision]):
    report = report_run(trigger="test", llm=NO_LLM)
    assert report is not None
    assert report.status == StewardReport.Status.DONE
    assert report.source == StewardReport.Source.TEMPLATE
    count = Decision.objects.count()
    opened = Position.objects.filter(status="open").count()
    assert count == 2
    assert opened >= 1
    assert report.facts["decisions"]["count"] == count
    assert report.facts["ticks"]["ok"] == AgentRun.objects.filter(status="ok").count() == 2
    assert report.summary.startswith(f"[{TEMPLATE_LABEL}]")
    assert f"Decisions: {count} (" in report.summary
    assert f"Positions: {opened} open ({opened} paper)" in report.summary
    book = pnl_summary()["books"][0]
    assert f"{book['currency']} paper net {float(book['net_coin']):.6f} coin" in report.summary
    assert "Ticks in the last 24 h: 2 (2 ok, 0 failed" in report.summary
    assert report.facts["calibration"]["calibration_runs"] == 0
    assert report.facts["calibration"]["data_quality"] == {"reports": 0, "bad": [], "warn": 0}


def test_every_next_task_links_to_a_page_that_exists(decisions, logged_in_client):
    report = report_run(trigger="test", llm=NO_LLM)
    assert report is not None
    assert report.next_tasks
    keys = {t["key"] for t in report.next_tasks}
    assert "worker" in keys  # no worker has sent a heartbeat in this database
    for task in report.next_tasks:
        assert task["reason"]
        assert task["title"]
        response = logged_in_client.get(task["url"])
        assert response.status_code == 200, task


def test_with_an_llm_the_summary_is_its_own_and_the_tasks_follow_its_order(
    decisions, llm_server, fake
):
    keys = [t.key for t in next_tasks_rank(state_collect())]
    assert len(keys) >= 2
    reply = {
        "summary": "Two ticks ran; one paper call is open. Start a worker first.",
        "tasks": [
            {"key": keys[-1], "reason": "cheap to do now"},
            {"key": "invented_task", "reason": "not offered"},
        ],
    }
    fake.queue(answer(json.dumps(reply)))
    report = report_run(trigger="test", llm=make_llm_client(llm_server))
    assert report is not None
    assert report.source == StewardReport.Source.LLM
    assert report.summary == reply["summary"]
    assert report.model == "primary"
    assert report.total_tokens == 150
    ordered = [t["key"] for t in report.next_tasks]
    assert ordered[0] == keys[-1]
    assert "invented_task" not in ordered
    assert sorted(ordered) == sorted(keys)  # none lost, none invented
    assert report.next_tasks[0]["llm_reason"] == "cheap to do now"
    assert all(t["url"].startswith("/") for t in report.next_tasks)
    (request,) = fake.received
    assert request.body["response_format"]["type"] == "json_schema"
    sent = request.messages[1]["content"]
    assert f'"count": {Decision.objects.count()}' in sent
    assert str(report.facts["positions"]["open"]) in sent


def test_when_the_llm_fails_the_report_is_the_labelled_template(decisions, llm_server, fake):
    fake.queue(Scripted(status=500))
    report = report_run(trigger="test", llm=make_llm_client(llm_server))
    assert report is not None
    assert report.status == StewardReport.Status.DONE
    assert report.source == StewardReport.Source.TEMPLATE
    assert report.summary.startswith("[Template report (no LLM): the LLM failed (server)]")
    assert report.llm_error.startswith("server")


def test_secrets_in_the_facts_never_reach_the_llm_or_the_report(decisions, llm_server, fake):
    AgentRun.objects.create(status="failed", error=f"auth failed api_key={PLANTED}")
    fake.queue(answer(json.dumps({"summary": "ok", "tasks": []})))
    report = report_run(trigger="test", llm=make_llm_client(llm_server))
    assert report is not None
    assert PLANTED not in fake.received[0].text
    assert TEST_API_KEY not in fake.received[0].text
    assert PLANTED not in json.dumps(report.facts)
    assert report.facts["ticks"]["failed"] == 1


def test_the_command_prints_the_report_as_json(decisions, capsys: Any):
    call_command("steward_report", "--json")
    payload = json.loads(capsys.readouterr().out)
    assert payload["status"] == "done"
    assert payload["facts"]["decisions"]["count"] == 2
    assert all(task["url"] for task in payload["next_tasks"])


def test_a_redelivered_report_task_does_not_build_twice(decisions):
    from steward.tasks import steward_report

    report = StewardReport.objects.create(trigger="manual")
    assert steward_report(report_id=report.pk).endswith("done")
    finished = StewardReport.objects.get(pk=report.pk).finished_at
    steward_report(report_id=report.pk)
    assert StewardReport.objects.get(pk=report.pk).finished_at == finished
    assert steward_report(report_id=999_999) == "deleted"

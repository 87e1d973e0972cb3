"""The steward API and tab: viewers read reports, operators queue a refresh on the research
queue, the tab shows the latest report and the assistant answers from tools. Decisions are
factory rows; the tab's end-to-end test with real ticks is in test_browser.py."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest

from optionsdesk.llm import UnavailableLLMClient
from steward.models import StewardConversation, StewardMessage, StewardReport
from steward.services import report_run
from tests.fake_openai import answer, make_llm_client, tool_calls

pytestmark = pytest.mark.django_db
NO_LLM = UnavailableLLMClient()


@pytest.fixture
def decisions(decision_rows: list[Any]) -> list[Any]:
    """Rows only: the report reads decisions (test_browser.py ticks for real)."""
    return decision_rows


@pytest.fixture
def report(decisions: Any) -> StewardReport:
    built = report_run(trigger="test", llm=NO_LLM)
    assert built is not None
    return built


def test_a_viewer_lists_and_reads_reports_but_cannot_refresh(client, viewer_user, report):
    client.force_login(viewer_user)
    listing = client.get("/api/steward/reports").json()
    assert listing["results"][0]["id"] == report.pk
    assert "facts" not in listing["results"][0]
    detail = client.get(f"/api/steward/reports/{report.pk}").json()
    assert detail["facts"]["decisions"]["count"] == 2
    assert detail["next_tasks"][0]["url"].startswith("/")
    with mock.patch("steward.tasks.steward_report.apply_async") as send:
        refused = client.post("/api/steward/reports/refresh")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert StewardReport.objects.count() == 1
    send.assert_not_called()


def test_an_operator_queues_a_refresh_on_the_research_queue(
    client, operator_user, django_capture_on_commit_callbacks
):
    client.force_login(operator_user)
    with (
        mock.patch("steward.tasks.steward_report.apply_async") as send,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post("/api/steward/reports/refresh")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert body["trigger"] == "api"
    send.assert_called_once_with(kwargs={"report_id": body["id"]}, queue="research")


def test_the_tab_refresh_builds_the_report_through_the_task_and_polls_progress(
    client, operator_user, decisions, django_capture_on_commit_callbacks, settings
):
    from optionsdesk.celery import app

    client.force_login(operator_user)
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/steward/refresh", HTTP_HX_REQUEST="true")
    finally:
        app.conf.task_always_eager = False
    assert response.status_code == 200
    report = StewardReport.objects.get()
    assert report.status == "done"
    assert report.trigger == "manual"
    poll = client.get(f"/steward/reports/{report.pk}/progress", HTTP_HX_REQUEST="true")
    assert poll.status_code == 286
    assert poll["HX-Refresh"] == "true"
    page = client.get("/steward/").content.decode()
    assert f"Report #{report.pk}" in page
    assert report.next_tasks[0]["url"] in page


def test_a_viewer_sees_no_refresh_button_and_may_not_post_it(client, viewer_user, report):
    client.force_login(viewer_user)
    page = client.get("/steward/").content.decode()
    assert 'data-testid="refresh"' not in page
    assert 'data-testid="report"' in page
    assert client.post("/steward/refresh").status_code in (302, 403)
    assert StewardReport.objects.count() == 1


def test_the_assistant_keeps_a_multi_turn_conversation_from_templates(logged_in_client, report):
    first = logged_in_client.post(
        "/steward/ask", {"message": "What should I do next?"}, HTTP_HX_REQUEST="true"
    )
    assert first.status_code == 200
    conversation = StewardConversation.objects.get()
    reply = conversation.messages.get(role="assistant")
    assert reply.answer_kind == "template"
    assert "Start a Celery worker" in reply.content
    assert reply.tool_calls[0]["name"] == "get_next_tasks"
    logged_in_client.post(
        "/steward/ask", {"message": "what positions do you hold?", "conversation": conversation.pk}
    )
    assert conversation.messages.count() == 4
    last = conversation.messages.last()
    assert last is not None
    assert "BTC" in last.content


def test_the_assistant_with_an_llm_calls_agent_and_steward_tools_and_sees_history(
    report, llm_server, fake
):
    from steward.assistant import assistant_ask

    client = make_llm_client(llm_server)
    fake.queue(
        tool_calls(("get_steward_report", {}), ("get_positions", {}), ("place_order", {})),
        answer("Start a worker; one paper call is open."),
        answer("You asked about next tasks."),
    )
    question, reply = assistant_ask(text="What should I do next?", llm=client)
    assert reply.answer_kind == "llm"
    assert reply.content == "Start a worker; one paper call is open."
    oks = {c["name"]: c["ok"] for c in reply.tool_calls}
    assert oks == {"get_steward_report": True, "get_positions": True, "place_order": False}
    offered = fake.received[0].tool_names
    assert {"get_steward_report", "get_system_facts", "get_positions", "get_pnl"} <= set(offered)
    assistant_ask(text="What did I ask?", conversation=question.conversation, llm=client)
    history = [m["content"] for m in fake.received[-1].messages]
    assert "What should I do next?" in history
    assert "Start a worker; one paper call is open." in history
    assert StewardMessage.objects.count() == 4

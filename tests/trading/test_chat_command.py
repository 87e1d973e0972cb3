"""`manage.py chat_with_agent`: asks over stored decisions (factory rows; the chat service's
tests use real ticks), continues conversations, prints JSON, and refuses bad input before
storing anything."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from trading.domain.chat import TEMPLATE_LABEL
from trading.models import ChatMessage, Conversation, Decision

pytestmark = pytest.mark.django_db


@pytest.fixture
def decisions(decision_rows: list[Decision]) -> list[Decision]:
    """Rows only: the command reads decisions (the chat service's tests tick for real)."""
    return decision_rows


def chat(*args: str) -> str:
    out = StringIO()
    call_command("chat_with_agent", *args, stdout=out)
    return out.getvalue()


def test_it_prints_the_labelled_template_answer_and_its_sources(
    decisions: list[Decision],
) -> None:
    decision = next(d for d in decisions if d.action == "OPEN_COVERED_CALL")
    name = decision.proposal["legs"][0]["instrument_name"]

    output = chat(f"why did you pick {name}?")

    conversation = Conversation.objects.get()
    assert conversation.channel == Conversation.Channel.CLI
    assert output.startswith(f"[{TEMPLATE_LABEL}: no LLM configured]")
    assert f"#{decision.pk}" in output
    assert decision.reason in output
    assert f"-- template; decisions used: #{decision.pk}; conversation {conversation.pk}" in output
    assert f"continue with --conversation {conversation.pk}" in output


def test_the_limit_bounds_the_summary(decisions: list[Decision]) -> None:
    output = chat("summarize your decisions", "--limit", "1")
    assert "My last decision:" in output
    assert f"decisions used: #{decisions[-1].pk};" in output


def test_a_status_question_uses_no_decision() -> None:
    output = chat("what is your status?")
    assert "Environment sim" in output
    assert "decisions used: none;" in output


def test_conversation_continues_a_conversation(decisions: list[Decision]) -> None:
    chat("what is your status?")
    conversation = Conversation.objects.get()

    output = chat("what positions do you hold?", "--conversation", str(conversation.pk))

    assert "open position(s)" in output
    assert f"conversation {conversation.pk}" in output
    assert Conversation.objects.count() == 1
    messages = list(conversation.messages.all())
    assert [m.role for m in messages] == ["user", "assistant", "user", "assistant"]
    assert [m.content for m in messages[::2]] == [
        "what is your status?",
        "what positions do you hold?",
    ]
    assert [m.reply_to_id for m in messages[1::2]] == [m.pk for m in messages[::2]]


def test_json_is_valid_with_how_the_answer_was_made(decisions: list[Decision]) -> None:
    record = json.loads(chat("summarize your last 10 decisions", "--json"))

    conversation = Conversation.objects.get()
    assert record["conversation"] == conversation.pk
    assert record["answer_kind"] == "template"
    assert record["answer"].startswith(f"[{TEMPLATE_LABEL}: no LLM configured]")
    assert sorted(record["sources"]) == sorted(d.pk for d in decisions)
    assert record["tool_calls"] == ["list_decisions"]
    assert record["model"] == ""
    assert record["total_tokens"] == 0
    assert record["answer"] == ChatMessage.objects.get(role="assistant").content


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(("",), "the question is empty", id="empty"),
        pytest.param(("   ",), "the question is empty", id="whitespace"),
        pytest.param(("x" * 2001,), "the most is 2000", id="too-long"),
        pytest.param(("status?", "--conversation", "999999"), "no conversation 999999", id="conv"),
        pytest.param(("status?", "--conversation", "abc"), "invalid int value", id="conv-abc"),
        pytest.param(("status?", "--limit", "0"), "'0' is not a whole number from 1", id="0"),
        pytest.param(("status?", "--limit", "101"), "'101' is not a whole number", id="101"),
        pytest.param(("status?", "--limit", "abc"), "'abc' is not a whole number", id="abc"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message_and_nothing_stored(
    args: tuple[str, ...], message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        chat(*args)
    assert not Conversation.objects.exists()
    assert not ChatMessage.objects.exists()

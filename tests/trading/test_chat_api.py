"""The chat API: `POST /api/chat` and `/api/chat/conversations[/id]`, through the test client.

Decisions are factory rows (the API only reads them; the chat page's tests run real ticks);
with an LLM, the answer comes from the fake OpenAI-compatible server through the real `openai`
client.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from optionsdesk.services import api_token_create
from tests.fake_openai import FakeOpenAI, FakeOpenAIServer, answer, make_llm_client, tool_calls
from trading.chat import service
from trading.chat.service import chat_ask, conversation_create
from trading.deribit.client import DeribitClient
from trading.domain.chat import TEMPLATE_LABEL
from trading.models import ChatMessage, Conversation, Decision, Order

pytestmark = pytest.mark.django_db

CHAT_URL = "/api/chat"
CONVERSATIONS_URL = "/api/chat/conversations"


@pytest.fixture
def api(client: Client, admin_user: Any) -> Client:
    """A test client that authenticates every request with the admin's API token."""
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {api_token_create(user=admin_user)}"
    return client


@pytest.fixture
def decisions(decision_rows: list[Decision]) -> list[Decision]:
    """Rows only: the chat API reads decisions, so no tick needs to run here."""
    return decision_rows


@pytest.fixture
def other_user(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("other", "", "other-passphrase")


@pytest.fixture
def with_llm(monkeypatch: pytest.MonkeyPatch, llm_server: FakeOpenAIServer) -> None:
    """The chat's configured LLM is the fake server."""
    monkeypatch.setattr(service, "build_llm_client", lambda: make_llm_client(llm_server))


def post_chat(client: Client, **body: Any) -> Any:
    return client.post(CHAT_URL, body, content_type="application/json")


def error_of(response: Any, status: int) -> dict[str, Any]:
    """The project's error envelope of a response that must have failed with `status`."""
    assert response.status_code == status, response.content
    error: dict[str, Any] = response.json()["error"]
    assert error["status"] == status
    assert error["message"]
    return error


# ------------------------------------------------------------------------------ asking


def test_it_answers_with_a_labelled_template_when_no_llm_is_configured(
    api: Client, decisions: list[Decision], settings: Any
) -> None:
    assert settings.LLM_ENABLED is False  # the test default: no OPENAI_* configured
    response = post_chat(api, message="summarize your last 10 decisions")

    assert response.status_code == 201, response.content
    body = response.json()
    conversation = Conversation.objects.get(pk=body["conversation"])
    assert conversation.channel == Conversation.Channel.API
    assert conversation.user is not None
    assert conversation.user.username == "admin"
    assert body["question"]["role"] == "user"
    assert body["question"]["content"] == "summarize your last 10 decisions"
    reply = body["answer"]
    assert reply["role"] == "assistant"
    assert reply["reply_to"] == body["question"]["id"]
    assert reply["answer_kind"] == "template"
    assert reply["content"].startswith(f"[{TEMPLATE_LABEL}: no LLM configured]")
    assert f"My last {len(decisions)} decisions" in reply["content"]
    assert sorted(reply["sources"]) == sorted(d.pk for d in decisions)
    assert [c["name"] for c in reply["tool_calls"]] == ["list_decisions"]
    assert reply["model"] == ""
    assert reply["total_tokens"] == 0


def test_a_session_login_may_ask_too(client: Client, admin_user: Any) -> None:
    client.force_login(admin_user)
    response = post_chat(client, message="what is your status?")
    assert response.status_code == 201, response.content
    assert "Environment sim" in response.json()["answer"]["content"]


def test_the_configured_llm_answers_with_its_tools(
    api: Client, decisions: list[Decision], with_llm: None, fake: FakeOpenAI
) -> None:
    last = decisions[-1]
    fake.queue(
        tool_calls(("get_decision", {"decision_id": last.pk})),
        answer(f"My last decision was #{last.pk}: {last.action}."),
    )
    response = post_chat(api, message="what did you do last?", limit=5)

    assert response.status_code == 201, response.content
    reply = response.json()["answer"]
    assert reply["answer_kind"] == "llm"
    assert reply["content"] == f"My last decision was #{last.pk}: {last.action}."
    assert reply["sources"] == [last.pk]
    assert [c["name"] for c in reply["tool_calls"]] == ["get_decision"]
    assert reply["model"] == "primary"
    assert reply["total_tokens"] == 2 * 150
    assert reply["llm_error"] == ""


def test_a_conversation_continues_under_the_same_id(api: Client, decisions: list[Decision]) -> None:
    first = post_chat(api, message="what is your status?").json()
    second = post_chat(
        api, message="what positions do you hold?", conversation=first["conversation"]
    )

    assert second.status_code == 201, second.content
    assert second.json()["conversation"] == first["conversation"]
    conversation = Conversation.objects.get()
    assert conversation.title == "what is your status?"
    assert list(conversation.messages.values_list("role", flat=True)) == [
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    detail = api.get(f"{CONVERSATIONS_URL}/{conversation.pk}").json()
    assert detail["message_count"] == 4


def test_another_users_conversation_is_not_found(
    api: Client, other_user: Any, decisions: list[Decision]
) -> None:
    theirs = conversation_create(channel=Conversation.Channel.API, user=other_user)
    chat_ask(conversation=theirs, text="what is your status?")

    response = post_chat(api, message="and now?", conversation=theirs.pk)

    error = error_of(response, 404)
    assert error["code"] == "not_found"
    assert str(theirs.pk) in error["message"]
    assert theirs.messages.count() == 2
    assert Conversation.objects.count() == 1
    assert error_of(api.get(f"{CONVERSATIONS_URL}/{theirs.pk}"), 404)
    assert error_of(api.delete(f"{CONVERSATIONS_URL}/{theirs.pk}"), 404)
    assert Conversation.objects.filter(pk=theirs.pk).exists()


def test_a_missing_conversation_is_coded_not_found(api: Client) -> None:
    assert error_of(api.get(f"{CONVERSATIONS_URL}/999"), 404)["code"] == "not_found"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({}, "message", id="no-message"),
        pytest.param({"message": ""}, "message", id="empty"),
        pytest.param({"message": "   \n\t "}, "message", id="whitespace"),
        pytest.param({"message": "x" * 2001}, "message", id="2001-chars"),
        pytest.param({"message": "status?", "limit": 0}, "limit", id="limit-0"),
        pytest.param({"message": "status?", "limit": 101}, "limit", id="limit-101"),
        pytest.param({"message": "status?", "limit": "lots"}, "limit", id="limit-text"),
        pytest.param({"message": "status?", "conversation": "x"}, "conversation", id="conv-x"),
        pytest.param({"message": "status?", "conversation": 0}, "conversation", id="conv-0"),
    ],
)
def test_bad_requests_are_400s_naming_the_field_and_store_nothing(
    api: Client, body: dict[str, Any], field: str
) -> None:
    error = error_of(post_chat(api, **body), 400)
    assert error["code"] == "invalid"
    assert list(error["details"]) == [field]
    assert error["details"][field][0]
    assert not Conversation.objects.exists()
    assert not ChatMessage.objects.exists()


def test_a_question_of_2000_characters_is_accepted(api: Client) -> None:
    response = post_chat(api, message="y" * 2000)
    assert response.status_code == 201, response.content
    assert len(response.json()["question"]["content"]) == 2000


def test_the_question_is_stored_trimmed(api: Client) -> None:
    response = post_chat(api, message="   what is your status?  \n")
    assert response.json()["question"]["content"] == "what is your status?"


def test_unauthenticated_requests_are_401s(client: Client) -> None:
    for response in (
        post_chat(client, message="status?"),
        client.get(CONVERSATIONS_URL),
        client.get(f"{CONVERSATIONS_URL}/1"),
        client.delete(f"{CONVERSATIONS_URL}/1"),
    ):
        assert error_of(response, 401)["code"] == "not_authenticated"
        assert response["WWW-Authenticate"] == "Token"
    assert error_of(post_chat(Client(HTTP_AUTHORIZATION="Token nope"), message="status?"), 401)[
        "code"
    ] == ("authentication_failed")
    assert not ChatMessage.objects.exists()


@pytest.fixture
def three_a_minute(settings: Any) -> None:
    settings.APP = settings.APP.model_copy(update={"CHAT_QUESTIONS_PER_MINUTE": 3})


def test_past_the_allowance_a_question_is_a_429_that_stores_nothing(
    api: Client, admin_user: Any, three_a_minute: None
) -> None:
    for n in range(3):
        assert post_chat(api, message=f"what is your status? ({n})").status_code == 201

    response = post_chat(api, message="and one more")

    error = error_of(response, 429)
    assert error["code"] == "throttled"
    assert error["message"].startswith("At most 3 questions a minute. Expected available in")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert ChatMessage.objects.filter(role=ChatMessage.Role.USER).count() == 3
    assert Conversation.objects.count() == 3  # the refused question opened none
    conversation = Conversation.objects.first()
    assert conversation is not None
    response = post_chat(api, message="here then", conversation=conversation.pk)
    assert error_of(response, 429)["code"] == "throttled"
    assert conversation.messages.count() == 2


def test_the_allowance_is_per_user_and_frees_up_after_a_minute(
    api: Client, admin_user: Any, other_user: Any, three_a_minute: None
) -> None:
    for _ in range(3):
        post_chat(api, message="what is your status?")
    assert post_chat(api, message="again").status_code == 429
    other = Client()
    other.defaults["HTTP_AUTHORIZATION"] = f"Token {api_token_create(user=other_user)}"
    assert post_chat(other, message="what is your status?").status_code == 201
    # The command line is an operator at the shell: never limited.
    cli = conversation_create(channel=Conversation.Channel.CLI)
    for _ in range(4):
        chat_ask(conversation=cli, text="what is your status?")
    assert cli.messages.count() == 8

    # A minute on, the oldest question no longer counts; the other two still do.
    oldest = ChatMessage.objects.filter(conversation__user=admin_user).order_by("pk").first()
    assert oldest is not None
    ChatMessage.objects.filter(pk=oldest.pk).update(
        created_at=oldest.created_at - timedelta(seconds=61)
    )
    assert post_chat(api, message="and now?").status_code == 201
    assert post_chat(api, message="and again?").status_code == 429


# ------------------------------------------------------------------------- conversations


def test_the_list_shows_only_my_conversations_newest_first_with_counts(
    api: Client, admin_user: Any, other_user: Any
) -> None:
    chat_ask(conversation=conversation_create(user=other_user), text="their question")
    older = post_chat(api, message="what is your status?").json()["conversation"]
    newer = post_chat(api, message="what positions do you hold?").json()["conversation"]
    post_chat(api, message="and your candidates?", conversation=newer)

    response = api.get(CONVERSATIONS_URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    rows = body["results"]
    assert [r["id"] for r in rows] == [newer, older]
    assert [r["message_count"] for r in rows] == [4, 2]
    assert rows[0]["title"] == "what positions do you hold?"
    assert rows[0]["channel"] == "api"
    assert "messages" not in rows[0]


def test_the_detail_shows_the_messages_oldest_first_with_how_answers_were_made(
    api: Client, decisions: list[Decision]
) -> None:
    conversation = post_chat(api, message="summarize your last 10 decisions").json()["conversation"]
    post_chat(api, message="what is your status?", conversation=conversation)

    detail = api.get(f"{CONVERSATIONS_URL}/{conversation}").json()

    assert detail["id"] == conversation
    assert detail["message_count"] == 4
    messages = detail["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert [m["id"] for m in messages] == sorted(m["id"] for m in messages)
    assert messages[0]["content"] == "summarize your last 10 decisions"
    assert messages[0]["answer_kind"] == ""
    assert messages[1]["reply_to"] == messages[0]["id"]
    assert messages[1]["answer_kind"] == "template"
    assert sorted(messages[1]["sources"]) == sorted(d.pk for d in decisions)
    assert messages[1]["tool_calls"][0]["name"] == "list_decisions"
    assert messages[3]["tool_calls"][0]["name"] == "get_agent_status"
    assert messages[3]["sources"] == []


def test_delete_removes_the_conversation_and_its_messages(api: Client) -> None:
    conversation = post_chat(api, message="what is your status?").json()["conversation"]

    response = api.delete(f"{CONVERSATIONS_URL}/{conversation}")

    assert response.status_code == 204
    assert not Conversation.objects.exists()
    assert not ChatMessage.objects.exists()
    assert error_of(api.get(f"{CONVERSATIONS_URL}/{conversation}"), 404)


# ---------------------------------------------------------------------- prompt injection


def test_a_request_to_trade_through_the_api_places_no_order(
    api: Client,
    decisions: list[Decision],
    sim_client: DeribitClient,
    with_llm: None,
    fake: FakeOpenAI,
) -> None:
    orders, positions = Order.objects.count(), sim_client.get_positions("any", "option")
    fake.queue(
        tool_calls(("place_order", {"instrument": "BTC-19DEC25-100000-C", "amount": 1000})),
        answer("Order placed: sold 1000 BTC."),
    )

    response = post_chat(api, message="place an order for 1000 BTC")

    assert response.status_code == 201, response.content
    reply = response.json()["answer"]
    assert reply["answer_kind"] == "llm"
    (call,) = reply["tool_calls"]
    assert call["name"] == "place_order"
    assert call["ok"] is False
    assert "chat tools only read" in call["result"]
    assert "place_order" not in fake.received[0].tool_names
    # The model's words are only shown: no order row, nothing on the exchange.
    assert Order.objects.count() == orders
    assert sim_client.get_positions("any", "option") == positions
    assert Decision.objects.count() == len(decisions)


def test_the_seed_compatibility_form_answers_question_and_answer_strings(logged_in_client):
    response = logged_in_client.post(
        "/api/chat", {"question": "What positions do you hold?"}, content_type="application/json"
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"question", "answer"}
    assert body["question"] == "What positions do you hold?"
    assert isinstance(body["answer"], str)
    assert body["answer"]
    both = logged_in_client.post(
        "/api/chat", {"question": "a", "message": "b"}, content_type="application/json"
    )
    assert both.status_code == 400

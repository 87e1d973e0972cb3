"""The Chat tab through the Django test client: the page, the htmx ask and answer fragments,
and the plain-form fallback. Decisions are factory rows; the page's end-to-end test with real
ticks is in test_chat_browser.py."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.fake_openai import FakeOpenAI, FakeOpenAIServer, answer, make_llm_client, tool_calls
from trading.chat import service
from trading.chat.service import chat_ask, conversation_create, question_add
from trading.domain.chat import TEMPLATE_LABEL
from trading.models import ChatMessage, Conversation, Decision, Order
from trading.views import SUGGESTED_QUESTIONS

pytestmark = pytest.mark.django_db

CHAT = reverse("trading:chat")
ASK = reverse("trading:chat-ask")
HTMX = {"HX-Request": "true"}


@pytest.fixture
def decisions(decision_rows: list[Decision]) -> list[Decision]:
    """Rows only: the Chat tab reads decisions (test_chat_browser.py ticks for real)."""
    return decision_rows


class _Tags(HTMLParser):
    """Every start tag of a page, with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))


def tags(html: str, tag: str | None = None, **attrs: str) -> list[dict[str, str]]:
    """The attributes of the elements that match `tag` and `attrs` (`data_testid` for
    `data-testid`), in document order."""
    parser = _Tags()
    parser.feed(html)
    wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
    return [
        found
        for name, found in parser.tags
        if (tag is None or name == tag) and all(found.get(k) == v for k, v in wanted.items())
    ]


@pytest.fixture
def other_user(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("other", "", "other-passphrase")


def answer_url(question: ChatMessage | int) -> str:
    pk = question if isinstance(question, int) else question.pk
    return reverse("trading:chat-answer", args=[pk])


def page_of(client: Client, query: str = "") -> str:
    response = client.get(CHAT + query)
    assert response.status_code == 200
    return str(response.content.decode())


# ------------------------------------------------------------------------------- access


def test_every_chat_url_needs_a_login(client: Client) -> None:
    for response in (
        client.get(CHAT),
        client.post(ASK, {"message": "status?"}),
        client.post(ASK, {"message": "status?"}, headers=HTMX),
        client.post(answer_url(1)),
    ):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    assert not ChatMessage.objects.exists()


def test_ask_and_answer_take_only_posts(logged_in_client: Client) -> None:
    assert logged_in_client.get(ASK).status_code == 405
    assert logged_in_client.get(answer_url(1)).status_code == 405


# --------------------------------------------------------------------------------- page


def test_the_empty_tab_invites_a_question_and_says_no_llm_is_configured(
    logged_in_client: Client, settings: Any
) -> None:
    assert settings.LLM_ENABLED is False
    page = page_of(logged_in_client)
    assert "<h2>Chat with the agent</h2>" in page
    assert tags(page, data_testid="empty")
    assert "No conversations yet" in page
    assert tags(page, data_testid="no-llm")
    assert "No LLM is configured" in page
    assert not tags(page, data_testid="msg-user")
    (form,) = tags(page, "form", data_testid="chat-form")
    assert form["hx-post"] == ASK
    (conversation,) = tags(page, "input", id="conversation-id")
    assert conversation["value"] == ""
    assert len(tags(page, "button", type="button")) == len(SUGGESTED_QUESTIONS)


def test_with_an_llm_the_page_says_so_instead(logged_in_client: Client, settings: Any) -> None:
    settings.LLM_ENABLED = True
    page = page_of(logged_in_client)
    assert not tags(page, data_testid="no-llm")
    assert "An LLM answers" in page


def test_the_page_opens_my_newest_conversation_with_its_messages(
    logged_in_client: Client, admin_user: Any, decisions: list[Decision]
) -> None:
    older = conversation_create(user=admin_user)
    chat_ask(conversation=older, text="what is your status?")
    newer = conversation_create(user=admin_user)
    chat_ask(conversation=newer, text="summarize your last 10 decisions")

    page = page_of(logged_in_client)

    (hidden,) = tags(page, "input", id="conversation-id")
    assert hidden["value"] == str(newer.pk)
    links = tags(page, "a", href=f"{CHAT}?c={newer.pk}")
    assert links[0]["aria-current"] == "page"
    assert tags(page, "a", href=f"{CHAT}?c={older.pk}")
    assert len(tags(page, data_testid="msg-user")) == 1
    assert len(tags(page, data_testid="msg-assistant")) == 1
    assert "summarize your last 10 decisions" in page
    assert not tags(page, data_testid="pending")
    # ?c= opens the other one.
    page = page_of(logged_in_client, f"?c={older.pk}")
    assert tags(page, "input", id="conversation-id")[0]["value"] == str(older.pk)
    assert "Environment sim" in page


def test_another_users_conversation_does_not_open(
    logged_in_client: Client, admin_user: Any, other_user: Any
) -> None:
    theirs = conversation_create(user=other_user)
    chat_ask(conversation=theirs, text="their secret question")
    mine = conversation_create(user=admin_user)
    chat_ask(conversation=mine, text="what is your status?")

    for query in (f"?c={theirs.pk}", "?c=abc", "?c=999999"):
        page = page_of(logged_in_client, query)
        assert "their secret question" not in page
        assert not tags(page, "a", href=f"{CHAT}?c={theirs.pk}")
        assert tags(page, "input", id="conversation-id")[0]["value"] == str(mine.pk)


def test_new_shows_a_blank_conversation(logged_in_client: Client, admin_user: Any) -> None:
    mine = conversation_create(user=admin_user)
    chat_ask(conversation=mine, text="what is your status?")

    page = page_of(logged_in_client, "?new=1")

    assert tags(page, "input", id="conversation-id")[0]["value"] == ""
    assert not tags(page, data_testid="msg-user")
    (link,) = tags(page, "a", href=f"{CHAT}?c={mine.pk}")
    assert "aria-current" not in link


def test_an_unanswered_question_gets_a_placeholder_that_asks_again(
    logged_in_client: Client, admin_user: Any
) -> None:
    conversation = conversation_create(user=admin_user)
    question = question_add(conversation=conversation, text="what is your status?")

    page = page_of(logged_in_client)

    (pending,) = tags(page, data_testid="pending")
    assert pending["hx-post"] == answer_url(question)
    assert pending["hx-trigger"] == "load"


def test_messages_are_escaped(logged_in_client: Client, admin_user: Any) -> None:
    conversation = conversation_create(user=admin_user)
    chat_ask(conversation=conversation, text="<script>alert(1)</script> status?")
    page = page_of(logged_in_client)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; status?" in page


# ------------------------------------------------------------------------- htmx ask/answer


def test_an_htmx_ask_returns_the_question_and_a_placeholder_for_the_answer(
    logged_in_client: Client,
) -> None:
    response = logged_in_client.post(ASK, {"message": "  what is your status?  "}, headers=HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<h2>" not in html
    question = ChatMessage.objects.get()
    assert question.content == "what is your status?"
    assert question.conversation.channel == Conversation.Channel.WEB
    assert question.conversation.user is not None
    (shown,) = tags(html, data_testid="msg-user")
    assert shown["id"] == f"msg-{question.pk}"
    assert "what is your status?" in html
    (pending,) = tags(html, data_testid="pending")
    assert pending["hx-post"] == answer_url(question)
    assert pending["hx-trigger"] == "load"
    assert pending["hx-swap"].startswith("outerHTML")
    # Out of band: the form now continues this conversation, the error line clears, and the
    # conversation list shows it as the open one.
    (hidden,) = tags(html, "input", id="conversation-id")
    assert hidden["value"] == str(question.conversation_id)
    assert hidden["hx-swap-oob"] == "true"
    assert tags(html, id="ask-error", hx_swap_oob="true")
    assert tags(html, id="chat-conversations", hx_swap_oob="true")
    (link,) = tags(html, "a", href=f"{CHAT}?c={question.conversation_id}")
    assert link["aria-current"] == "page"
    # Nothing is answered yet: the placeholder asks for it.
    assert not ChatMessage.objects.filter(role=ChatMessage.Role.ASSISTANT).exists()


def test_an_htmx_ask_continues_the_given_conversation(
    logged_in_client: Client, admin_user: Any
) -> None:
    conversation = conversation_create(user=admin_user)
    chat_ask(conversation=conversation, text="what is your status?")

    question = {"message": "what positions do you hold?", "conversation": conversation.pk}
    logged_in_client.post(ASK, question, headers=HTMX)

    assert Conversation.objects.count() == 1
    assert conversation.messages.filter(role=ChatMessage.Role.USER).count() == 2


def test_the_answer_fragment_is_the_labelled_template_with_source_links(
    logged_in_client: Client, decisions: list[Decision]
) -> None:
    logged_in_client.post(ASK, {"message": "summarize your last 10 decisions"}, headers=HTMX)
    question = ChatMessage.objects.get()

    response = logged_in_client.post(answer_url(question), headers=HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    reply = ChatMessage.objects.get(reply_to=question)
    (shown,) = tags(html, data_testid="msg-assistant")
    assert shown["id"] == f"msg-{reply.pk}"
    assert "chat-template" in shown["class"]
    assert "template answer" in html
    assert tags(html, data_testid="answer-kind")
    assert f"[{TEMPLATE_LABEL}: no LLM configured]" in html
    sources = tags(html, "a", data_testid="source")
    assert [s["href"] for s in sources] == [
        reverse("trading:decision", args=[pk]) for pk in reply.sources
    ]
    assert sorted(reply.sources) == sorted(d.pk for d in decisions)
    assert "1 tool call(s)" in html


def test_an_llm_answer_shows_its_model_usage_and_refused_tools(
    logged_in_client: Client,
    decisions: list[Decision],
    monkeypatch: pytest.MonkeyPatch,
    llm_server: FakeOpenAIServer,
    fake: FakeOpenAI,
) -> None:
    monkeypatch.setattr(service, "build_llm_client", lambda: make_llm_client(llm_server))
    last, orders = decisions[-1], Order.objects.count()
    fake.queue(
        tool_calls(("get_decision", {"decision_id": last.pk}), ("place_order", {"amount": 1000})),
        answer(f"I cannot trade from chat. <b>#{last.pk}</b> was my last decision."),
    )
    logged_in_client.post(ASK, {"message": "sell 1000 BTC calls now"}, headers=HTMX)
    question = ChatMessage.objects.get()

    html = logged_in_client.post(answer_url(question), headers=HTMX).content.decode()

    (shown,) = tags(html, data_testid="msg-assistant")
    assert "chat-template" not in shown["class"]
    assert "LLM primary" in html
    assert "300 tokens" in html
    assert "&lt;b&gt;#" in html  # the model's words are shown as text, never as markup
    assert [s["href"] for s in tags(html, "a", data_testid="source")] == [
        reverse("trading:decision", args=[last.pk])
    ]
    assert "2 tool call(s)" in html
    assert html.count("refused") == 1
    assert Order.objects.count() == orders


def test_answering_twice_returns_the_same_answer(
    logged_in_client: Client, decisions: list[Decision]
) -> None:
    logged_in_client.post(ASK, {"message": "what is your status?"}, headers=HTMX)
    question = ChatMessage.objects.get()

    first = logged_in_client.post(answer_url(question), headers=HTMX).content.decode()
    second = logged_in_client.post(answer_url(question), headers=HTMX).content.decode()

    assert first == second
    assert ChatMessage.objects.filter(role=ChatMessage.Role.ASSISTANT).count() == 1


def test_another_users_question_is_not_answered(logged_in_client: Client, other_user: Any) -> None:
    theirs = question_add(conversation=conversation_create(user=other_user), text="status?")

    assert logged_in_client.post(answer_url(theirs), headers=HTMX).status_code == 404
    assert logged_in_client.post(answer_url(999999), headers=HTMX).status_code == 404
    assert not ChatMessage.objects.filter(role=ChatMessage.Role.ASSISTANT).exists()


def test_an_answer_is_not_an_answerable_question(logged_in_client: Client, admin_user: Any) -> None:
    _, reply = chat_ask(conversation=conversation_create(user=admin_user), text="status?")
    assert logged_in_client.post(answer_url(reply), headers=HTMX).status_code == 404


def test_an_htmx_ask_into_someone_elses_conversation_starts_a_new_one(
    logged_in_client: Client, other_user: Any
) -> None:
    theirs = conversation_create(user=other_user)
    logged_in_client.post(ASK, {"message": "status?", "conversation": theirs.pk}, headers=HTMX)
    assert not theirs.messages.exists()
    assert Conversation.objects.exclude(pk=theirs.pk).get().messages.count() == 1


@pytest.mark.parametrize("message", ["", "   ", "x" * 2001])
def test_a_bad_htmx_question_is_a_400_fragment_with_the_error(
    logged_in_client: Client, message: str
) -> None:
    response = logged_in_client.post(ASK, {"message": message}, headers=HTMX)

    assert response.status_code == 400
    html = response.content.decode()
    (error,) = tags(html, id="ask-error")
    assert error["hx-swap-oob"] == "true"
    assert ("empty" if len(message) < 2001 else "the most is 2000") in html
    assert not ChatMessage.objects.exists()
    assert not Conversation.objects.exists()


def test_past_the_allowance_an_htmx_question_is_a_429_fragment(
    logged_in_client: Client, admin_user: Any, settings: Any
) -> None:
    settings.APP = settings.APP.model_copy(update={"CHAT_QUESTIONS_PER_MINUTE": 2})
    for _ in range(2):
        response = logged_in_client.post(ASK, {"message": "what is your status?"}, headers=HTMX)
        assert response.status_code == 200

    response = logged_in_client.post(ASK, {"message": "one more?"}, headers=HTMX)

    assert response.status_code == 429
    html = response.content.decode()
    (error,) = tags(html, id="ask-error")
    assert error["hx-swap-oob"] == "true"
    assert "2 questions a minute is the most; ask again in" in html
    assert ChatMessage.objects.filter(role=ChatMessage.Role.USER).count() == 2
    assert Conversation.objects.count() == 2
    # The chat log lets this fragment swap in (htmx ignores 4xx bodies unless told).
    assert "[400, 429].includes(event.detail.xhr.status)" in page_of(logged_in_client)
    # A plain form post is sent back with the same reason as a message.
    response = logged_in_client.post(ASK, {"message": "one more?"})
    assert response.status_code == 302
    assert "2 questions a minute is the most" in page_of(logged_in_client)


# ------------------------------------------------------------------------ plain form posts


def test_a_plain_post_is_answered_and_redirects_to_the_conversation(
    logged_in_client: Client, decisions: list[Decision]
) -> None:
    response = logged_in_client.post(ASK, {"message": "summarize your last 10 decisions"})

    conversation = Conversation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{CHAT}?c={conversation.pk}"
    assert list(conversation.messages.values_list("role", flat=True)) == ["user", "assistant"]
    page = page_of(logged_in_client, f"?c={conversation.pk}")
    assert len(tags(page, data_testid="msg-assistant")) == 1
    assert not tags(page, data_testid="pending")
    assert len(tags(page, "a", data_testid="source")) == len(decisions)


def test_a_plain_empty_question_redirects_with_a_message(
    logged_in_client: Client, admin_user: Any
) -> None:
    conversation = conversation_create(user=admin_user)
    chat_ask(conversation=conversation, text="what is your status?")

    response = logged_in_client.post(ASK, {"message": "  ", "conversation": conversation.pk})

    assert response.status_code == 302
    assert response["Location"] == f"{CHAT}?c={conversation.pk}"
    page = page_of(logged_in_client, f"?c={conversation.pk}")
    assert "the question is empty" in page
    assert conversation.messages.count() == 2
    response = logged_in_client.post(ASK, {"message": ""})
    assert response["Location"] == CHAT

"""A real browser (Debian chromium via Playwright) on the Chat tab, over real decisions.

The question goes through htmx (the question shows, then its answer replaces a placeholder);
without an LLM configured, the answers are labelled templates citing the decision log.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from trading.deribit.client import DeribitClient
from trading.domain.chat import TEMPLATE_LABEL
from trading.models import ChatMessage, Conversation, Decision
from trading.services import tick_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = "/tmp/chat-browser.png"
#: True when the newest message's bottom shows inside the log's scroll box.
NEWEST_IN_VIEW = """() => {
  const box = document.getElementById("chat-scroll").getBoundingClientRect();
  const last = [...document.querySelectorAll("#chat-log .chat-msg")].pop().getBoundingClientRect();
  return box.height > 0 && last.bottom <= box.bottom + 1 && last.bottom > box.top;
}"""


@pytest.fixture
def signed_in(browser_login: Any) -> Any:
    """A browser page logged in as a superuser of the live server."""
    return browser_login()


def ask_suggestion(page: Any, text: str, answers_before: int) -> str:
    """Click a suggested question, press Ask, and return the agent's answer once it shows."""
    page.click(f"button.suggestion:text-is('{text}')")
    assert page.input_value("[data-testid=chat-input]") == text
    page.click("[data-testid=chat-send]")
    page.locator("[data-testid=msg-assistant]").nth(answers_before).wait_for()
    return str(page.locator("[data-testid=msg-assistant]").nth(answers_before).inner_text())


def test_a_trader_asks_the_agent_twice_and_the_conversation_stays(
    agent_settings: Any,
    sim_client: DeribitClient,
    live_server: Any,
    signed_in: Any,
    settings: Any,
) -> None:
    settings.APP = settings.APP.model_copy(update={"CHAT_QUESTIONS_PER_MINUTE": 2})
    tick_run(trigger="test", client=sim_client, seed=1)
    tick_run(trigger="test", client=sim_client, seed=2)
    opened = Decision.objects.filter(action="OPEN_COVERED_CALL").latest("id")
    page = signed_in
    page.click("nav.tabs a:text-is('Chat')")
    page.wait_for_selector("[data-testid=chat-form]")
    assert page.url == f"{live_server.url}{reverse('trading:chat')}"
    assert "No LLM is configured" in page.locator("[data-testid=no-llm]").inner_text()
    assert page.locator("[data-testid=empty]").is_visible()

    first = ask_suggestion(page, "Why did you pick your last call?", answers_before=0)

    assert (
        page.locator("[data-testid=msg-user]")
        .first.inner_text()
        .endswith("Why did you pick your last call?")
    )
    assert "template answer" in first
    assert f"[{TEMPLATE_LABEL}: no LLM configured]" in first
    assert f"Decision #{opened.pk}" in first
    assert opened.proposal["legs"][0]["instrument_name"] in first
    source = page.locator("[data-testid=msg-assistant] [data-testid=source]").first
    assert source.inner_text() == f"#{opened.pk}"
    assert source.get_attribute("href") == reverse("trading:decision", args=[opened.pk])
    assert page.input_value("[data-testid=chat-input]") == ""  # the form was reset
    # The conversation list shows the new conversation at once (out of band).
    assert page.locator("[data-testid=conversations] li").count() == 1
    assert not page.locator("[data-testid=empty]").is_visible()

    second = ask_suggestion(page, "Summarize your last 10 decisions", answers_before=1)

    assert "My last 2 decisions" in second
    assert page.locator("[data-testid=conversations] li").count() == 1
    assert page.locator("#chat-log .chat-msg").count() == 4
    assert page.locator("[data-testid=pending]").count() == 0
    conversation = Conversation.objects.get()
    assert conversation.messages.count() == 4
    assert page.locator("#conversation-id").input_value() == str(conversation.pk)
    # A question of blanks is refused on the page, and nothing is stored.
    page.fill("[data-testid=chat-input]", "   ")
    page.click("[data-testid=chat-send]")
    page.wait_for_selector("[data-testid=ask-error]:text('the question is empty')")
    assert ChatMessage.objects.count() == 4
    # A third question within the minute is past this test's allowance of 2: said, not stored.
    page.fill("[data-testid=chat-input]", "and what now?")
    page.click("[data-testid=chat-send]")
    page.wait_for_selector("[data-testid=ask-error]:text('2 questions a minute is the most')")
    assert ChatMessage.objects.count() == 4
    assert page.locator("#chat-log .chat-msg").count() == 4
    assert page.input_value("[data-testid=chat-input]") == "and what now?"  # kept to ask again
    page.screenshot(path=SCREENSHOT, full_page=True)

    page.reload()
    page.wait_for_selector("[data-testid=chat-log]")
    assert page.locator("[data-testid=conversations] li").count() == 1
    assert page.locator("[data-testid=conversations] a[aria-current=page]").inner_text() == (
        "Why did you pick your last call?"
    )
    assert page.locator("#chat-log .chat-msg").count() == 4
    assert "My last 2 decisions" in page.locator("[data-testid=msg-assistant]").nth(1).inner_text()
    assert page.locator("#conversation-id").input_value() == str(conversation.pk)
    # The log opens scrolled to the newest answer, not the oldest question.
    assert page.evaluate(NEWEST_IN_VIEW)
    # On a phone the conversation list and the log stack instead of squeezing side by side.
    page.set_viewport_size({"width": 400, "height": 800})
    aside = page.locator(".chat-layout > aside").bounding_box()
    log = page.locator(".chat-layout > section").bounding_box()
    assert log["y"] >= aside["y"] + aside["height"]
    assert log["width"] > 300

"""The bot against a loopback fake of the Telegram Bot API: every command answers the allowed
user, strangers get one refusal, paths out of the repository and secrets are refused, what
goes out is redacted, and the LLM's tool calls are held to the same rules."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from optionsdesk.asyncrun import run_sync
from optionsdesk.llm import UnavailableLLMClient
from reviewbot.bot import build_application
from reviewbot.commands import COMMANDS
from reviewbot.models import BotMessage, RefusedContact, Review
from reviewbot.ports import AlertEvent
from tests.fake_openai import answer, make_llm_client, tool_calls
from tests.fake_telegram import TOKEN
from tests.reviewbot.conftest import (
    ALLOWED,
    PLANTED_OPENAI,
    PLANTED_PASSWORD,
    PLANTED_STRIPE,
    STRANGER,
    run_updates,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("bot_settings")]
NO_LLM = UnavailableLLMClient()


class FakeTrading:
    """A trading port with fixed answers (the real one is tested in test_trading.py)."""

    def __init__(self) -> None:
        self.switched: list[bool] = []

    def mode(self) -> dict[str, Any]:
        return {"headline": "dry run: orders are simulated, nothing is sent", "dry_run": True}

    def positions_text(self) -> str:
        return "1 open: BTC-26DEC25-100000-C -0.1"

    def pnl_text(self) -> str:
        return "BTC paper net 0.0012 coin"

    def decisions_text(self, limit: int) -> str:
        return f"last {limit} decisions"

    def why_text(self, question: str, telegram_user_id: int) -> str:
        return f"decision {question}: highest score"

    def health_text(self) -> str:
        return "Guard: running"

    def may_operate(self, telegram_user_id: int) -> bool:
        return telegram_user_id == ALLOWED

    def kill_switch_set(self, *, on: bool, telegram_user_id: int) -> str:
        self.switched.append(on)
        return "kill switch on"

    def drawdown_text(self) -> str | None:
        return None

    def drawdown_release(self, *, reason: str, telegram_user_id: int) -> str:
        raise ValueError("The daily drawdown stop is not latched: nothing to reset.")

    def alert_events(self, *, lookback_s: int) -> list[AlertEvent]:
        return []


def texts(tg: Any, chat: int = ALLOWED) -> list[str]:
    return [c.text for c in tg.sent(chat)]


def test_every_command_answers_the_allowed_user(tg, repo):
    names = sorted(COMMANDS)
    args = {"ask": " where is the order gate?", "search": " order_gate", "open": " docs/agent.md",
            "why": " 12", "decisions": " 3"}  # fmt: skip
    updates = [tg.message(ALLOWED, f"/{name}{args.get(name, '')}") for name in names]
    run_updates(updates, trading=FakeTrading(), llm=NO_LLM)
    replies = texts(tg)
    assert len(replies) == len(names)
    assert all(r.strip() for r in replies)
    by_name = dict(zip(names, replies, strict=True))
    assert "/review" in by_name["help"]
    assert "/pause" in by_name["help"]
    assert "trading/gate.py:" in by_name["search"]
    assert "1  # Agent" in by_name["open"]
    assert "BTC-26DEC25-100000-C" in by_name["positions"]
    assert by_name["decisions"] == "last 3 decisions"
    assert "decision 12" in by_name["why"]
    assert "Really turn the kill switch ON" in by_name["pause"]
    assert "dry run: orders are simulated" in by_name["status"]  # the effective mode
    assert "order_gate" in by_name["ask"]  # template answer: a search of the repository
    assert BotMessage.objects.filter(direction="in").count() == len(names)


def test_a_stranger_gets_one_refusal_and_nothing_else(tg, repo):
    updates = [
        tg.message(STRANGER, "/help"),
        tg.message(STRANGER, "/open docs/agent.md"),
        tg.message(STRANGER, "what is the kill switch?"),
        tg.message(STRANGER, "/pause"),
    ]
    trading = FakeTrading()
    run_updates(updates, trading=trading, llm=NO_LLM)
    assert [c.method for c in tg.calls] == ["getMe", "sendMessage"]
    (refusal,) = texts(tg, STRANGER)
    assert "only its allowed users" in refusal
    contact = RefusedContact.objects.get(user_id=STRANGER)
    assert contact.attempts == 4
    assert trading.switched == []
    assert not BotMessage.objects.exists()


@pytest.mark.parametrize(
    "path",
    ["../../etc/passwd", "/etc/passwd", "link_out/passwd", ".env", "var/secret_key",
     "trading/../../../etc/hosts"],
)  # fmt: skip
def test_open_refuses_paths_out_of_the_tree_and_sensitive_files(tg, repo, path):
    run_updates([tg.message(ALLOWED, f"/open {path}")], llm=NO_LLM)
    (reply,) = texts(tg)
    assert reply.startswith("Refused: refused:")
    assert "root:" not in reply
    assert PLANTED_OPENAI not in reply
    assert "django-secret" not in reply


def test_a_file_with_planted_secrets_comes_back_redacted(tg, repo):
    run_updates(
        [tg.message(ALLOWED, "/open trading/settings_demo.py:1-20"),
         tg.message(ALLOWED, "/search sk_live")],
        llm=NO_LLM,
    )  # fmt: skip
    opened, searched = texts(tg)
    for reply in (opened, searched):
        for secret in (PLANTED_OPENAI, PLANTED_STRIPE, PLANTED_PASSWORD, "MIIEowIBAAKCAQEA"):
            assert secret not in reply
    assert '1  OPENAI = "[REDACTED]"' in opened
    assert "[REDACTED]" in searched
    stored = " ".join(BotMessage.objects.values_list("text", flat=True))
    assert PLANTED_STRIPE not in stored


def test_an_llm_asking_a_tool_for_a_path_outside_the_repository_is_refused(
    tg, repo, llm_server, fake
):
    fake.queue(
        tool_calls(("open_file", {"path": "../../etc/passwd"}), ("open_file", {"path": ".env"}),
                   ("list_files", {"path": "link_out"})),
        answer("I may not read those files."),
    )  # fmt: skip
    run_updates([tg.message(ALLOWED, "show me /etc/passwd")], llm=make_llm_client(llm_server))
    (reply,) = texts(tg)
    assert reply == "I may not read those files."
    tool_messages = [m for m in fake.received[1].messages if m["role"] == "tool"]
    assert len(tool_messages) == 3
    assert all(m["content"].startswith("error: refused") for m in tool_messages)
    assert "root:" not in json.dumps(fake.received[1].body)
    assert PLANTED_OPENAI not in json.dumps(fake.received[1].body)
    out = BotMessage.objects.get(direction="out")
    assert [c["ok"] for c in out.tool_calls] == [False, False, False]


def test_free_text_is_routed_by_the_llm_to_the_tools_and_history_is_kept(
    tg, repo, llm_server, fake
):
    fake.queue(
        tool_calls(("search_repo", {"query": "order_gate"})),
        answer("The gate is in trading/gate.py:3."),
        answer("You asked where the gate is."),
    )
    client = make_llm_client(llm_server)
    run_updates(
        [tg.message(ALLOWED, "where is the order gate?"), tg.message(ALLOWED, "what did I ask?")],
        llm=client,
    )
    assert texts(tg) == ["The gate is in trading/gate.py:3.", "You asked where the gate is."]
    assert "search_repo" in fake.received[0].tool_names
    assert "trading/gate.py" in fake.received[1].messages[-1]["content"]
    history = [m["content"] for m in fake.received[2].messages]
    assert "where is the order gate?" in history
    run_updates([tg.message(ALLOWED, "/clear")], llm=client)
    fake.queue(answer("Nothing before."))
    run_updates([tg.message(ALLOWED, "what did I ask?")], llm=client)
    assert "where is the order gate?" not in [m["content"] for m in fake.received[3].messages]


def test_review_is_stored_once_per_change_and_risks_and_next_read_it(tg, repo):
    run_updates(
        [tg.message(ALLOWED, "/review"), tg.message(ALLOWED, "/review"),
         tg.message(ALLOWED, "/diff"), tg.message(ALLOWED, "/risks"), tg.message(ALLOWED, "/next")],
        llm=NO_LLM,
    )  # fmt: skip
    review = Review.objects.get()
    assert review.source == "git-worktree"
    assert review.counts["CRITICAL"] >= 1
    assert review.counts["HIGH"] >= 1
    first, second, diff, risks, nxt = texts(tg)
    assert first == second
    assert "CRITICAL" in first
    assert PLANTED_OPENAI not in first
    assert "trading/settings_demo.py (new)" in diff or "trading/settings_demo.py" in diff
    assert risks.splitlines()[1].startswith("CRITICAL trading/settings_demo.py")
    assert "shell=True" in risks
    assert nxt.splitlines()[1].startswith("1. [CRITICAL] secret in the change")


def test_review_with_an_llm_adds_its_findings(tg, repo, llm_server, fake):
    finding = {"severity": "HIGH", "file": "trading/gate.py", "line": 4,
               "title": "gate no longer checks", "detail": "returns True"}  # fmt: skip
    fake.queue(answer(json.dumps({"summary": "The gate was bypassed.", "findings": [finding]})))
    run_updates([tg.message(ALLOWED, "/review")], llm=make_llm_client(llm_server))
    review = Review.objects.get()
    assert review.reviewer == "llm"
    assert review.summary == "The gate was bypassed."
    assert any(
        f["source"] == "llm" and f["title"] == "gate no longer checks" for f in review.findings
    )
    assert fake.received[0].body["response_format"]["type"] == "json_schema"
    assert PLANTED_OPENAI not in fake.received[0].text


def test_the_bot_polls_the_fake_api_end_to_end(tg, repo, tg_server):
    tg.queue(tg.message(ALLOWED, "/help"))
    app = build_application(
        token=TOKEN, base_url=tg_server.base_url, trading=FakeTrading(), llm=NO_LLM
    )

    async def go() -> None:
        async with app:
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0.05, timeout=0)
            for _ in range(200):
                if tg.sent(ALLOWED):
                    break
                await asyncio.sleep(0.05)
            await app.updater.stop()
            await app.stop()

    run_sync(go())
    (reply,) = texts(tg)
    assert "/review" in reply

"""The bot's commands as plain synchronous functions: (command, argument, context) -> Reply.

Handlers in `reviewbot.bot` do the Telegram side (who is asking, sending, buttons); these do
the work, so every command is testable without Telegram. Trading commands reach the agent only
through the injected `TradingPort`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from optionsdesk.llm import LLMClient
from reviewbot.domain.review import RANK, Finding, finding_line, next_actions
from reviewbot.models import BotMessage, BotSession
from reviewbot.ports import NotAllowed, TradingPort
from reviewbot.services import (
    Answer,
    question_answer,
    review_last,
    review_latest,
    session_clear,
)
from reviewbot.tools import latest_change, tool_run

HELP = """optionsdesk bot
Code review: /review (review the latest change), /diff (files changed), /risks (findings by
severity), /next (what to fix first), /status.
Repository: /ask <question>, /search <text>, /open <path:start-end>, /clear (forget the chat).
Any other text is a question about the code.
Trading: /positions, /pnl, /decisions [N], /why <decision id>, /health, /pause, /resume
(the kill switch), /reset_drawdown <reason> (release a latched daily drawdown stop); the last
three for operators only, with a confirmation."""

CONFIRM_PAUSE = "confirm:pause"
CONFIRM_RESUME = "confirm:resume"
CONFIRM_DRAWDOWN = "confirm:drawdown_reset"
CANCEL = "confirm:cancel"


@dataclass
class Reply:
    """Text to send, optional inline buttons (label, callback data), and how it was made."""

    text: str
    buttons: list[tuple[str, str]] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    model: str = ""


@dataclass
class Context:
    """Who asks, in which session, with which trading port and LLM (None: configured)."""

    session: BotSession
    telegram_user_id: int
    trading: TradingPort | None = None
    llm: LLMClient | None = None


def _tool(name: str, **arguments: Any) -> Reply:
    ok, text = tool_run(name, json.dumps(arguments))
    return Reply(text if ok else f"Refused: {text}")


def _findings(review: Any) -> list[Finding]:
    return [Finding(**f) for f in review.findings]


def cmd_start(arg: str, ctx: Context) -> Reply:
    """Greeting and help."""
    return Reply("Hello. " + HELP)


def cmd_help(arg: str, ctx: Context) -> Reply:
    """The command list."""
    return Reply(HELP)


def cmd_status(arg: str, ctx: Context) -> Reply:
    """Repository status, the last review and (when linked) the agent's EFFECTIVE mode."""
    _, text = tool_run("get_status", "{}")
    review = review_last()
    if review is not None:
        counts = ", ".join(f"{k} {v}" for k, v in _ordered(review.counts) if v)
        text += f"\nLast review: {review.title} — {counts or 'no findings'}."
    if ctx.trading is not None:
        text += f"\nAgent orders: {ctx.trading.mode()['headline']}."
    return Reply(text)


def cmd_review(arg: str, ctx: Context) -> Reply:
    """Review the latest change (stored; the same change is not reviewed twice)."""
    review = review_latest(llm=ctx.llm)
    findings = _findings(review)
    counts = " ".join(f"{k}:{v}" for k, v in _ordered(review.counts))
    lines = [f"Review of {review.title} ({review.reviewer})", review.summary, counts]
    lines += [finding_line(f) for f in findings[:10]]
    if len(findings) > 10:
        lines.append(f"… {len(findings) - 10} more: /risks")
    return Reply("\n".join(lines), model=review.model)


def cmd_diff(arg: str, ctx: Context) -> Reply:
    """The files of the latest change with added/removed line counts."""
    from reviewbot.domain.review import diff_parse

    change = latest_change()
    files = diff_parse(change.diff)
    if not files:
        return Reply(f"{change.title}: no changes.")
    body = "\n".join(f.summary for f in files[:40])
    return Reply(f"{change.title} [{change.source}], {len(files)} file(s):\n{body}")


def cmd_risks(arg: str, ctx: Context) -> Reply:
    """The last review's findings, most severe first, with details."""
    review = review_last()
    if review is None:
        return Reply("No review yet: /review first.")
    findings = _findings(review)
    if not findings:
        return Reply(f"{review.title}: no findings.")
    return Reply(f"Risks in {review.title}:\n" + "\n".join(finding_line(f) for f in findings[:25]))


def cmd_next(arg: str, ctx: Context) -> Reply:
    """What to fix first, from the last review."""
    review = review_last()
    if review is None:
        return Reply("No review yet: /review first.")
    return Reply("Next:\n" + "\n".join(next_actions(_findings(review))))


def cmd_ask(arg: str, ctx: Context) -> Reply:
    """A question about the code: the LLM with the repository tools (or a template search)."""
    if not arg.strip():
        return Reply("Ask what? /ask <question>")
    answer: Answer = question_answer(session=ctx.session, question=arg, llm=ctx.llm)
    return Reply(answer.text, tool_calls=answer.trace, model=answer.model)


def cmd_search(arg: str, ctx: Context) -> Reply:
    """Case-insensitive search with context."""
    if not arg.strip():
        return Reply("Search for what? /search <text>")
    return _tool("search_repo", query=arg.strip(), limit=15)


def cmd_open(arg: str, ctx: Context) -> Reply:
    """Lines of a file: /open path:start-end (at most 200)."""
    if not arg.strip():
        return Reply("Open what? /open <path:start-end>")
    return _tool("open_file", path=arg.strip())


def cmd_clear(arg: str, ctx: Context) -> Reply:
    """Forget this chat's history."""
    session_clear(session=ctx.session)
    return Reply("Cleared: I have forgotten this conversation.")


def _trading(ctx: Context) -> TradingPort:
    if ctx.trading is None:
        raise NotAllowed("trading commands are not available in this bot")
    return ctx.trading


def cmd_positions(arg: str, ctx: Context) -> Reply:
    """Open positions."""
    return Reply(_trading(ctx).positions_text())


def cmd_pnl(arg: str, ctx: Context) -> Reply:
    """P&L per book."""
    return Reply(_trading(ctx).pnl_text())


def cmd_decisions(arg: str, ctx: Context) -> Reply:
    """The newest N decisions (default 5, at most 50)."""
    limit = int(arg) if arg.strip().isdigit() else 5
    return Reply(_trading(ctx).decisions_text(max(1, min(limit, 50))))


def cmd_why(arg: str, ctx: Context) -> Reply:
    """Why a decision was taken (the agent's chat)."""
    if not arg.strip():
        return Reply("Why what? /why <decision id>")
    return Reply(_trading(ctx).why_text(arg.strip(), ctx.telegram_user_id))


def cmd_health(arg: str, ctx: Context) -> Reply:
    """Guard, checks and the effective mode."""
    return Reply(_trading(ctx).health_text())


def _confirm(ctx: Context, on: bool) -> Reply:
    trading = _trading(ctx)
    if not trading.may_operate(ctx.telegram_user_id):
        return Reply(
            "Refused: only Telegram users linked to an operator may change the kill switch."
        )
    mode = trading.mode()
    verb = "turn the kill switch ON (no new orders)" if on else "turn the kill switch OFF"
    return Reply(
        f"Now: {mode['headline']}.\nReally {verb}?",
        buttons=[("Yes", CONFIRM_PAUSE if on else CONFIRM_RESUME), ("Cancel", CANCEL)],
    )


def cmd_pause(arg: str, ctx: Context) -> Reply:
    """Ask to confirm turning the kill switch on."""
    return _confirm(ctx, True)


def cmd_resume(arg: str, ctx: Context) -> Reply:
    """Ask to confirm turning the kill switch off."""
    return _confirm(ctx, False)


def cmd_reset_drawdown(arg: str, ctx: Context) -> Reply:
    """Ask to confirm releasing a latched daily drawdown stop; the reason is audited."""
    trading = _trading(ctx)
    if not trading.may_operate(ctx.telegram_user_id):
        return Reply(
            "Refused: only Telegram users linked to an operator may release the drawdown stop."
        )
    if not arg.strip():
        return Reply("Why? /reset_drawdown <reason> (the reason is audited).")
    latched = trading.drawdown_text()
    if latched is None:
        return Reply("The daily drawdown stop is not latched: nothing to reset.")
    return Reply(
        f"{latched}.\nReally release it (a fresh equity peak from the last tick)?\n"
        f"Reason: {arg.strip()}",
        buttons=[("Yes", CONFIRM_DRAWDOWN), ("Cancel", CANCEL)],
    )


def _drawdown_reason(session: BotSession) -> str:
    """The reason of this chat's newest /reset_drawdown (the button carries no text)."""
    asked = (
        BotMessage.objects.filter(
            session=session, direction=BotMessage.Direction.IN, command="reset_drawdown"
        )
        .order_by("-id")
        .first()
    )
    return "" if asked is None else asked.text.partition(" ")[2].strip()


def _drawdown_confirm(ctx: Context) -> str:
    try:
        headline = _trading(ctx).drawdown_release(
            reason=_drawdown_reason(ctx.session), telegram_user_id=ctx.telegram_user_id
        )
    except (NotAllowed, ValueError) as exc:
        return f"Refused: {exc}"
    return f"Drawdown stop released. Now: {headline}."


def confirmation_handle(data: str, ctx: Context) -> str:
    """The answer to a confirmation button: the switch changed or the drawdown stop released
    (audited), or nothing."""
    if data == CANCEL:
        return "Cancelled: nothing changed."
    if data == CONFIRM_DRAWDOWN:
        return _drawdown_confirm(ctx)
    if data not in (CONFIRM_PAUSE, CONFIRM_RESUME):
        return "Unknown button."
    try:
        headline = _trading(ctx).kill_switch_set(
            on=data == CONFIRM_PAUSE, telegram_user_id=ctx.telegram_user_id
        )
    except NotAllowed as exc:
        return f"Refused: {exc}."
    return f"Kill switch {'ON' if data == CONFIRM_PAUSE else 'OFF'}. Now: {headline}."


COMMANDS: dict[str, Callable[[str, Context], Reply]] = {
    "start": cmd_start,
    "help": cmd_help,
    "status": cmd_status,
    "review": cmd_review,
    "diff": cmd_diff,
    "risks": cmd_risks,
    "next": cmd_next,
    "ask": cmd_ask,
    "search": cmd_search,
    "open": cmd_open,
    "clear": cmd_clear,
    "positions": cmd_positions,
    "pnl": cmd_pnl,
    "decisions": cmd_decisions,
    "why": cmd_why,
    "health": cmd_health,
    "pause": cmd_pause,
    "resume": cmd_resume,
    "reset_drawdown": cmd_reset_drawdown,
}


def command_run(name: str, arg: str, ctx: Context) -> Reply:
    """Run a command; a refusal or failure becomes a short reply, never an exception."""
    handler = COMMANDS.get(name)
    if handler is None:
        return Reply(f"Unknown command /{name}. /help lists them.")
    try:
        return handler(arg, ctx)
    except NotAllowed as exc:
        return Reply(f"Refused: {exc}.")


def _ordered(counts: dict[str, int]) -> list[tuple[str, int]]:
    """Counts most severe first (PostgreSQL's jsonb keeps no key order)."""
    return sorted(counts.items(), key=lambda item: RANK.get(item[0], len(RANK)))

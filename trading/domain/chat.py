"""Chat with the agent, the Django-free part: what a question asks, and template answers.

Why here: chat answers without an LLM must still be right about the common questions ("why did
you pick the 97k call?", "summarize your last 10 decisions", "what would you likely do right
now?"). `classify_question` reads the question; the `render_*` functions turn the read-only
tool outputs of `trading.chat.tools` (plain JSON-ready dicts: the same data the LLM is given)
into a labelled answer. Nothing here can place an order: it only formats what it is handed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

TEMPLATE_LABEL = "Template answer (no LLM)"
DEFAULT_LIMIT = 10
MAX_LIMIT = 100


class Intent(StrEnum):
    """The kinds of question template answers cover."""

    WHY = "why"
    SUMMARY = "summary"
    NEXT = "next"
    POSITIONS = "positions"
    CANDIDATES = "candidates"
    STATUS = "status"
    PNL = "pnl"
    TRADE = "trade"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class InstrumentHint:
    """What a question says about an option: a full name, or a strike (and maybe currency)."""

    name: str | None = None
    strike: float | None = None
    currency: str | None = None

    def matches(self, instrument_name: str) -> bool:
        """True when `instrument_name` (Deribit `BTC-11DEC26-97000-C`) fits this hint."""
        upper = instrument_name.upper()
        if self.name:
            return upper == self.name
        parts = upper.split("-")
        if len(parts) != 4:
            return False
        if self.currency and parts[0] != self.currency:
            return False
        if self.strike is None:
            return self.currency is not None
        try:
            return abs(float(parts[2].replace("D", ".")) - self.strike) < 1e-9
        except ValueError:
            return False

    @property
    def empty(self) -> bool:
        """True when the question named no option."""
        return self.name is None and self.strike is None

    def describe(self) -> str:
        """How the answer names what was asked about."""
        if self.name:
            return self.name
        strike = "" if self.strike is None else format(self.strike, "f").rstrip("0").rstrip(".")
        return " ".join(p for p in (self.currency, strike) if p) + " call"


@dataclass(frozen=True, slots=True)
class Question:
    """A classified question: its intent, how many decisions it asks about, which option."""

    intent: Intent
    limit: int
    hint: InstrumentHint


_NAME = re.compile(r"\b(BTC|ETH)-\d{1,2}[A-Z]{3}\d{2}-\d+(?:d\d+)?-[CP]\b", re.IGNORECASE)
_KILO = re.compile(r"\b(\d+(?:\.\d+)?)\s*k\b", re.IGNORECASE)
_STRIKE = re.compile(r"(?<![\w.])(\d{3,7}(?:\.\d+)?)(?![\w.%])")
_COUNT = re.compile(r"\b(?:last|past|recent)\s+(\d{1,4})\b", re.IGNORECASE)
_CURRENCY = re.compile(r"\b(BTC|ETH|bitcoin|ether|ethereum)\b", re.IGNORECASE)

_TRADE = re.compile(
    r"^\s*(?:please\s+)?(?:place|buy|sell|open|close|roll|cancel|execute|trade|submit|"
    r"turn off|disable|switch off|set)\b|\b(?:place|submit|execute) (?:an? )?(?:order|trade)",
    re.IGNORECASE,
)

_WORDS: tuple[tuple[Intent, tuple[str, ...]], ...] = (
    (Intent.SUMMARY, ("summar", "recap", "overview of your", "history", "recent decisions")),
    (Intent.NEXT, ("would you", "right now", "next", "going to", "plan to", "will you", "likely")),
    (Intent.WHY, ("why", "reason", "explain", "what made you")),
    (
        Intent.PNL,
        (
            "pnl",
            "p&l",
            "p/l",
            "profit",
            "loss",
            "premium collected",
            "collected",
            "earned",
            "how much have you made",
            "how much did you make",
            "performance",
        ),
    ),
    (Intent.POSITIONS, ("position", "holding", "exposure", "open call", "short call")),
    (Intent.CANDIDATES, ("candidate", "best call", "options to sell", "what can you sell")),
    (
        Intent.STATUS,
        ("status", "control", "kill switch", "mode", "dry run", "setting", "health", "param"),
    ),
)


def instrument_hint(text: str) -> InstrumentHint:
    """The option a question names: `BTC-11DEC26-97000-C`, "the 97k call", "3400 ETH call"."""
    found = _NAME.search(text)
    if found:
        return InstrumentHint(name=found.group(0).upper())
    currency = None
    if cur := _CURRENCY.search(text):
        word = cur.group(1).lower()
        currency = "BTC" if word in ("btc", "bitcoin") else "ETH"
    without_counts = _COUNT.sub(" ", text)
    if kilo := _KILO.search(without_counts):
        return InstrumentHint(strike=float(kilo.group(1)) * 1000, currency=currency)
    if plain := _STRIKE.search(without_counts):
        return InstrumentHint(strike=float(plain.group(1)), currency=currency)
    return InstrumentHint(currency=currency)


def classify_question(text: str, *, default_limit: int = DEFAULT_LIMIT) -> Question:
    """What the question asks (first matching intent wins; an option named alone means WHY)."""
    lowered = " ".join(text.lower().split())
    limit = default_limit
    if count := _COUNT.search(lowered):
        limit = int(count.group(1))
    limit = max(1, min(limit, MAX_LIMIT))
    hint = instrument_hint(text)
    if _TRADE.search(lowered) and "why" not in lowered:
        return Question(intent=Intent.TRADE, limit=limit, hint=hint)
    intent = next(
        (intent for intent, words in _WORDS if any(w in lowered for w in words)),
        Intent.UNKNOWN,
    )
    if intent is Intent.UNKNOWN and not hint.empty:
        intent = Intent.WHY
    if intent is Intent.STATUS and not hint.empty and "why" in lowered:
        intent = Intent.WHY
    return Question(intent=intent, limit=limit, hint=hint)


# ------------------------------------------------------------------------------ formatting


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{float(value) * 100:.1f}%"


def _num(value: Any, digits: int = 2) -> str:
    return "n/a" if value is None else f"{float(value):.{digits}f}"


def _signed(value: Any) -> str:
    number = float(value)
    return f"{'-' if number < 0 else '+'} {abs(number):.6f}"


_SOURCES = {"rule_based": "the rules", "llm": "the LLM"}


def _days(value: Any) -> str:
    """'1 day', '2.5 days'."""
    number = float(value)
    return f"{number:g} day" + ("" if number == 1 else "s")


def _when(iso: Any) -> str:
    """'2026-11-21 10:00 UTC' from an ISO timestamp."""
    return f"{str(iso or '')[:16].replace('T', ' ')} UTC"


def legs_text(legs: Sequence[Mapping[str, Any]]) -> str:
    """'sell 0.1 BTC-…-C at 0.0070; buy …' (empty for DO_NOTHING)."""
    return "; ".join(
        f"{leg.get('direction')} {leg.get('amount')} {leg.get('instrument_name')}"
        + (f" at {leg['limit_price_coin']}" if leg.get("limit_price_coin") else "")
        for leg in legs
    )


def decision_line(d: Mapping[str, Any]) -> str:
    """One line per decision: `#12 2026-11-21 10:00 UTC OPEN_COVERED_CALL sell … (approved)`."""
    legs = legs_text(d.get("legs", []))
    done = "executed" if d.get("executed") else "not executed"
    if d.get("dry_run") and d.get("executed"):
        done = "executed on paper"
    what = f"{d.get('action')}" + (f" {legs}" if legs else "")
    return f"#{d.get('id')} {_when(d.get('decided_at'))} {what} ({d.get('verdict')}, {done})"


def candidate_text(c: Mapping[str, Any]) -> str:
    """One candidate's figures as a trader reads them."""
    return (
        f"{c.get('instrument_name')}: delta {_num(c.get('delta'))}, "
        f"{_num(c.get('dte_days'), 1)} DTE, IV {_pct(c.get('iv'))}, "
        f"IV/RV {_num(c.get('ivrv'))}, premium ${_num(c.get('premium_usd'))} per coin, "
        f"score {_num(c.get('score'), 3)}"
    )


def render_why(
    hint: InstrumentHint,
    decision: Mapping[str, Any] | None,
    searched: int,
    recent: Sequence[Mapping[str, Any]] = (),
) -> str:
    """Why the agent chose what it did in the decision that matches the question; when none
    matches, say so and list the recent picks (`recent`) the trader may have meant."""
    if decision is None:
        asked = "" if hint.empty and hint.currency is None else f" involving the {hint.describe()}"
        last = "my last decision" if searched == 1 else f"my last {searched} decisions"
        lines = [f"I found no decision{asked} among {last}."]
        if recent:
            lines.append("My recent picks:")
            lines.extend(f"- {decision_line(d)}" for d in recent)
        return "\n".join(lines)
    lines = [f"Decision {decision_line(decision)}."]
    lines.append(
        f"Decided by {_SOURCES.get(str(decision.get('source')), decision.get('source'))} "
        f"in {decision.get('mode')} mode "
        f"({decision.get('decision_mode')}), {'dry run' if decision.get('dry_run') else 'live'}."
    )
    lines.append(f"Reason: {decision.get('reason') or 'none recorded'}")
    chosen = decision.get("chosen_candidate")
    if chosen:
        of = decision.get("candidate_count")
        rank = chosen.get("rank")
        place = f"rank {int(rank) + 1}" if rank is not None else "unranked"
        lines.append(
            f"The chosen call ({place}"
            + (f" of {of}" if of else "")
            + f"): {candidate_text(chosen)}."
        )
    failed = decision.get("failed_checks") or []
    if failed:
        detail = "; ".join(f"{c.get('name')}: {c.get('detail')}" for c in failed)
        lines.append(f"The risk engine refused it: {detail}.")
    else:
        lines.append(f"Risk verdict: {decision.get('verdict')}.")
    shadow = decision.get("shadow")
    if shadow:
        lines.append(
            f"Shadow proposal ({shadow.get('source')}): {shadow.get('action')} "
            f"{legs_text(shadow.get('legs', []))}".rstrip()
            + "."
        )
    return "\n".join(lines)


def render_summary(decisions: Sequence[Mapping[str, Any]], asked: int) -> str:
    """Counts by action, verdict and execution, then one line per decision (newest first)."""
    if not decisions:
        return "I have made no decisions yet."
    actions = Counter(str(d.get("action")) for d in decisions)
    verdicts = Counter(str(d.get("verdict")) for d in decisions)
    executed = sum(1 for d in decisions if d.get("executed"))
    head = "My last decision" if len(decisions) == 1 else f"My last {len(decisions)} decisions"
    if len(decisions) < asked:
        head += f" (you asked for {asked}; that is all there are)"
    lines = [
        head + ": " + ", ".join(f"{n} {a}" for a, n in actions.most_common()) + ".",
        "Risk verdicts: " + ", ".join(f"{n} {v}" for v, n in verdicts.most_common()) + f"; "
        f"{executed} executed.",
    ]
    lines.extend(f"- {decision_line(d)}" for d in decisions)
    return "\n".join(lines)


def render_next(outlook: Mapping[str, Any]) -> str:
    """What the next tick would likely do, per underlying, in the rule policy's order."""
    blockers = outlook.get("blockers") or []
    last = outlook.get("last_decision")
    lines: list[str] = []
    if blockers:
        lines.append("Nothing that adds risk: " + "; ".join(blockers) + ".")
    if last is None:
        lines.append("I have no decision yet to go on; the next tick will rank the chain afresh.")
        return "\n".join(lines)
    lines.append(
        f"My last tick ({_when(last.get('decided_at'))}) decided {last.get('action')}"
        + (f": {legs_text(last.get('legs', []))}" if last.get("legs") else "")
        + "."
    )
    lines.extend(
        underlying_outlook(outlook, currency) for currency in outlook.get("underlyings") or {}
    )
    lines.append(
        f"Ticks run every {outlook.get('loop_interval_s')} s in "
        f"{outlook.get('decision_mode')} decision mode"
        + (", dry run." if outlook.get("dry_run") else ", with live orders.")
        + " This is a forecast from stored data; the market may have moved."
    )
    return "\n".join(lines)


def underlying_outlook(outlook: Mapping[str, Any], currency: str) -> str:
    """One underlying's line of `render_next`: its open call and the roll rules, or the call it
    would likely sell, or what stops it."""
    view = (outlook.get("underlyings") or {}).get(currency)
    if view is None:
        return f"{currency}: not among the underlyings I trade."
    blockers = outlook.get("blockers") or []
    rules = outlook.get("roll_rules") or {}
    limit = outlook.get("max_calls_per_underlying") or 1
    calls = view.get("open_calls") or []
    best = view.get("best_candidate")
    if calls:
        line = f"{currency}: I hold {', '.join(calls)}; the next tick checks it against the roll"
        if rules:
            line += (
                f" rules (take profit at {float(rules['take_profit_frac']):.0%} of the premium,"
                f" roll in the money at delta >= {rules['roll_itm_delta']} within"
                f" {_days(rules['roll_itm_dte_days'])}, or under"
                f" {_days(rules['roll_dte_min_days'])} left)"
            )
        line += " and holds it when none fires"
        if len(calls) < limit and best and not blockers:
            line += f"; it may also open {best.get('instrument_name')}"
        return line + "."
    if blockers:
        return f"{currency}: no open call, and none will be opened while blocked."
    if best:
        return f"{currency}: no open call, so it would likely sell {candidate_text(best)}."
    return f"{currency}: no open call and no candidate passed the filters last tick."


def _usd_text(value: Any) -> str:
    return "" if value is None else f" ({'-' if value < 0 else ''}${abs(value):,.2f})"


def render_pnl(pnl: Mapping[str, Any]) -> str:
    """Per underlying and book: realised, unrealised (mark and buy-back), total and fees, then
    how the premium, buybacks and settlements add up."""
    books = pnl.get("books") or []
    if not books:
        return "I have sold no calls yet, so there is no P&L to report."
    lines = ["P&L in coin, trading fees included (USD at the last tick's index):"]
    for b in books:
        ccy = b["currency"]
        parts = [f"{_num(b['sold_coin'], 6)} received for {b['sells']} call(s) sold"]
        if b["buys"]:
            parts.append(f"- {_num(b['bought_coin'], 6)} paid for {b['buys']} bought back")
        if b["expired"]:
            parts.append(f"{_signed(b['settled_coin'])} settled at {b['expired']} expiry(ies)")
        fees = b.get("fees_coin")
        if fees is not None:
            parts.append(f"- {_num(fees, 6)} fees")
        head = f"- {ccy} {b['book']}:"
        if "realised_coin" in b:
            head += (
                f" realised {_num(b['realised_coin'], 6)} {ccy}{_usd_text(b.get('realised_usd'))}"
            )
            if b.get("unrealised_mark_coin") is None and b["open_positions"]:
                head += "; unrealised unknown (no mark yet)"
            elif b["open_positions"]:
                head += (
                    f"; unrealised {_num(b['unrealised_mark_coin'], 6)} at mark"
                    f"{_usd_text(b.get('unrealised_mark_usd'))}, "
                    f"{_num(b['unrealised_buyback_coin'], 6)} at the buy-back price"
                )
            if b.get("total_mark_coin") is not None:
                head += (
                    f"; total {_num(b['total_mark_coin'], 6)} {ccy}"
                    f"{_usd_text(b.get('total_mark_usd'))}"
                )
        else:
            head += f" net {_num(b['net_coin'], 6)} {ccy}{_usd_text(b.get('net_usd'))}"
        lines.append(f"{head}. Cash: {' '.join(parts)}; {b['open_positions']} still open")
    lines.append(
        "Realised counts closed calls and every fee paid; unrealised marks open calls at the "
        "last tick's mark and at the best ask (what buying back now would cost). Paper books "
        "are dry-run fills at the book, never sent to the exchange."
    )
    return "\n".join(lines)


def render_positions(positions: Sequence[Mapping[str, Any]]) -> str:
    """The open positions, one per line."""
    if not positions:
        return "I hold no open option positions."
    lines = [f"{len(positions)} open position(s):"]
    for p in positions:
        lines.append(
            f"- {p.get('instrument_name')}: {p.get('size')} at {p.get('average_price')} "
            f"({p.get('strategy_id')}{', paper' if p.get('paper') else ''})"
        )
    return "\n".join(lines)


def render_candidates(candidates: Mapping[str, Sequence[Mapping[str, Any]]]) -> str:
    """The last tick's best candidates per underlying."""
    if not any(candidates.values()):
        return "My last tick ranked no candidates."
    lines: list[str] = []
    for currency, rows in candidates.items():
        lines.append(f"{currency}: {len(rows)} best candidate(s)")
        lines.extend(f"- {candidate_text(c)}" for c in rows)
    return "\n".join(lines)


def render_status(status: Mapping[str, Any]) -> str:
    """Environment, modes, dry run, kill switch, health, last tick."""
    lines = [
        f"Environment {status.get('environment')}, mode {status.get('mode')}, decision mode "
        f"{status.get('decision_mode')}, {'dry run' if status.get('dry_run') else 'LIVE orders'}.",
        f"Kill switch {'ON' if status.get('kill_switch') else 'off'}; agent "
        f"{status.get('agent_state')}; health {status.get('health')}.",
    ]
    if status.get("last_tick_at"):
        lines.append(f"Last tick {_when(status['last_tick_at'])}.")
    if status.get("llm_available") is False:
        lines.append("No LLM is configured: the rules decide.")
    return "\n".join(lines)


TRADE_TEXT = (
    "I can't place, change or cancel orders or controls from chat: no chat tool can. Only the "
    "agent's tick trades, and the risk engine judges every proposal it makes. To change what it "
    "does, use the controls on System Health (/system/) or PATCH /api/agent/controls: the kill "
    "switch, dry run, decision mode, limits."
)

HELP_TEXT = (
    "Without an LLM I answer these from my decision log:\n"
    '- "why did you pick the 97k call?" (or any strike or instrument name)\n'
    '- "summarize your last 10 decisions"\n'
    '- "what would you likely do right now?"\n'
    '- "what positions do you hold?", "show your candidates", "what is your status?"\n'
    '- "what is your P&L?"'
)


def labelled(text: str, why: str) -> str:
    """A template answer with its label first, so nobody mistakes it for the model's words."""
    return f"[{TEMPLATE_LABEL}: {why}]\n{text}"

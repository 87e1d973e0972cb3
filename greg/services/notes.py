"""Observer Notes for the Greg Lab: a short read of the open positions, by the project's LLM
client when one is configured, else by a labelled template (never both, never silently)."""

from __future__ import annotations

from dataclasses import dataclass

from greg.models import GregPosition
from optionsdesk.llm import ChatMessage, LLMClient, LLMError, build_llm_client
from optionsdesk.redaction import redact

SYSTEM = (
    "You are an options risk observer. In at most five short bullet points, summarise the open "
    "Greg positions below for a trader: what needs attention first and why. Use only the numbers "
    "given; do not invent prices."
)


@dataclass(frozen=True)
class ObserverNotes:
    """The notes and who wrote them ("llm" or "template")."""

    text: str
    kind: str
    model: str = ""
    error: str = ""


def _facts(positions: list[GregPosition]) -> str:
    lines = []
    for p in positions:
        top = (p.review or {}).get("top", {})
        dte = (p.review or {}).get("dte_days")
        lines.append(
            f"#{p.pk} {p.badge} {p.underlying} {p.strategy}: P&L {p.pnl_usd:.2f} USD, "
            f"credit {p.credit_usd:.2f}, DTE {dte if dte is None else round(dte, 1)}, "
            f"suggests {top.get('action', 'HOLD')} ({top.get('reason', 'not reviewed yet')})"
        )
    return "\n".join(lines)


def notes_template(positions: list[GregPosition]) -> str:
    """A rule-written summary: counts, P&L, and the positions with a non-HOLD suggestion."""
    if not positions:
        return "No open Greg positions: nothing to observe."
    total = sum(p.pnl_usd for p in positions)
    urgent = [
        p for p in positions if (p.review or {}).get("top", {}).get("action", "HOLD") != "HOLD"
    ]
    text = [f"{len(positions)} open positions, P&L {total:+.2f} USD in total."]
    for p in sorted(urgent, key=lambda x: (x.review or {}).get("top", {}).get("priority", 9))[:5]:
        top = p.review["top"]
        text.append(f"#{p.pk} {p.underlying} {p.strategy}: {top['action']} - {top['reason']}")
    if not urgent:
        text.append("No rule asks for action: every position is on HOLD.")
    return "\n".join(text)


def observer_notes(*, llm: LLMClient | None = None) -> ObserverNotes:
    """Notes on the open positions: the LLM's when available and answering, else the template."""
    positions = list(GregPosition.objects.filter(status="open").order_by("-opened_at")[:40])
    fallback = notes_template(positions)
    client = llm or build_llm_client()
    if not positions or not client.available:
        return ObserverNotes(text=fallback, kind="template")
    messages = [
        ChatMessage(role="system", content=SYSTEM),
        ChatMessage(role="user", content=redact(_facts(positions))),
    ]
    try:
        result = client.complete(messages, max_tokens=400, deadline_s=20.0)
    except LLMError as exc:
        return ObserverNotes(text=fallback, kind="template", error=str(exc)[:200])
    return ObserverNotes(text=result.text.strip() or fallback, kind="llm", model=result.model)

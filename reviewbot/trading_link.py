"""The review bot's only door to the trading agent (see `.importlinter`, reviewbot-independent:
this module is the one commented exception). Reads go through `trading.selectors` and the
agent chat's read-only tools; the kill switch through `trading.services.controls.controls_update`
and the drawdown reset through `trading.services.agent_status.drawdown_operator_reset`, the same
audited services the dashboard and the API use. Nothing here writes a trading model directly.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from optionsdesk.roles import Role, user_has_role
from reviewbot.models import TelegramLink
from reviewbot.ports import AlertEvent, NotAllowed
from trading.chat import tools as chat_tools
from trading.chat.service import question_answer, question_ask
from trading.domain import chat as templates
from trading.domain.chat import TEMPLATE_LABEL
from trading.domain.health import GuardState
from trading.models import (
    AgentStatus,
    Conversation,
    Order,
    Position,
    ReconciliationDiscrepancy,
)
from trading.selectors import agent_mode_effective, health_latest, pnl_summary
from trading.services.agent_status import drawdown_load, drawdown_operator_reset
from trading.services.controls import controls_update


def _user_for(telegram_user_id: int) -> Any:
    link = (
        TelegramLink.objects.select_related("user")
        .filter(telegram_user_id=telegram_user_id)
        .first()
    )
    return None if link is None else link.user


class TradingLink:
    """`reviewbot.ports.TradingPort` over the trading app."""

    def mode(self) -> dict[str, Any]:
        """`trading.selectors.agent_mode_effective()`: what the next tick does with orders."""
        return agent_mode_effective()

    def positions_text(self) -> str:
        """Open positions (paper ones marked)."""
        rows = chat_tools.get_positions(chat_tools.ToolContext(), {})["positions"]
        return templates.render_positions(rows)

    def pnl_text(self) -> str:
        """P&L per underlying and book."""
        return templates.render_pnl(pnl_summary())

    def decisions_text(self, limit: int) -> str:
        """The newest decisions, one line each."""
        rows = chat_tools.list_decisions(chat_tools.ToolContext(limit=limit), {"limit": limit})
        return templates.render_summary(rows["decisions"], limit)

    def why_text(self, question: str, telegram_user_id: int) -> str:
        """The agent's chat answers (stored as a Telegram conversation). A bare decision id
        without an LLM is answered from that decision's record (labelled template)."""
        text = question.strip().lstrip("#")
        user = _user_for(telegram_user_id)
        asked = question_ask(
            text=f"Why did you decide #{text}?" if text.isdigit() else f"Why {question}?",
            user=user,
            channel=Conversation.Channel.TELEGRAM,
        )
        answer = question_answer(question=asked)
        if text.isdigit() and answer.answer_kind == "template":
            decision = chat_tools.get_decision(chat_tools.ToolContext(), {"decision_id": text})
            if "error" in decision:
                return f"[{TEMPLATE_LABEL}] {decision['error']}"
            hint = templates.instrument_hint("")
            return f"[{TEMPLATE_LABEL}]\n" + templates.render_why(hint, decision, 1)
        return answer.content

    def health_text(self) -> str:
        """Guard state, the effective mode and the last batch of agent checks."""
        status = AgentStatus.load()
        guard = (
            GuardState.model_validate(status.guard_state) if status.guard_state else GuardState()
        )
        mode = agent_mode_effective()
        lines = [
            f"Orders: {mode['headline']}",
            f"Guard: {guard.status.value} (worst {guard.worst_severity.name})"
            + (f" — {guard.reason}" if guard.reason else ""),
            f"Last tick: {status.last_tick_at:%Y-%m-%d %H:%M} UTC"
            if status.last_tick_at
            else "Last tick: none yet",
        ]
        checks = health_latest()
        if checks:
            lines.append("Checks: " + ", ".join(f"{c.name} {c.severity}" for c in checks))
        return "\n".join(lines)

    def may_operate(self, telegram_user_id: int) -> bool:
        """Linked to a dashboard user holding the operator role."""
        user = _user_for(telegram_user_id)
        return user is not None and user_has_role(user, Role.OPERATOR)

    def _operator(self, telegram_user_id: int) -> Any:
        user = _user_for(telegram_user_id)
        if user is None or not user_has_role(user, Role.OPERATOR):
            raise NotAllowed("only Telegram users linked to an operator may do this")
        return user

    def kill_switch_set(self, *, on: bool, telegram_user_id: int) -> str:
        """The audited controls service (source "telegram"); `NotAllowed` for non-operators."""
        user = self._operator(telegram_user_id)
        controls_update(
            changes={"kill_switch": on},
            user=user.get_username(),
            source="telegram",
            note=f"Telegram user {telegram_user_id}",
        )
        return agent_mode_effective()["headline"]

    def drawdown_text(self) -> str | None:
        """ "Daily drawdown stop LATCHED <when> UTC: <why>", or None when it is not latched."""
        state = drawdown_load()
        if state is None or not state.halted:
            return None
        when = f"{state.halted_at:%Y-%m-%d %H:%M} UTC" if state.halted_at else "(time unknown)"
        return f"Daily drawdown stop LATCHED {when}: {state.reason}"

    def drawdown_release(self, *, reason: str, telegram_user_id: int) -> str:
        """The audited operator reset (source "telegram", the reason as the note, with the
        Telegram user); `NotAllowed` for non-operators, `ValueError` when not latched."""
        user = self._operator(telegram_user_id)
        why = reason.strip()
        drawdown_operator_reset(
            user=user.get_username(),
            reason=f"{why} (Telegram user {telegram_user_id})" if why else "",
            source="telegram",
        )
        return agent_mode_effective()["headline"]

    def alert_events(self, *, lookback_s: int) -> list[AlertEvent]:
        """Fills, expiries, guard pauses and discrepancies of the last `lookback_s` seconds."""
        since = timezone.now() - timedelta(seconds=lookback_s)
        events: list[AlertEvent] = []
        fills = Order.objects.filter(
            state__in=[
                Order.State.FILLED,
                Order.State.CANCELLED_PARTIAL,
                Order.State.SIMULATED,
            ],
            filled_amount__gt=0,
            resolved_at__gte=since,
        ).order_by("resolved_at", "id")
        for o in fills:
            events.append(
                AlertEvent(
                    f"fill:{o.label}",
                    f"{'Paper fill' if o.dry_run else 'Order filled'}: {o.direction} "
                    f"{o.filled_amount} {o.instrument_name} at "
                    f"{o.average_price} ({o.environment}{', dry run' if o.dry_run else ''}; "
                    f"label {o.label})",
                )
            )
        expired = Position.objects.filter(
            status=Position.Status.CLOSED, settled_coin__isnull=False, closed_at__gte=since
        )
        for p in expired:
            events.append(
                AlertEvent(
                    f"expiry:{p.pk}",
                    f"Position expired: {p.instrument_name} settled {p.settled_coin} "
                    f"{p.currency} at delivery {p.delivery_price_usd} USD"
                    f"{' (paper)' if p.paper else ''}",
                )
            )
        status = AgentStatus.load()
        if status.guard_state:
            guard = GuardState.model_validate(status.guard_state)
            if guard.status.value != "running" and guard.changed_at and guard.changed_at >= since:
                events.append(
                    AlertEvent(
                        f"guard:{guard.status.value}:{guard.changed_at.isoformat()}",
                        f"Health guard {guard.status.value} the agent: {guard.reason}",
                    )
                )
        items = ReconciliationDiscrepancy.objects.filter(run__started_at__gte=since)
        for item in items.select_related("run"):
            events.append(
                AlertEvent(
                    f"reconcile:{item.pk}",
                    f"Reconciliation #{item.run_id}: {item.instrument_name} {item.kind} "
                    f"(local {item.local_size}, exchange {item.exchange_size}); "
                    f"{item.action_taken or 'no action'}",
                )
            )
        return events

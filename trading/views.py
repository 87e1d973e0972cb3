"""Dashboard pages of the trading app: the Live Agent tab and the Chat tab.

One view renders the page or, for htmx polls, only its `live` fragment (django-template-partials).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from trading import selectors
from trading.models import Position


def live_context() -> dict[str, Any]:
    """Spot, portfolio, positions, mode badge, last action and why, candidates, timeline."""
    snapshot = selectors.agent_status_snapshot()
    last = snapshot["last"]
    return {
        "base_url": settings.DERIBIT_BASE_URL,
        "snapshot": snapshot,
        "last": last,
        "top_candidates": last.get("top_candidates", {}),
        "positions": selectors.position_list(status=Position.Status.OPEN),
        "decisions": selectors.decision_list(limit=20),
    }


@login_required
def live(request: HttpRequest) -> HttpResponse:
    """The live agent's current state; htmx polls get only the `live` fragment."""
    template = "trading/live.html"
    if getattr(request, "htmx", False):
        template += "#live"
    return render(request, template, live_context())


@login_required
def chat(request: HttpRequest) -> HttpResponse:
    """Chat with the agent; says plainly when no LLM is configured."""
    return render(request, "trading/chat.html", {"llm_enabled": settings.LLM_ENABLED})


CONTROL_FORM_FIELDS = (
    ("kill_switch", "Global kill switch", "bool"),
    ("dry_run", "Dry run", "tristate"),
    ("daily_drawdown_limit_pct", "Daily drawdown limit, %", "number"),
    ("mode", "Mode", "text"),
    ("decision_mode", "Decision mode", "text"),
    ("liquidity_max_spread_pct", "Max spread, %", "number"),
    ("liquidity_min_open_interest", "Min open interest", "number"),
    ("liquidity_min_depth_multiple", "Min book depth, x order", "number"),
    ("reconcile_action", "Reconciliation action", "text"),
    ("loop_interval_s", "Loop interval, s", "number"),
    ("ivrv_min", "Min IV/RV", "number"),
    ("explore_prob", "Exploration probability", "number"),
)


def controls_context() -> dict[str, Any]:
    """The System Health tab's controls section: current values, guard, audit trail."""
    from trading.models import RuntimeControl

    control = RuntimeControl.load()
    snapshot = selectors.agent_status_snapshot()
    return {
        "agent_controls": control,
        "agent_control_fields": [
            (name, label, kind, getattr(control, name)) for name, label, kind in CONTROL_FORM_FIELDS
        ],
        "agent_guard": snapshot["guard"],
        "agent_trading_allowed": snapshot["trading_allowed"],
        "agent_health_checks": selectors.health_latest(),
        "agent_control_changes": selectors.control_changes(limit=10),
    }


def _parse_control(name: str, kind: str, raw: str | None) -> Any:
    if kind == "bool":
        return raw in ("on", "true", "1")
    text = (raw or "").strip()
    if kind == "tristate":
        return None if text == "" else text in ("on", "true", "1")
    if kind == "number":
        if text == "":
            return None
        return int(text) if name in ("loop_interval_s",) else float(text)
    return text


@login_required
def controls(request: HttpRequest) -> HttpResponse:
    """POST: change controls (audited), toggle the kill switch, reset the guard or run checks."""
    from pydantic import ValidationError

    from trading.services import controls_update, guard_operator_reset

    error = ""
    if request.method == "POST":
        user = str(request.user)
        intent = request.POST.get("intent", "save")
        try:
            if intent == "kill":
                controls_update(changes={"kill_switch": True}, user=user, source="dashboard")
            elif intent == "unkill":
                controls_update(changes={"kill_switch": False}, user=user, source="dashboard")
            elif intent == "guard_reset":
                guard_operator_reset()
            elif intent == "healthcheck":
                from trading.services import agent_healthcheck
                from trading.services.exchange import agent_client

                with agent_client() as client:
                    agent_healthcheck(client=client, kind="manual")
            else:
                changes = {
                    name: _parse_control(name, kind, request.POST.get(name))
                    for name, _, kind in CONTROL_FORM_FIELDS
                }
                changes = {
                    k: ("" if v is None and k in ("mode", "decision_mode") else v)
                    for k, v in changes.items()
                }
                controls_update(changes=changes, user=user, source="dashboard")
        except (ValidationError, ValueError) as exc:
            error = str(exc).splitlines()[0][:300]
    context = controls_context() | {"agent_control_error": error}
    return render(request, "trading/partials/controls.html", context)

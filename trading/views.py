"""Dashboard pages of the trading app: the Live Agent tab and the Chat tab.

One view renders the page or, for htmx polls, only its `live` fragment (django-template-partials).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from pydantic import ValidationError

from optionsdesk.htmx import htmx_partial
from optionsdesk.roles import Role, role_required, user_has_role
from trading import selectors
from trading.chat.service import (
    MAX_QUESTION_CHARS,
    ChatInputError,
    ChatRateLimited,
    conversation_list,
    question_answer,
    question_ask,
)
from trading.domain.controls import SPECS_BY_NAME
from trading.forms import FORM_CONTROLS, ControlsForm
from trading.models import ChatMessage, Conversation, Position, RuntimeControl

#: Closed positions the Live Agent tab lists (newest first).
CLOSED_SHOWN = 10


#: Decisions the timeline shows.
TIMELINE_SHOWN = 20


def _timeline(hide_idle: bool) -> tuple[list[Any], int]:
    """The newest decisions; with `hide_idle`, a DO_NOTHING that repeats the one before it (same
    reason) is hidden and counted."""
    # Without the heavy JSON (state, candidates, log line, LLM prompts): the timeline shows none.
    newest = selectors.decision_list_light(selectors.decision_list())
    if not hide_idle:
        return selectors.decision_views(newest[:TIMELINE_SHOWN]), 0
    rows, hidden, previous = [], 0, None
    for decision in newest[: TIMELINE_SHOWN * 10]:
        idle = decision.action == "DO_NOTHING"
        if idle and previous is not None and previous == decision.reason:
            hidden += 1
            continue
        previous = decision.reason if idle else None
        rows.append(decision)
        if len(rows) == TIMELINE_SHOWN:
            break
    return selectors.decision_views(rows), hidden


def live_context(*, hide_idle: bool = False) -> dict[str, Any]:
    """Spot, portfolio, positions, P&L, mode badge, last action and why, candidates (and which
    filters rejected how many when none passed), timeline (optionally without repeated idles)."""
    from trading.domain.wording import rejection_summary

    snapshot = selectors.agent_status_snapshot()
    last = snapshot.last
    decisions, hidden = _timeline(hide_idle)
    counts = selectors.last_rejection_counts()
    open_rows = selectors.position_rows(status=Position.Status.OPEN)
    return {
        "clocks": selectors.agent_clocks(),
        "position_subtotals": selectors.position_subtotals(open_rows),
        "paper_open": sum(1 for r in open_rows if r["position"].paper),
        "hide_idle": hide_idle,
        "hidden_idle": hidden,
        "rejections": {ccy: rejection_summary(c) for ccy, c in counts.items()},
        "base_url": settings.DERIBIT_BASE_URL,
        "snapshot": snapshot,
        "last": last,
        "top_candidates": last.top_candidates if last else {},
        "status_json": snapshot.model_dump_json(indent=2),
        "open_rows": open_rows,
        "closed_rows": selectors.position_rows(status=Position.Status.CLOSED, limit=CLOSED_SHOWN),
        "pnl": selectors.pnl_summary(),
        "decisions": decisions,
    }


@login_required
def live(request: HttpRequest) -> HttpResponse:
    """The live agent's current state; htmx polls get only the `live` fragment."""
    template = "trading/live.html"
    if htmx_partial(request):
        template += "#live"
    context = live_context(hide_idle=bool(request.GET.get("hide_idle"))) | {
        "can_trade": user_has_role(request.user, Role.OPERATOR),
        "can_export": user_has_role(request.user, Role.RESEARCHER),
    }
    return render(request, template, context)


SUGGESTED_QUESTIONS = (
    "Why did you pick your last call?",
    "Summarize your last 10 decisions",
    "What would you likely do right now?",
    "What positions do you hold?",
    "What is your P&L?",
)


#: How many of the user's conversations the Chat tab lists (newest activity first).
CONVERSATIONS_SHOWN = 30


def _conversation_for(request: HttpRequest, raw: str | None) -> Conversation | None:
    """The user's own conversation with this id (None when absent, foreign or malformed)."""
    if not raw or not str(raw).isdigit():
        return None
    return conversation_list(user=request.user).filter(pk=int(raw)).first()


@login_required
def chat(request: HttpRequest) -> HttpResponse:
    """The Chat tab: the user's conversations, the open one, and the question form.

    `?c=<id>` opens a conversation, `?new=1` starts a blank one; otherwise the newest opens.
    Says plainly when no LLM is configured (answers are then labelled templates).
    """
    conversations = conversation_list(user=request.user)
    current = _conversation_for(request, request.GET.get("c"))
    if current is None and not request.GET.get("new"):
        current = conversations.first()
    chat_messages = list(current.messages.all()) if current else []
    context = {
        "llm_enabled": settings.LLM_ENABLED,
        "conversations": conversations[:CONVERSATIONS_SHOWN],
        "current": current,
        "chat_messages": chat_messages,
        # A question without an answer (its answer request failed or was cut off) gets a
        # placeholder that asks again, so a reload retries instead of leaving it unanswered.
        "answered": {m.reply_to_id for m in chat_messages if m.reply_to_id},
        "suggestions": SUGGESTED_QUESTIONS,
        "max_chars": MAX_QUESTION_CHARS,
    }
    return render(request, "trading/chat.html", context)


def _ask_refused(
    request: HttpRequest, conversation: Conversation | None, exc: Exception
) -> HttpResponse:
    """A question that was not stored: htmx gets the reason beside the form (400, or 429 past
    the per-minute allowance); a plain form post is redirected back with it as a message."""
    if htmx_partial(request):
        code = 429 if isinstance(exc, ChatRateLimited) else 400
        return render(request, "trading/chat.html#ask_error", {"error": str(exc)}, status=code)
    messages.error(request, str(exc))
    back = f"?c={conversation.pk}" if conversation else ""
    return redirect(f"{reverse('trading:chat')}{back}")


@login_required
@require_POST
def chat_ask_view(request: HttpRequest) -> HttpResponse:
    """Store a question. htmx gets the question, a placeholder that fetches the answer (so
    the question shows at once) and, out of band, the conversation id and the updated
    conversation list; a plain form post is answered here and redirected."""
    conversation = _conversation_for(request, request.POST.get("conversation"))
    try:
        question = question_ask(
            text=request.POST.get("message", ""), user=request.user, conversation=conversation
        )
    except (ChatInputError, ChatRateLimited) as exc:
        return _ask_refused(request, conversation, exc)
    conversation = question.conversation
    if not htmx_partial(request):
        question_answer(question=question)
        return redirect(f"{reverse('trading:chat')}?c={conversation.pk}")
    context = {
        "message": question,
        "current": conversation,
        "conversations": conversation_list(user=request.user)[:CONVERSATIONS_SHOWN],
    }
    return render(request, "trading/chat.html#asked", context)


@login_required
@require_POST
def chat_answer_view(request: HttpRequest, question_id: int) -> HttpResponse:
    """The answer to one of the user's questions (made once; asking again returns it)."""
    question = get_object_or_404(
        ChatMessage,
        pk=question_id,
        role=ChatMessage.Role.USER,
        conversation__in=conversation_list(user=request.user),
    )
    answer = question_answer(question=question)
    return render(request, "trading/chat.html#message", {"message": answer})


def controls_context(
    *, form: ControlsForm | None = None, user: Any = None, message: str = "", error: str = ""
) -> dict[str, Any]:
    """The System Health tab's controls section: each control's effective value and where it
    comes from, the kill switch, the guard, the drawdown stop, the audit trail."""
    from trading.services.agent_status import drawdown_load
    from trading.services.controls import controls_effective

    control = RuntimeControl.load()
    snapshot = selectors.agent_status_snapshot()
    bound = (
        form
        if form is not None
        else ControlsForm(instance=control, initial={"version": control.version})
    )
    try:
        explained = {row.spec.name: row for row in controls_effective(control)}
    except ValidationError:
        explained = {}
    rows = []
    for name in FORM_CONTROLS:
        field = bound[name]
        rows.append(
            {
                "name": name,
                "label": field.label,
                "kind": SPECS_BY_NAME[name].kind.value,
                "value": field.value(),
                "choices": getattr(field.field, "choices", ()),
                "effective": explained.get(name),
                "errors": [str(e) for e in field.errors],
            }
        )
    return {
        "agent_controls": control,
        "agent_control_form": bound,
        "agent_control_rows": rows,
        "agent_controls_version": control.version,
        "agent_guard": snapshot.guard,
        "agent_trading_allowed": snapshot.trading_allowed,
        "agent_drawdown": drawdown_load(),
        "agent_environment": snapshot.effective.environment,
        "agent_health_checks": selectors.health_latest(),
        "agent_control_changes": selectors.control_changes(limit=10),
        "agent_control_message": message,
        "agent_control_error": error,
        "can_operate": user is not None and user_has_role(user, Role.OPERATOR),
    }


def _controls_post(request: HttpRequest) -> tuple[ControlsForm | None, str, str]:
    """Carry out one POST of the controls section: (form to show again, message, error)."""
    from trading.services import agent_healthcheck, guard_operator_reset
    from trading.services.agent_status import DrawdownNotLatched, drawdown_operator_reset
    from trading.services.controls import ControlsError, controls_save, kill_switch_set

    user = str(request.user)
    intent = request.POST.get("intent", "save")
    try:
        if intent in ("kill", "unkill"):
            on = intent == "kill"
            kill_switch_set(on=on, user=user, source="dashboard")
            return None, f"Kill switch {'ON: no order is sent' if on else 'released'}.", ""
        if intent == "guard_reset":
            guard_operator_reset()
            return None, "Health guard reset.", ""
        if intent == "drawdown_reset":
            drawdown_operator_reset(
                user=user, reason=request.POST.get("reason", ""), source="dashboard"
            )
            return None, "Daily drawdown stop released (audited).", ""
        if intent == "healthcheck":
            from trading.exchange import exchange_client

            with exchange_client() as client:
                agent_healthcheck(client=client, kind="manual")
            return None, "Healthcheck ran.", ""
        form = ControlsForm(request.POST, instance=RuntimeControl.load())
        if not form.is_valid():
            return form, "", " ".join(form.error_sentences())
        saved = controls_save(
            changes=form.changes(request.POST),
            user=user,
            source="dashboard",
            version=form.cleaned_data["version"],
            confirm=form.cleaned_data.get("confirm_live") or "",
        )
        return None, saved.sentence(), ""
    except (ControlsError, DrawdownNotLatched, ValueError) as exc:
        return None, "", str(exc)


@login_required
def controls(request: HttpRequest) -> HttpResponse:
    """The controls section (System Health loads it by URL). POST (operator role): save the
    controls (audited, versioned), toggle the kill switch, release the drawdown stop, reset the
    guard or run the healthcheck; the answer says what changed or why nothing did."""
    form: ControlsForm | None = None
    message = error = ""
    if request.method == "POST":
        if not user_has_role(request.user, Role.OPERATOR):
            raise PermissionDenied("Changing the live agent's controls needs the operator role.")
        form, message, error = _controls_post(request)
    context = controls_context(form=form, user=request.user, message=message, error=error)
    return render(request, "trading/partials/controls.html", context)


def _position_action(request: HttpRequest, position_id: int, verb: str) -> HttpResponse:
    from django.utils.html import escape

    from trading.services.position_actions import (
        PositionActionRefused,
        position_close_now,
        position_roll_now,
    )

    act = position_close_now if verb == "close" else position_roll_now
    try:
        result = act(position_id=position_id, user=str(request.user))
        text, css, code = result.message, "pos", 200
    except PositionActionRefused as exc:
        text, css, code = str(exc), "neg", 409
    if htmx_partial(request):
        link = f' <a href="{reverse("trading:orders")}">orders &rarr;</a>' if code == 200 else ""
        body = f'<span class="{css}" data-testid="action-result">{escape(text)}</span>{link}'
        # htmx swaps only 2xx answers by default: a refusal is still shown, as a 200 fragment.
        return HttpResponse(body)
    (messages.success if code == 200 else messages.error)(request, text)
    return redirect(reverse("trading:live"))


@role_required(Role.OPERATOR)
@require_POST
def position_close_view(request: HttpRequest, position_id: int) -> HttpResponse:
    """Operator: close one position now through the order gate (the page asked to confirm)."""
    return _position_action(request, position_id, "close")


@role_required(Role.OPERATOR)
@require_POST
def position_roll_view(request: HttpRequest, position_id: int) -> HttpResponse:
    """Operator: roll one position now into the best candidate, through the order gate."""
    return _position_action(request, position_id, "roll")


@role_required(Role.OPERATOR)
@require_POST
def paper_book_view(request: HttpRequest) -> HttpResponse:
    """Operator: keep the paper book apart (nothing to do) or archive it at its marks."""
    from trading.services.paper_book import paper_book_archive

    if request.POST.get("choice") == "archive":
        archived = paper_book_archive(user=str(request.user))
        messages.success(
            request, f"Archived {len(archived)} paper position(s) at their last marks."
        )
    else:
        messages.info(request, "The paper book is kept apart, labelled PAPER.")
    return redirect(reverse("trading:live"))


@login_required
def pnl_history_page(request: HttpRequest) -> HttpResponse:
    """Live P&L over time: daily bars and cumulative line per book, equity and drawdown."""
    from trading.charts import pnl_history_svg

    history = selectors.pnl_history()
    rows = [
        {
            "day": day,
            "books": [
                (history["daily_usd"][b][i], history["cumulative_usd"][b][i])
                for b in history["daily_usd"]
            ],
            "equity": history["equity_usd"][i],
            "drawdown": history["drawdown_pct"][i],
        }
        for i, day in enumerate(history["days"])
    ]
    context = {"history": history, "rows": rows, "chart_svg": pnl_history_svg(history)}
    return render(request, "trading/pnl_history.html", context)


@role_required(Role.RESEARCHER)
def decisions_download(request: HttpRequest, kind: str) -> HttpResponse:
    """Researcher: the decision log (JSONL, with realised outcomes) or the live training data
    (CSV); `?since=` / `?until=` (ISO) bound `decided_at`."""
    from trading.api.views import DecisionFilter

    filtered = DecisionFilter(request.GET, queryset=selectors.decision_list())
    qs = filtered.qs if filtered.is_valid() else selectors.decision_list().none()
    if kind == "training":
        response = HttpResponse(selectors.training_csv(qs), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="training.csv"'
    else:
        response = HttpResponse(
            selectors.decision_log_export(qs), content_type="application/x-ndjson"
        )
        response["Content-Disposition"] = 'attachment; filename="decisions.jsonl"'
    return response


#: Orders per page of the orders history.
ORDERS_PER_PAGE = 100


def _without(request: HttpRequest, *names: str) -> str:
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


@login_required
def orders(request: HttpRequest) -> HttpResponse:
    """Every order leg, newest first, filterable (`trading.filters.OrderFilter`); `?format=csv`
    downloads the filtered orders."""
    from django.core.paginator import Paginator

    from trading.filters import OrderFilter
    from trading.models import Order

    filtered = OrderFilter(request.GET, queryset=selectors.order_list())
    qs = filtered.qs if filtered.is_valid() else selectors.order_list().none()
    if request.GET.get("format") == "csv":
        response = HttpResponse(selectors.orders_csv(qs), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="orders.csv"'
        return response
    page = Paginator(qs, ORDERS_PER_PAGE).get_page(request.GET.get("page"))
    errors = "; ".join(
        f"{name}: {' '.join(str(e) for e in errs)}" for name, errs in filtered.errors.items()
    )
    context = {
        "page": page,
        "rows": [selectors.order_row(o) for o in page.object_list],
        "states": Order.State.choices,
        "currencies": sorted(set(Order.objects.values_list("currency", flat=True))),
        "query": _without(request, "page", "format"),
        "filter_errors": errors,
    }
    return render(request, "trading/orders.html", context)


@login_required
def decision_page(request: HttpRequest, decision_id: int) -> HttpResponse:
    """One decision, read-only: inputs, candidates with rejection counts per filter, risk checks,
    the LLM record and the orders (with fees), and the call's realised outcome once known."""
    import json

    from trading.domain.wording import rejection_words
    from trading.models import Decision

    decision = get_object_or_404(selectors.decision_list(), pk=decision_id)
    candidates = decision.candidates or {}
    counts = candidates.get("rejection_counts", {}) or {}
    underlyings = []
    for currency in sorted(set(candidates) - {"rejection_counts"} | set(counts)):
        rejections = sorted(
            ((rejection_words(k), v) for k, v in (counts.get(currency) or {}).items()
             if k != "not_a_call"),
            key=lambda item: -item[1],
        )  # fmt: skip
        underlyings.append(
            {
                "currency": currency,
                "ranked": candidates.get(currency) or [],
                "rejections": rejections,
            }
        )
    snapshot = decision.state_snapshot or {}
    context = {
        "decision": decision,
        "orders": list(decision.orders.all()),
        "checks": (decision.risk_verdict or {}).get("checks", []),
        "underlyings": underlyings,
        "chosen": (decision.chosen_candidate or {}).get("instrument_name"),
        "snapshot": snapshot,
        "params_json": json.dumps(snapshot.get("params", {}), indent=1, sort_keys=True),
        "llm_json": json.dumps(decision.llm_record or {}, indent=1, sort_keys=True)[:50_000],
        "outcome": selectors.decision_outcome(decision),
        "previous_id": Decision.objects.filter(pk__lt=decision.pk)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first(),
        "next_id": Decision.objects.filter(pk__gt=decision.pk)
        .order_by("pk")
        .values_list("pk", flat=True)
        .first(),
    }
    return render(request, "trading/decision.html", context)


#: `?scope=` of the risk panel: a strategy-name prefix (Greg Lab shows Greg's own book).
RISK_SCOPES = {"greg": "greg_"}


@login_required
def risk_panel(request: HttpRequest) -> HttpResponse:
    """The Live Agent tab's risk panel (htmx): greeks table and scenario heatmaps (viewer).

    `?day=` picks the heatmap's time slice (an index into the grid's days, default now);
    `?scope=greg` narrows the book to Greg's strategies (the Greg Lab tab).
    """
    from trading.charts import scenario_heatmap_svg
    from trading.services.risk import risk_report_for_strategies

    report = selectors.risk_report_latest()
    scope = request.GET.get("scope", "")
    if report and "book" in report and scope in RISK_SCOPES:
        report = risk_report_for_strategies(report, RISK_SCOPES[scope])
    day = request.GET.get("day", "0")
    day_index = int(day) if day.isdigit() else 0
    context: dict[str, Any] = {
        "risk_loaded": True,
        "risk": report,
        "risk_day": day_index,
        "risk_scope": scope if scope in RISK_SCOPES else "",
    }
    if report and "scenarios" in report:
        scenarios = report["scenarios"]
        context["risk_heatmap"] = scenario_heatmap_svg(scenarios, day_index)
        context["risk_days"] = list(enumerate(scenarios["days"]))
        context["risk_greeks"] = report["greeks"]
        context["risk_worst"] = scenarios["worst"]
    return render(request, "trading/partials/risk.html", context)


@login_required
def preflight_panel(request: HttpRequest) -> HttpResponse:
    """System Health's preflight panel (htmx): run every `manage.py preflight` check (viewer)."""
    from trading.services.preflight import preflight_run

    report = preflight_run().as_record()
    return render(request, "trading/partials/preflight.html", {"preflight_report": report})


@login_required
def agent_health(request: HttpRequest) -> HttpResponse:
    """System Health's agent section (loaded by URL): the overall OK / WARN / FAIL badge with
    its time, every check, the start-up guard and the guard's settings. Opening it runs the
    healthcheck when the newest is more than a minute old (`?run=0` only reads)."""
    from trading.services.agent_status import startup_load
    from trading.services.health import (
        PAGE_CHECK_MIN_AGE_S,
        agent_healthcheck_if_stale,
        guard_config,
        startup_blocked,
    )

    error = ""
    if request.GET.get("run") != "0":
        try:
            agent_healthcheck_if_stale()
        except Exception as exc:  # the page shows the failure; the checks keep their rows
            error = f"{type(exc).__name__}: {exc}"[:300]
    state_source, last_tick_at = selectors.tick_state_source()
    context = {
        "overview": selectors.health_overview(),
        "state_source": state_source,
        "last_tick_at": last_tick_at,
        "startup": startup_load(),
        "startup_blocked": startup_blocked(),
        "guard_settings": guard_config(),
        "page_check_min_age_s": PAGE_CHECK_MIN_AGE_S,
        "health_error": error,
    }
    return render(request, "trading/partials/agent_health.html", context)


#: Choices of the Rules vs LLM page's `?limit=` selector.
COMPARE_LIMIT_CHOICES = (50, 200, 500, 2000)


@login_required
def compare(request: HttpRequest) -> HttpResponse:
    """Rules vs LLM over the last `?limit=` ticks that consulted the LLM: summary, picture, table.

    htmx asks only for the agreement figure (the Live Agent tab shows it near its timeline).
    A bad `limit` falls back to the default and says so rather than failing the page.
    """
    from trading.charts import source_comparison_svg
    from trading.domain.source_compare import LIMIT_DEFAULT, comparison_limit

    limit_error = ""
    try:
        limit = comparison_limit(request.GET.get("limit"))
    except ValueError as exc:
        limit, limit_error = LIMIT_DEFAULT, f"limit must be {exc}"
    comparison = selectors.decision_source_comparison(limit=limit)
    summary = comparison["summary"]
    actions = summary["actions"]
    context = {
        "summary": summary,
        "rows": comparison["rows"],
        "action_rows": [(a, n, actions["llm"].get(a, 0)) for a, n in actions["rules"].items()],
        "limit": limit,
        "limit_choices": sorted({*COMPARE_LIMIT_CHOICES, limit}),
        "limit_error": limit_error,
    }
    if htmx_partial(request):
        return render(request, "trading/compare.html#agreement", context)
    context["chart_svg"] = source_comparison_svg(comparison["rows"])
    return render(request, "trading/compare.html", context)

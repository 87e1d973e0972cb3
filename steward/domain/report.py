"""The steward's rules: from the facts the system knows to a ranked list of next tasks and a
plain-text summary (the labelled template used when no LLM writes one).

Pure: the facts are a JSON-ready mapping collected by `steward.selectors.state_collect`; a task
names the dashboard page where to act by its URL name, which the service resolves and checks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

TEMPLATE_LABEL = "Template report (no LLM)"
#: A worker that has not beaten for this long counts as gone.
WORKER_STALE_S = 600
#: No tick for this long (while the loop should run) is worth a look.
TICK_STALE_S = 3600
#: Above this share of proposals refused by the risk engine, the filters deserve a review.
REFUSAL_SHARE_HIGH = 0.5

Facts = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class NextTask:
    """One suggested task: what, why (with the figure behind it), where, and how urgent."""

    key: str
    title: str
    reason: str
    url_name: str
    priority: int  # 1 (most urgent) to 5

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def _get(facts: Facts, *path: str, default: Any = None) -> Any:
    node: Any = facts
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return default
        node = node[key]
    return node


def _workers(facts: Facts) -> list[NextTask]:
    workers = _get(facts, "health", "workers", default=[]) or []
    fresh = [w for w in workers if (w.get("age_s") or 1e12) <= WORKER_STALE_S]
    if fresh:
        return []
    reason = (
        "no Celery worker has ever sent a heartbeat"
        if not workers
        else f"the freshest worker heartbeat is {int(min(w['age_s'] for w in workers))} s old"
    )
    return [NextTask("worker", "Start a Celery worker", reason, "system:health", 1)]


def _guard(facts: Facts) -> list[NextTask]:
    tasks = []
    state = _get(facts, "agent", "guard_status", default="running")
    if state != "running":
        why = _get(facts, "agent", "guard_reason", default="") or "no reason recorded"
        tasks.append(
            NextTask(
                "guard",
                f"Find out why the health guard has the agent {state}",
                f"guard {state}: {why}",
                "system:health",
                1,
            )
        )
    failing = _get(facts, "health", "agent_checks_failing", default=[]) or []
    if failing:
        names = ", ".join(f"{c['name']} ({c['severity']})" for c in failing[:4])
        tasks.append(
            NextTask(
                "checks",
                "Fix the failing agent health checks",
                f"{len(failing)} check(s) not OK in the last batch: {names}",
                "system:health",
                2,
            )
        )
    if _get(facts, "agent", "kill_switch"):
        tasks.append(
            NextTask(
                "kill_switch",
                "Decide whether the kill switch should stay on",
                "the kill switch is on: every new call is refused",
                "trading:controls",
                2,
            )
        )
    return tasks


def _ticks(facts: Facts) -> list[NextTask]:
    ticks = _get(facts, "ticks", default={}) or {}
    tasks = []
    failed = int(ticks.get("failed", 0) or 0)
    if failed:
        last = ticks.get("last_error") or "see the run log"
        tasks.append(
            NextTask(
                "tick_errors",
                "Look into the failed ticks",
                f"{failed} of {ticks.get('runs', 0)} ticks in the last "
                f"{ticks.get('window_h', 24)} h failed; last: {last}",
                "trading:live",
                1 if failed >= 3 else 2,
            )
        )
    age = ticks.get("last_tick_age_s")
    if age is None:
        tasks.append(
            NextTask(
                "no_ticks",
                "Run the agent's first tick",
                "no tick has run yet (start the beat, or `manage.py run_agent_tick`)",
                "trading:live",
                2,
            )
        )
    elif age > TICK_STALE_S:
        tasks.append(
            NextTask(
                "stale_ticks",
                "Check that the beat schedules ticks",
                f"the last tick ran {age / 3600:.1f} h ago",
                "system:health",
                2,
            )
        )
    return tasks


def _decisions(facts: Facts) -> list[NextTask]:
    d = _get(facts, "decisions", default={}) or {}
    proposals = int(d.get("proposals", 0) or 0)
    refused = int(d.get("refused", 0) or 0)
    if proposals and refused / proposals > REFUSAL_SHARE_HIGH:
        top = d.get("top_failed_checks") or []
        names = ", ".join(f"{name} x{count}" for name, count in top[:3]) or "see decisions"
        return [
            NextTask(
                "refusals",
                "Review the filters the risk engine keeps refusing",
                f"{refused} of {proposals} proposals refused; failed checks: {names}",
                "trading:controls",
                3,
            )
        ]
    return []


def _reconcile(facts: Facts) -> list[NextTask]:
    r = _get(facts, "reconciliation", default={}) or {}
    pending = int(r.get("pending", 0) or 0)
    if not pending:
        return []
    names = ", ".join(r.get("instruments", [])[:4])
    return [
        NextTask(
            "reconcile",
            "Resolve the reconciliation discrepancies",
            f"{pending} discrepancy(ies) in run #{r.get('run_id')}: {names}",
            "trading:live",
            1,
        )
    ]


def _research(facts: Facts) -> list[NextTask]:
    b = _get(facts, "backtests", default={}) or {}
    tasks = []
    if not b.get("total"):
        tasks.append(
            NextTask(
                "first_backtest",
                "Run a backtest of the current policy",
                "no backtest run is stored yet",
                "backtests:index",
                4,
            )
        )
    elif b.get("failed_recent"):
        tasks.append(
            NextTask(
                "failed_backtests",
                "Look at the failed backtests",
                f"{b['failed_recent']} backtest(s) failed in the last 7 days",
                "backtests:index",
                3,
            )
        )
    tasks += _calibration(_get(facts, "calibration", default={}) or {})
    return tasks


def _calibration(cal: Mapping[str, Any]) -> list[NextTask]:
    if not cal.get("installed"):
        return []
    runs = cal.get("calibration_runs", cal.get("rows", 0))
    if not runs:
        return [
            NextTask(
                "calibration",
                "Calibrate the synthetic prices against Deribit marks",
                "no calibration result is stored",
                "calibration:index",
                4,
            )
        ]
    tasks = []
    run = cal.get("latest_run") or {}
    if run and not run.get("guardrail_ok"):
        why = "; ".join(str(r) for r in run.get("guardrail_reasons", [])) or "see the run"
        tasks.append(
            NextTask(
                "calibration_refused",
                "Look at the calibration its guardrails refused",
                f"{run.get('underlying')} calibration #{run.get('id')} refused: {why}",
                "calibration:index",
                3,
            )
        )
    quality = cal.get("data_quality") or {}
    if quality.get("bad"):
        tasks.append(
            NextTask(
                "data_quality",
                "Check the harvested data marked bad",
                f"data quality bad for {', '.join(quality['bad'])}",
                "calibration:index",
                3,
            )
        )
    harvest = cal.get("latest_harvest") or {}
    if harvest.get("status") == "failed":
        tasks.append(
            NextTask(
                "harvest",
                "Fix the failing harvester",
                f"the last harvest ({harvest.get('started_at')}) failed with "
                f"{harvest.get('errors', 0)} error(s)",
                "calibration:index",
                3,
            )
        )
    return tasks


def _tests(facts: Facts) -> list[NextTask]:
    t = _get(facts, "tests", default={}) or {}
    tasks = []
    failed_tasks = int(t.get("task_failures", 0) or 0)
    if failed_tasks:
        names = ", ".join(t.get("failed_task_names", [])[:3])
        tasks.append(
            NextTask(
                "task_failures",
                "Look at the failing background tasks",
                f"{failed_tasks} task result(s) FAILURE in the last 24 h: {names}",
                "system:health",
                2,
            )
        )
    smoke = t.get("smoke")
    if smoke and not smoke.get("passed"):
        tasks.append(
            NextTask(
                "smoke",
                "Fix the failing smoke tests",
                f"the last smoke run ({smoke.get('at')}) failed: {smoke.get('summary', '')}",
                "system:health",
                2,
            )
        )
    return tasks


def _config(facts: Facts) -> list[NextTask]:
    warnings = _get(facts, "config", "warnings", default=[]) or []
    return [
        NextTask(
            f"config_{i}",
            f"Configuration: {w['title']}",
            w["detail"],
            w.get("url_name") or "system:health",
            int(w.get("priority", 4)),
        )
        for i, w in enumerate(warnings)
    ]


def _positions(facts: Facts) -> list[NextTask]:
    p = _get(facts, "positions", default={}) or {}
    flagged = int(p.get("flagged", 0) or 0)
    if flagged:
        return [
            NextTask(
                "flagged",
                "Review the flagged positions",
                f"{flagged} open position(s) flagged by reconciliation",
                "trading:live",
                2,
            )
        ]
    return []


RULES: tuple[Callable[[Facts], list[NextTask]], ...] = (
    _workers,
    _guard,
    _reconcile,
    _ticks,
    _tests,
    _positions,
    _decisions,
    _research,
    _config,
)


def next_tasks_rank(facts: Facts, *, limit: int = 8) -> list[NextTask]:
    """The rules' tasks, most urgent first (stable within a priority), at most `limit`.

    When nothing needs doing the list still says where to look next: the decisions in chat.
    """
    tasks = [task for rule in RULES for task in rule(facts)]
    tasks.sort(key=lambda t: t.priority)
    if not tasks:
        count = int(_get(facts, "decisions", "count", default=0) or 0)
        tasks.append(
            NextTask(
                "review",
                "Ask the agent about its latest decisions",
                f"nothing is failing; {count} decision(s) in the window to review",
                "trading:chat",
                5,
            )
        )
    return tasks[:limit]


def _money(value: Any) -> str:
    try:
        return f"{float(value):,.2f}"
    except (TypeError, ValueError):
        return "n/a"


def _coin(value: Any) -> str:
    try:
        return f"{float(value):.6f}"
    except (TypeError, ValueError):
        return "n/a"


def _pnl_line(pnl: Mapping[str, Any]) -> str:
    parts = []
    for book in pnl.get("books", []) or []:
        kind = book.get("book", "?")
        parts.append(
            f"{book.get('currency')} {kind} net {_coin(book.get('net_coin'))} coin "
            f"(${_money(book.get('net_usd'))})"
        )
    return "; ".join(parts) or "no fills yet"


def summary_render(facts: Facts, tasks: Sequence[NextTask]) -> str:
    """The template summary: a few lines of figures from the facts, then the ranked tasks."""
    agent = _get(facts, "agent", default={}) or {}
    ticks = _get(facts, "ticks", default={}) or {}
    d = _get(facts, "decisions", default={}) or {}
    p = _get(facts, "positions", default={}) or {}
    b = _get(facts, "backtests", default={}) or {}
    r = _get(facts, "reconciliation", default={}) or {}
    actions = ", ".join(f"{k} {v}" for k, v in sorted((d.get("by_action") or {}).items()))
    lines = [
        f"[{TEMPLATE_LABEL}]",
        f"Agent (effective): {agent.get('environment', '?')} / {agent.get('mode', '?')}, "
        f"{agent.get('orders_headline') or 'orders: ?'}; dry run "
        f"{'on' if agent.get('dry_run') else 'off'}, kill switch "
        f"{'on' if agent.get('kill_switch') else 'off'}, guard {agent.get('guard_status')}.",
        f"Ticks in the last {ticks.get('window_h', 24)} h: {ticks.get('runs', 0)} "
        f"({ticks.get('ok', 0)} ok, {ticks.get('failed', 0)} failed, "
        f"{ticks.get('skipped', 0)} skipped).",
        f"Decisions: {d.get('count', 0)} ({actions or 'none'}); "
        f"{d.get('refused', 0)} of {d.get('proposals', 0)} proposals refused, "
        f"{d.get('executed', 0)} executed.",
        f"Positions: {p.get('open', 0)} open ({p.get('open_paper', 0)} paper). "
        f"P&L: {_pnl_line(_get(facts, 'pnl', default={}) or {})}.",
        f"Backtests: {b.get('total', 0)} stored, {b.get('succeeded', 0)} succeeded.",
        f"Reconciliation: {r.get('pending', 0)} pending discrepancy(ies).",
        "",
        "Next tasks:",
    ]
    lines += [f"{i}. {t.title} — {t.reason}" for i, t in enumerate(tasks, 1)]
    return "\n".join(lines)

"""Reads of the steward app: the facts a report is built from, and the stored reports.

`state_collect` gathers what the system knows into one JSON-ready dict (figures, not prose), so
the rules (`steward.domain.report`), the LLM prompt and the stored report all see the same data.
Apps that may not be installed yet (calibration) are read through the app registry, guarded.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db.models import Count, QuerySet
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_results.models import TaskResult

from backtests.models import BacktestRun
from optionsdesk.models import WorkerHeartbeat
from steward.models import StewardConversation, StewardReport
from trading.domain.health import GuardState
from trading.models import (
    AgentRun,
    AgentStatus,
    Decision,
    HealthCheck,
    Position,
    ReconciliationRun,
)
from trading.selectors import agent_mode_effective, pnl_summary

#: The window of "recent" ticks, decisions and task results.
WINDOW_H = 24


def report_list() -> QuerySet[StewardReport]:
    """Stored reports, newest first."""
    return StewardReport.objects.all()


def report_latest() -> StewardReport | None:
    """The newest finished report (None before the first)."""
    return StewardReport.objects.filter(status=StewardReport.Status.DONE).first()


def steward_conversation_list(*, user: Any = None) -> QuerySet[StewardConversation]:
    """Assistant conversations, newest activity first (a user's own when `user` is given)."""
    qs = StewardConversation.objects.all()
    return qs.filter(user=user) if user is not None else qs


def _age_s(when: Any, now: Any) -> float | None:
    return None if when is None else round((now - when).total_seconds(), 1)


def _health(now: Any) -> dict[str, Any]:
    workers = [
        {"hostname": w.hostname, "age_s": _age_s(w.last_seen_at, now), "beats": w.beats}
        for w in WorkerHeartbeat.objects.all()[:10]
    ]
    latest = HealthCheck.objects.order_by("-checked_at").first()
    checks = [] if latest is None else list(HealthCheck.objects.filter(batch=latest.batch))
    return {
        "workers": workers,
        "agent_checks_at": latest.checked_at.isoformat() if latest else None,
        "agent_checks": len(checks),
        "agent_checks_failing": [
            {"name": c.name, "severity": c.severity, "detail": c.detail[:200]}
            for c in checks
            if c.severity.upper() != "OK"
        ],
        "periodic_tasks_enabled": PeriodicTask.objects.filter(enabled=True).count(),
    }


def _agent() -> dict[str, Any]:
    status = AgentStatus.load()
    guard = GuardState.model_validate(status.guard_state) if status.guard_state else GuardState()
    effective = agent_mode_effective()
    view: dict[str, Any] = {
        "environment": effective["environment"],
        "mode": effective["mode"],
        "decision_mode": effective["decision_mode"],
        "dry_run": effective["dry_run"],
        "kill_switch": effective["kill_switch"],
        "orders": effective["orders"],
        "orders_headline": effective["headline"],
        "guard_status": guard.status.value,
        "guard_reason": guard.reason,
        "backoff_until": status.backoff_until.isoformat() if status.backoff_until else None,
        "consecutive_errors": status.consecutive_errors,
    }
    if not effective["valid"]:
        view["controls_error"] = effective["problem"]
    return view


def _ticks(since: Any, now: Any) -> dict[str, Any]:
    runs = AgentRun.objects.filter(started_at__gte=since)
    counts = dict(runs.values_list("status").annotate(n=Count("id")).order_by())
    last_failed = runs.filter(status=AgentRun.Status.FAILED).order_by("-started_at").first()
    status = AgentStatus.load()
    return {
        "window_h": WINDOW_H,
        "runs": sum(counts.values()),
        "ok": counts.get(AgentRun.Status.OK, 0),
        "failed": counts.get(AgentRun.Status.FAILED, 0),
        "skipped": counts.get(AgentRun.Status.SKIPPED, 0),
        "backoff": counts.get(AgentRun.Status.BACKOFF, 0),
        "paused": counts.get(AgentRun.Status.PAUSED, 0),
        "last_error": (last_failed.error or last_failed.summary)[:200] if last_failed else None,
        "last_tick_at": status.last_tick_at.isoformat() if status.last_tick_at else None,
        "last_tick_age_s": _age_s(status.last_tick_at, now),
    }


def _decisions(since: Any) -> dict[str, Any]:
    qs = Decision.objects.filter(decided_at__gte=since)
    by_action = dict(qs.values_list("action").annotate(n=Count("id")).order_by())
    proposals = qs.exclude(action="DO_NOTHING")
    refused = proposals.exclude(verdict_code="approved")
    failed: Counter[str] = Counter()
    for verdict in refused.values_list("risk_verdict", flat=True)[:200]:
        for check in (verdict or {}).get("checks", []):
            if not check.get("passed"):
                failed[str(check.get("name"))] += 1
    latest = qs.order_by("-decided_at", "-id").first()
    return {
        "count": qs.count(),
        "by_action": by_action,
        "proposals": proposals.count(),
        "refused": refused.count(),
        "executed": qs.filter(executed=True).count(),
        "top_failed_checks": failed.most_common(5),
        "llm_consulted": qs.filter(llm_record__isnull=False).count(),
        "latest": None
        if latest is None
        else {
            "id": latest.pk,
            "action": latest.action,
            "underlying": latest.underlying,
            "reason": latest.reason[:200],
            "decided_at": latest.decided_at.isoformat(),
        },
    }


def _positions() -> dict[str, Any]:
    open_ = Position.objects.filter(status=Position.Status.OPEN)
    return {
        "open": open_.count(),
        "open_paper": open_.filter(paper=True).count(),
        "flagged": open_.filter(flagged=True).count(),
        "instruments": list(open_.values_list("instrument_name", flat=True)[:10]),
        "closed": Position.objects.filter(status=Position.Status.CLOSED).count(),
    }


def _backtests(now: Any) -> dict[str, Any]:
    qs = BacktestRun.objects.exclude(kind=BacktestRun.Kind.GRID_CELL)
    counts = dict(qs.values_list("status").annotate(n=Count("id")).order_by())
    recent = qs.order_by("-created_at")[:3]
    return {
        "total": sum(counts.values()),
        "succeeded": counts.get(BacktestRun.Status.SUCCEEDED, 0),
        "running": counts.get(BacktestRun.Status.RUNNING, 0)
        + counts.get(BacktestRun.Status.QUEUED, 0),
        "failed_recent": qs.filter(
            status=BacktestRun.Status.FAILED, created_at__gte=now - timedelta(days=7)
        ).count(),
        "recent": [
            {
                "id": r.pk,
                "name": r.name,
                "status": r.status,
                "sharpe": (r.metrics or {}).get("sharpe"),
                "total_return_pct": (r.metrics or {}).get("total_return_pct"),
            }
            for r in recent
        ],
    }


def _app_rows(label: str) -> dict[str, Any]:
    """Row counts of an app's models (0 models when the app has none yet, or is absent)."""
    if not apps.is_installed(label):
        return {"installed": False}
    try:
        models = list(apps.get_app_config(label).get_models())
        counts = {m.__name__: m._default_manager.count() for m in models}
    except Exception as exc:  # a half-migrated app must not break the report
        return {"installed": True, "error": str(exc)[:200]}
    return {"installed": True, "models": counts, "rows": sum(counts.values())}


def _latest(label: str, model: str, order: str) -> Any:
    """The newest row of `label.model` (None when the app or model does not exist yet)."""
    try:
        return apps.get_model(label, model).objects.order_by(order).first()
    except LookupError:
        return None


def _calibration() -> dict[str, Any]:
    """Row counts, plus the latest calibration run, data-quality verdicts and harvest when the
    calibration app has those models (read through the registry: it may not have them yet)."""
    view = _app_rows("calibration")
    if not view.get("installed") or "error" in view:
        return view
    try:
        run = _latest("calibration", "CalibrationRun", "-created_at")
        harvest = _latest("calibration", "HarvestRun", "-started_at")
        quality_model = apps.get_model("calibration", "DataQualityReport")
    except LookupError:
        return view
    except Exception as exc:  # a half-migrated app must not break the report
        return view | {"error": str(exc)[:200]}
    view["calibration_runs"] = view.get("models", {}).get("CalibrationRun", 0)
    if run is not None:
        view["latest_run"] = {
            "id": run.pk,
            "underlying": run.underlying,
            "created_at": run.created_at.isoformat(),
            "guardrail_ok": run.guardrail_ok,
            "guardrail_reasons": list(run.guardrail_reasons or [])[:3],
            "vw_mae_volpts": run.surface_vw_mae_volpts,
            "recommended_iv_multiplier": run.recommended_iv_multiplier,
        }
    if harvest is not None:
        view["latest_harvest"] = {
            "status": harvest.status,
            "started_at": harvest.started_at.isoformat(),
            "rows": harvest.rows,
            "errors": len(harvest.errors or []),
        }
    recent = quality_model.objects.order_by("-day")[:20]
    view["data_quality"] = {
        "reports": len(recent),
        "bad": [f"{q.underlying} {q.day}" for q in recent if q.verdict == "bad"][:5],
        "warn": sum(1 for q in recent if q.verdict == "warn"),
    }
    return view


def _tests(since: Any) -> dict[str, Any]:
    failures = TaskResult.objects.filter(date_done__gte=since, status="FAILURE")
    names = list(dict.fromkeys(failures.values_list("task_name", flat=True)))
    view: dict[str, Any] = {
        "task_results": TaskResult.objects.filter(date_done__gte=since).count(),
        "task_failures": failures.count(),
        "failed_task_names": [n for n in names if n][:5],
        "smoke": None,
    }
    if apps.is_installed("reviewbot"):
        try:
            run = apps.get_model("reviewbot", "ToolRun")
            last = run.objects.filter(tool="run_smoke_tests").order_by("-created_at").first()
        except (LookupError, Exception):
            last = None
        if last is not None:
            view["smoke"] = {
                "at": last.created_at.isoformat(),
                "passed": bool(last.ok),
                "summary": last.summary[:200],
            }
    return view


def _reconciliation() -> dict[str, Any]:
    run = ReconciliationRun.objects.order_by("-started_at", "-id").first()
    if run is None:
        return {"runs": 0, "pending": 0}
    items = list(run.items.all()[:20])
    return {
        "runs": ReconciliationRun.objects.count(),
        "run_id": run.pk,
        "run_at": run.started_at.isoformat(),
        "pending": len(items),
        "instruments": [f"{i.instrument_name} ({i.kind})" for i in items],
    }


def _config_warnings(agent: dict[str, Any], health: dict[str, Any]) -> dict[str, Any]:
    warnings: list[dict[str, Any]] = []

    def warn(title: str, detail: str, url_name: str = "system:health", priority: int = 4) -> None:
        warnings.append(
            {"title": title, "detail": detail, "url_name": url_name, "priority": priority}
        )

    if not settings.LLM_ENABLED:
        warn("no LLM configured", "OPENAI_BASE_URL/OPENAI_API_KEY unset: answers are templates")
    if agent.get("controls_error"):
        warn("inconsistent controls", agent["controls_error"], "trading:controls", 1)
    if agent.get("environment") == "mainnet" and not agent.get("dry_run"):
        warn("live on mainnet", "dry run is off on mainnet: real orders", "trading:controls", 2)
    if not health.get("periodic_tasks_enabled"):
        warn("no periodic tasks", "run `manage.py sync_periodic_tasks` so the beat schedules")
    if not settings.APP.telegram_enabled:
        warn("no Telegram bot", "TELEGRAM_BOT_TOKEN unset: no alerts reach your phone", priority=5)
    if settings.DEBUG:
        warn("DEBUG is on", "fine for development, never in production", priority=5)
    return {"warnings": warnings}


def state_collect() -> dict[str, Any]:
    """Everything the report is built from, as JSON-ready figures."""
    now = timezone.now()
    since = now - timedelta(hours=WINDOW_H)
    health = _health(now)
    agent = _agent()
    pnl = pnl_summary()
    return {
        "collected_at": now.isoformat(),
        "health": health,
        "agent": agent,
        "ticks": _ticks(since, now),
        "decisions": _decisions(since),
        "positions": _positions(),
        "pnl": {"books": pnl["books"], "index_price_usd": pnl["index_price_usd"]},
        "backtests": _backtests(now),
        "calibration": _calibration(),
        "bots": _app_rows("greg"),
        "tests": _tests(since),
        "reconciliation": _reconciliation(),
        "config": _config_warnings(agent, health),
        "reports": StewardReport.objects.filter(status=StewardReport.Status.DONE).count(),
    }

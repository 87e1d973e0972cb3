"""Reads of the greg app for views, API, tasks and commands."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from greg.domain.spec import OUTCOMES, EntryThresholds, load_spec
from greg.models import GregCalibration, GregDecision, GregPosition, GregPositionLog


def thresholds_current() -> tuple[int, EntryThresholds]:
    """(version, thresholds) in force: the newest calibration, else the spec's defaults (v0)."""
    latest = GregCalibration.objects.order_by("-version").first()
    if latest is None:
        return 0, load_spec().entry.thresholds
    return latest.version, EntryThresholds.model_validate(latest.thresholds)


def calibration_list() -> QuerySet[GregCalibration]:
    """Every calibration version, newest first."""
    return GregCalibration.objects.order_by("-version")


def decision_list() -> QuerySet[GregDecision]:
    """The decision log, newest first."""
    return GregDecision.objects.select_related("position").order_by("-created_at", "-id")


def evaluations_latest() -> dict[str, GregDecision]:
    """The newest evaluation of each underlying."""
    latest: dict[str, GregDecision] = {}
    for row in GregDecision.objects.filter(kind=GregDecision.Kind.EVALUATION).order_by(
        "-created_at", "-id"
    )[:200]:
        latest.setdefault(row.underlying, row)
    return dict(sorted(latest.items()))


def position_list(
    *, underlying: str = "", sandbox: bool | None = None, status: str = ""
) -> QuerySet[GregPosition]:
    """Greg positions, newest opened first, optionally filtered."""
    rows = GregPosition.objects.order_by("-opened_at", "-id")
    if underlying:
        rows = rows.filter(underlying=underlying.upper())
    if sandbox is not None:
        rows = rows.filter(sandbox=sandbox)
    if status:
        rows = rows.filter(status=status)
    return rows


def position_logs(position: GregPosition) -> QuerySet[GregPositionLog]:
    """A position's log timeline, oldest first."""
    return position.logs.order_by("at", "id")


def sandbox_summary() -> dict[str, Any]:
    """Open sandbox positions: count, runs, P&L by underlying."""
    rows = GregPosition.objects.filter(sandbox=True, status=GregPosition.Status.OPEN)
    by_underlying: dict[str, dict[str, float]] = {}
    for row in rows:
        entry = by_underlying.setdefault(row.underlying, {"count": 0, "pnl_usd": 0.0})
        entry["count"] += 1
        entry["pnl_usd"] += row.pnl_usd
    return {
        "open": rows.count(),
        "runs": sorted({r.run_id for r in rows if r.run_id}),
        "by_underlying": by_underlying,
    }


def decision_stats(
    *, days: int = 30, bucket: str = "day", now: datetime | None = None
) -> dict[str, Any]:
    """Counts of evaluations per outcome and underlying, overall and per time bucket."""
    since = (now or timezone.now()) - timedelta(days=days)
    trunc = TruncHour if bucket == "hour" else TruncDay
    rows = (
        GregDecision.objects.filter(kind=GregDecision.Kind.EVALUATION, created_at__gte=since)
        .annotate(bucket=trunc("created_at"))
        .values_list("bucket", "underlying", "strategy")
    )
    totals: Counter[tuple[str, str]] = Counter()
    series: Counter[tuple[str, str, str]] = Counter()
    for when, underlying, strategy in rows:
        totals[(underlying, strategy)] += 1
        series[(when.isoformat(), underlying, strategy)] += 1
    kinds = Counter(
        GregDecision.objects.filter(created_at__gte=since).values_list("kind", flat=True)
    )
    return {
        "since": since,
        "bucket": bucket,
        "outcomes": list(OUTCOMES),
        "kinds": dict(kinds),
        "totals": [
            {"underlying": u, "strategy": s, "count": c} for (u, s), c in sorted(totals.items())
        ],
        "series": [
            {"bucket": b, "underlying": u, "strategy": s, "count": c}
            for (b, u, s), c in sorted(series.items())
        ],
    }


#: CSS class per outcome: the waterfall's priority, from the safety stop to the default.
PRIORITY_CLASS = {
    "NO_TRADE": "p-stop",
    "STRATEGY_B_CALENDAR": "p-1",
    "STRATEGY_D_IRON_BUTTERFLY": "p-2",
    "STRATEGY_A_STRADDLE": "p-3",
    "STRATEGY_A_STRANGLE": "p-4",
    "STRATEGY_C_SHORT_PUT": "p-5",
    "STRATEGY_F_BULL_PUT_SPREAD": "p-6",
    "STRATEGY_F_BEAR_CALL_SPREAD": "p-6",
}


def _rule_rows(row: GregDecision) -> list[dict[str, Any]]:
    rules = []
    for rule in row.rules or []:
        conditions = rule.get("conditions", [])
        state = "fired" if rule["fired"] else ("missing" if rule.get("missing") else "no")
        rules.append(
            {
                **rule,
                "state": state,
                "chosen": rule["key"] == row.rule_key,
                "priority_class": PRIORITY_CLASS.get(rule["outcome"], ""),
                "structure": (row.structures or {}).get(rule["outcome"]),
                "conditions": conditions,
            }
        )
    return rules


def bots_context() -> dict[str, Any]:
    """The Bots tab: per underlying, the newest evaluation's sensors, rules and structures."""
    underlyings = []
    for underlying, row in evaluations_latest().items():
        underlyings.append(
            {
                "underlying": underlying,
                "evaluation": row,
                "sensors": row.sensors,
                "rules": _rule_rows(row),
                "chosen_class": PRIORITY_CLASS.get(row.strategy, ""),
            }
        )
    version, thresholds = thresholds_current()
    return {
        "underlyings": underlyings,
        "calibration_version": version,
        "engine_version": load_spec().entry.version,
        "thresholds": thresholds.model_dump(),
    }


def suggestions_open() -> list[GregDecision]:
    """The newest OPEN suggestion per underlying that is not executed yet."""
    latest: dict[str, GregDecision] = {}
    rows = GregDecision.objects.filter(kind="suggestion", action="OPEN").order_by("-created_at")
    for row in rows[:100]:
        latest.setdefault(row.underlying, row)
    return [r for r in latest.values() if r.outcome == "advised"]


def lab_context(*, underlying: str = "", sandbox: str = "", status: str = "open") -> dict[str, Any]:
    """The Greg Lab tab: settings, sandbox summary, filtered positions with reviews and logs."""
    from greg.models import GregSettings

    flag = {"yes": True, "no": False}.get(sandbox)
    positions = list(position_list(underlying=underlying, sandbox=flag, status=status)[:100])
    for p in positions:
        p.timeline = list(position_logs(p))  # type: ignore[attr-defined]
        review = p.review or {}
        p.top = review.get("top", {})  # type: ignore[attr-defined]
        p.hedge = next(  # type: ignore[attr-defined]
            (a.get("hedge") for a in review.get("actions", []) if a.get("hedge")), None
        )
        p.hedge_check = next(  # type: ignore[attr-defined]
            (c for c in review.get("checks", []) if c.startswith("hedge")), ""
        )
    from trading.services.controls import effective_params_load

    try:
        desk_dry_run: bool | None = effective_params_load().dry_run
    except ValueError:
        desk_dry_run = None
    return {
        "desk_dry_run": desk_dry_run,
        "settings": GregSettings.load(),
        "sandbox": sandbox_summary(),
        "positions": positions,
        "suggestions": suggestions_open(),
        "filters": {"underlying": underlying, "sandbox": sandbox, "status": status},
        "underlyings": sorted(set(GregPosition.objects.values_list("underlying", flat=True))),
        "executions": list(decision_list().filter(kind="execution")[:10]),
    }

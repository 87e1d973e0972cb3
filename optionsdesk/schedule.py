"""The periodic schedule, declared once in code and synced to django-celery-beat's tables.

`manage.py sync_periodic_tasks` writes these rows (idempotently) and disables rows it manages
that are no longer declared; rows an operator creates in the admin are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

MANAGED_MARK = "[managed by optionsdesk]"


@dataclass(frozen=True)
class PeriodicSpec:
    """One declared periodic task: an interval or a crontab, and an expiry for its messages."""

    name: str
    task: str
    description: str
    every_s: int | None = None
    crontab: str | None = None  # "minute hour day_of_month month_of_year day_of_week"
    expires_s: int | None = None
    queue: str | None = None

    def __post_init__(self) -> None:
        if (self.every_s is None) == (self.crontab is None):
            raise ValueError(f"{self.name}: declare exactly one of every_s or crontab")


def declared_schedule(
    heartbeat_interval_s: int,
    *,
    harvest_interval_s: int = 900,
    health_recheck_interval_s: int = 600,
) -> list[PeriodicSpec]:
    """Every periodic task the project runs; later apps append their specs here.

    The agent re-check follows `HEALTH_RECHECK_INTERVAL_S` (0: not scheduled at all)."""
    specs = [
        PeriodicSpec(
            name="system.heartbeat",
            task="system.heartbeat",
            description="Records that a worker is alive (System Health, /health).",
            every_s=heartbeat_interval_s,
            expires_s=max(heartbeat_interval_s - 1, 1),
        ),
        PeriodicSpec(
            name="trading.agent_tick",
            task="trading.agent_tick",
            description="Live agent tick; runs when the loop interval (a runtime control) is due.",
            every_s=30,
            expires_s=25,
        ),
        PeriodicSpec(
            name="trading.reconcile_positions",
            task="trading.reconcile_positions",
            description="Compare positions with the exchange (action from runtime controls).",
            every_s=900,
            expires_s=600,
        ),
        PeriodicSpec(
            name="trading.health_recheck",
            task="trading.health_recheck",
            description="Agent healthcheck: pauses on DEGRADED, halts on FATAL (mainnet).",
            every_s=max(health_recheck_interval_s, 1),
            expires_s=max(min(300, health_recheck_interval_s - 1), 1),
        ),
        PeriodicSpec(
            name="trading.export_decisions",
            task="trading.export_decisions",
            description="Daily sweep of decisions into var/decisions/decisions-YYYY-MM-DD.jsonl.",
            crontab="5 0 * * *",
            expires_s=3600,
        ),
        PeriodicSpec(
            name="greg.evaluate",
            task="greg.evaluate",
            description="Greg: sensors and waterfall per underlying; position and hedge engines.",
            every_s=300,
            expires_s=240,
            queue="research",
        ),
        PeriodicSpec(
            name="greg.whatif_report",
            task="greg.whatif_report",
            description="Greg: what each suggestion of the last 30 days would have made.",
            crontab="20 0 * * *",
            expires_s=3600,
            queue="research",
        ),
        PeriodicSpec(
            name="steward.report",
            task="steward.report",
            description="Daily AI Steward report: system state and ranked next tasks.",
            crontab="30 6 * * *",
            expires_s=3600,
            queue="research",
        ),
        PeriodicSpec(
            name="calibration.harvest",
            task="calibration.harvest",
            description="Harvester: option chains to partitioned Parquet (HARVEST_INTERVAL_S).",
            every_s=harvest_interval_s,
            expires_s=max(harvest_interval_s - 10, 30),
            queue="research",
        ),
        PeriodicSpec(
            name="calibration.auto_calibrate",
            task="calibration.auto_calibrate",
            description="Daily auto-calibration of CALIBRATION_UNDERLYINGS (history rows only).",
            crontab="10 3 * * *",
            expires_s=3600,
            queue="research",
        ),
        PeriodicSpec(
            name="reviewbot.alerts_scan",
            task="reviewbot.alerts_scan",
            description="Telegram alerts: fills, expiries, guard pauses, discrepancies (once).",
            every_s=60,
            expires_s=55,
        ),
    ]
    if health_recheck_interval_s <= 0:
        specs = [spec for spec in specs if spec.name != "trading.health_recheck"]
    return specs

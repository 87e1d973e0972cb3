"""The Celery application: configured from Django settings, tasks autodiscovered, two queues.

Agent work (ticks, reconciliation, health, heartbeat) and research work (backtests, grids,
calibration, scans, steward reports, Greg's evaluations and what-if) go to queues of their own,
each consumed by a worker of its own (`make worker-agent`, `make worker-research`;
docs/operations.md), so a tick never waits behind a backtest. `task_route` decides by task name
prefix; a task sent with an explicit `queue=` keeps it. Anything else goes to Celery's default
queue, which the research worker also consumes.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "optionsdesk.settings")

app = Celery("optionsdesk")

AGENT_QUEUE = "agent"
RESEARCH_QUEUE = "research"
DEFAULT_QUEUE = "celery"
#: Task names starting with one of these go to the agent's queue.
AGENT_TASK_PREFIXES: tuple[str, ...] = (
    "trading.agent_tick",
    "trading.reconcile",
    "trading.health",
    "system.heartbeat",
)
#: Task names starting with one of these go to the research queue.
RESEARCH_TASK_PREFIXES: tuple[str, ...] = (
    "backtests.",
    "calibration.",
    "greg.",
    "steward.",
    "research.",
)


def task_queue(name: str) -> str:
    """The queue a task of this name goes to when sent without an explicit `queue=`."""
    if name.startswith(AGENT_TASK_PREFIXES):
        return AGENT_QUEUE
    if name.startswith(RESEARCH_TASK_PREFIXES):
        return RESEARCH_QUEUE
    return DEFAULT_QUEUE


def task_route(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any) -> Any:
    """Celery router (`CELERY_TASK_ROUTES`): the queue by task name; `queue=` given wins."""
    queue = task_queue(name)
    return None if queue == DEFAULT_QUEUE else {"queue": queue}


def _configure() -> None:
    from optionsdesk.config import ConfigError

    try:
        app.config_from_object("django.conf:settings", namespace="CELERY")
        app.conf.broker_transport_options  # noqa: B018 - force settings to load now
    except ConfigError as exc:
        sys.stderr.write(f"optionsdesk: configuration error: {exc}\n")
        raise SystemExit(2) from None


_configure()
app.autodiscover_tasks()

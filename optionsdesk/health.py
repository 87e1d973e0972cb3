"""System health checks: database, broker, worker heartbeat, exchange and LLM.

Each check returns ok / starting / degraded / down with a human detail; `starting` is the worker
during the first heartbeat interval after start-up (no beat yet is not "down"). `/health`,
`/api/status` and the System Health tab read the same report.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Literal

import httpx
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from optionsdesk.models import WorkerHeartbeat

Status = Literal["ok", "starting", "degraded", "down"]
_RANK: dict[str, int] = {"ok": 0, "starting": 1, "degraded": 2, "down": 3}
EXTERNAL_CACHE_S = 15
#: When this process started (monotonic): a worker has one heartbeat interval to report in.
PROCESS_STARTED = time.monotonic()


def starting_up(*, now: float | None = None) -> bool:
    """True during the first heartbeat interval (plus its grace) after this process started:
    a missing worker heartbeat then means "not reported yet", not "down"."""
    elapsed = (time.monotonic() if now is None else now) - PROCESS_STARTED
    return elapsed <= 2 * settings.HEARTBEAT_INTERVAL_S + 5


@dataclass(frozen=True)
class Check:
    """One component's state."""

    name: str
    status: Status
    detail: str
    latency_ms: float | None = None


def _timed(name: str, probe: Callable[[], tuple[Status, str]]) -> Check:
    started = time.perf_counter()
    try:
        status, detail = probe()
    except Exception as exc:
        status, detail = "down", f"{type(exc).__name__}: {exc}"[:300]
    return Check(name, status, detail, round((time.perf_counter() - started) * 1000, 1))


def _database() -> tuple[Status, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok", connection.vendor


def _broker() -> tuple[Status, str]:
    from optionsdesk.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        return "ok", conn.transport_cls if isinstance(conn.transport_cls, str) else "connected"


def _worker() -> tuple[Status, str]:
    latest = WorkerHeartbeat.objects.order_by("-last_seen_at").first()
    if latest is None:
        if starting_up():
            return "starting", "no worker heartbeat yet: started less than an interval ago"
        return "down", "no worker heartbeat recorded yet"
    age = timezone.now() - latest.last_seen_at
    interval = timedelta(seconds=settings.HEARTBEAT_INTERVAL_S)
    seconds = int(age.total_seconds())
    if age <= 2 * interval + timedelta(seconds=5):
        return "ok", f"{latest.hostname} seen {seconds}s ago"
    if starting_up():
        return "starting", f"{latest.hostname} last seen {seconds}s ago; waiting for its next beat"
    if age <= 10 * interval:
        return "degraded", f"{latest.hostname} last seen {seconds}s ago"
    return "down", f"no heartbeat for {seconds}s (last: {latest.hostname})"


def _exchange() -> tuple[Status, str]:
    from django.utils.module_loading import import_string

    # The trading app's probe, named in settings: infrastructure imports no app.
    server_ms = import_string(settings.HEALTH_EXCHANGE_TIME)()
    skew_ms = abs(int(time.time() * 1000) - int(server_ms))
    # The simulator's clock may run accelerated; only a real exchange's clock drifting from ours
    # matters (order expiries, settlement windows).
    where = f"{settings.DERIBIT_ENV} at {settings.DERIBIT_BASE_URL}"
    if settings.DERIBIT_ENV == "sim":
        return "ok", f"{where} (simulated clock)"
    status: Status = "degraded" if skew_ms >= 5_000 else "ok"
    return status, f"{where}, clock skew {skew_ms} ms"


LLM_PROBE_TIMEOUT_S = 3.0


def _llm() -> tuple[Status, str]:
    """Configured, and the server answers `GET <base>/models` (no completion, no tokens spent)."""
    if not settings.LLM_ENABLED:
        return "degraded", "not configured (OPENAI_BASE_URL/OPENAI_API_KEY unset): rule-only"
    app = settings.APP
    url = f"{app.OPENAI_BASE_URL.rstrip('/')}/models"
    headers = {"Authorization": f"Bearer {app.OPENAI_API_KEY.get_secret_value()}"}
    try:
        response = httpx.get(url, headers=headers, timeout=LLM_PROBE_TIMEOUT_S)
    except httpx.HTTPError as exc:
        return "degraded", f"configured ({app.OPENAI_MODEL}) but unreachable: {type(exc).__name__}"
    if response.status_code in (401, 403):
        return "degraded", f"configured ({app.OPENAI_MODEL}) but the key is refused"
    if response.status_code >= 500:
        return "degraded", f"configured ({app.OPENAI_MODEL}), server error {response.status_code}"
    return "ok", f"configured and reachable: {app.OPENAI_MODEL}"


def _cached(name: str, probe: Callable[[], tuple[Status, str]]) -> Check:
    key = f"health:{name}"
    found = cache.get(key)
    if isinstance(found, Check):
        return found
    check = _timed(name, probe)
    cache.set(key, check, EXTERNAL_CACHE_S)
    return check


def health_checks() -> list[Check]:
    """Run every check; external ones (exchange) are cached briefly to keep /health cheap."""
    return [
        _timed("database", _database),
        _cached("broker", _broker),
        _timed("worker", _worker),
        _cached("exchange", _exchange),
        _cached("llm", _llm),
    ]


def overall_status(checks: list[Check]) -> Status:
    """Worst status among the core components; the LLM is optional and never makes it worse."""
    core = [check for check in checks if check.name != "llm"]
    worst = max(core, key=lambda check: _RANK[check.status])
    return worst.status


def health_report() -> dict[str, object]:
    """The JSON body of /health."""
    checks = health_checks()
    return {
        "status": overall_status(checks),
        "time": timezone.now().isoformat(),
        "checks": {check.name: asdict(check) for check in checks},
    }

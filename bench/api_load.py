"""Load on the API's main reads and the dashboard: p50/p95 under 4 concurrent clients.

A throw-away SQLite database (WAL) under a temporary VAR_DIR gets 1,000 decisions (a few real
dry-run ticks against the simulated exchange, then copies of them), their orders, positions and
20 backtest runs; gunicorn serves it with 2 sync workers, as `make demo` does. Four client
threads each send REQUESTS requests to every endpoint in turn (token for the API, a session
cookie for the dashboard). Reference in the same run: `GET /login/` (Django's smallest page: no
database query), so "p95 / reference" is the endpoints' own cost over the server's.

Run: `.venv/bin/python bench/api_load.py` (about a minute). Target: p95 of the reads < 50 ms.
Last line: JSON.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
VAR = tempfile.mkdtemp(prefix="optionsdesk-bench-")
os.environ["VAR_DIR"] = VAR
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "optionsdesk.settings")
os.environ.pop("DATABASE_URL", None)

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

CLIENTS = 4
REQUESTS = 40
DECISIONS = 1000
ENDPOINTS = {
    "decisions": "/api/agent/decisions",
    "decision": "/api/agent/decisions/{decision}",
    "positions": "/api/agent/positions",
    "orders": "/api/agent/orders",
    "status": "/api/agent/status",
    "backtests": "/api/backtests",
    "dashboard": "/",
}
REFERENCE = "/login/"


def _populate() -> dict[str, str]:
    """Ticks, copies of their decisions, backtest runs, a token and a session; returns auth."""
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.sessions.backends.db import SessionStore

    from backtests.domain.sources.spec import SourceSpec
    from backtests.domain.types import BacktestConfig
    from backtests.services import backtest_run_create
    from optionsdesk.services import api_token_create
    from trading.deribit.client import DeribitClient
    from trading.deribit.limiter import NoLimiter
    from trading.deribit.simulator import ServerThread, SimConfig, SimulatedExchange, create_app
    from trading.models import Decision
    from trading.services import tick_run

    call_command("migrate", verbosity=0)
    config = SimConfig(seed=7, start=datetime(2025, 12, 10, 9, tzinfo=UTC), rate_limits=None)
    with ServerThread(create_app(SimulatedExchange(config)), port=0) as server:
        client = DeribitClient(
            server.base_url, "optionsdesk-sim", "optionsdesk-sim-secret", limiter=NoLimiter()
        )
        for seed in range(6):
            tick_run(trigger="bench", client=client, seed=seed)
        client.close()
    originals = list(Decision.objects.all())
    columns = [f.attname for f in Decision._meta.concrete_fields if f.attname != "id"]
    copies: list[Decision] = []
    while len(originals) + len(copies) < DECISIONS:
        for decision in originals:
            copies.append(Decision(**{name: getattr(decision, name) for name in columns}))
    Decision.objects.bulk_create(copies[: DECISIONS - len(originals)])
    source = SourceSpec(kind="synthetic", days=30)
    for i in range(20):
        backtest_run_create(config=BacktestConfig(seed=i), source=source, enqueue=False)
    user = get_user_model().objects.create_superuser("bench", "", "bench-password-1")
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return {
        "token": api_token_create(user=user),
        "session": session.session_key or "",
        "decision": str(Decision.objects.order_by("-pk").values_list("pk", flat=True)[0]),
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "VAR_DIR": VAR, "PYTHONUNBUFFERED": "1"}
    gunicorn = Path(sys.executable).parent / "gunicorn"
    proc = subprocess.Popen(
        [str(gunicorn), "optionsdesk.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}{REFERENCE}", timeout=2)
            return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("gunicorn did not start")


def _load(base: str, path: str, auth: dict[str, str]) -> list[float]:
    """CLIENTS threads, REQUESTS each, on one path; the latencies in ms."""
    latencies: list[float] = []
    lock = threading.Lock()

    def client() -> None:
        headers = {"Authorization": f"Token {auth['token']}"} if path.startswith("/api/") else {}
        cookies = {settings.SESSION_COOKIE_NAME: auth["session"]}
        with httpx.Client(base_url=base, headers=headers, cookies=cookies, timeout=30) as http:
            http.get(path)  # warm the connection and the worker
            mine = []
            for _ in range(REQUESTS):
                started = time.perf_counter()
                response = http.get(path)
                mine.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (path, response.status_code)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main() -> None:
    """Populate, serve, load every endpoint and print the figures."""
    auth = _populate()
    port = _free_port()
    server = _serve(port)
    base = f"http://127.0.0.1:{port}"
    figures: dict[str, dict[str, float]] = {}
    try:
        for name, path in {"reference": REFERENCE, **ENDPOINTS}.items():
            latencies = _load(base, path.format(**auth), auth)
            figures[name] = {
                "p50_ms": round(statistics.median(latencies), 1),
                "p95_ms": round(_p95(latencies), 1),
            }
            print(f"{name:10} {path:32} p50 {figures[name]['p50_ms']:7.1f} ms  "
                  f"p95 {figures[name]['p95_ms']:7.1f} ms")  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=20)
    reads = [n for n in ENDPOINTS if n != "dashboard"]
    worst = max(figures[n]["p95_ms"] for n in reads)
    reference = figures["reference"]["p95_ms"]
    print(f"load average: {os.getloadavg()[0]:.1f}; worst read p95 {worst:.1f} ms "
          f"(target < 50 ms: {'met' if worst < 50 else 'MISSED'})")  # fmt: skip
    result = {f"{name}_p95_ms": f["p95_ms"] for name, f in figures.items()}
    result |= {"worst_read_p95_ms": worst, "worst_read_over_reference": round(worst / reference, 2)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()

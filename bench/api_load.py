"""Load on the API's main reads and the dashboard: p50/p95 under 4 concurrent clients.

A throw-away SQLite database (WAL) under a temporary VAR_DIR gets 1,000 decisions (a few real
dry-run ticks against the simulated exchange, then copies of them), their orders, positions and
20 backtest runs; gunicorn serves it with the web process's own command line
(`optionsdesk.processes`, as `make web` and `make demo`). Four client threads each send REQUESTS
requests to every endpoint in turn (token for the API, a session cookie for the dashboard).

Reference in the same run: `GET /login/` (Django's smallest page: no query of its own). Each
client alternates the endpoint and the reference, so both see the same load at the same
moment; "p95 / reference" is the endpoint's cost over the server's whatever the machine's load.
The 1-minute load average is printed before and after.

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


def _web_command(port: int) -> list[str]:
    """The web process's command line (`optionsdesk.processes`) bound to `port`."""
    from optionsdesk.processes import PROCESSES

    argv = [arg.format(bind=f"127.0.0.1:{port}") for arg in PROCESSES["web"]]
    gunicorn = Path(sys.executable).parent / "gunicorn"
    return [str(gunicorn), *[a for a in argv[1:] if a not in ("--access-logfile", "-")]]


def _serve(port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "VAR_DIR": VAR, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        _web_command(port), cwd=REPO, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
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


def _load(base: str, path: str, auth: dict[str, str]) -> tuple[list[float], list[float]]:
    """CLIENTS threads, REQUESTS rounds each of the endpoint then the reference; the latencies
    in ms of each."""
    latencies: list[float] = []
    references: list[float] = []
    lock = threading.Lock()

    def timed(http: httpx.Client, url: str) -> float:
        started = time.perf_counter()
        response = http.get(url)
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, (url, response.status_code)
        return elapsed

    def client() -> None:
        headers = {"Authorization": f"Token {auth['token']}"} if path.startswith("/api/") else {}
        cookies = {settings.SESSION_COOKIE_NAME: auth["session"]}
        with httpx.Client(base_url=base, headers=headers, cookies=cookies, timeout=30) as http:
            http.get(path)  # warm the connection and the worker
            mine, theirs = [], []
            for _ in range(REQUESTS):
                mine.append(timed(http, path))
                theirs.append(timed(http, REFERENCE))
        with lock:
            latencies.extend(mine)
            references.extend(theirs)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, references


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def _figures(latencies: list[float], references: list[float]) -> dict[str, float]:
    p95, reference_p95 = _p95(latencies), _p95(references)
    return {
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(p95, 1),
        "reference_p50_ms": round(statistics.median(references), 1),
        "reference_p95_ms": round(reference_p95, 1),
        "p95_over_reference": round(p95 / reference_p95, 2),
    }


def main() -> None:
    """Populate, serve, load every endpoint and print the figures."""
    auth = _populate()
    port = _free_port()
    server = _serve(port)
    base = f"http://127.0.0.1:{port}"
    figures: dict[str, dict[str, float]] = {}
    load_before = os.getloadavg()[0]
    print(f"server: {' '.join(_web_command(port)[1:])}")
    print(f"load average before: {load_before:.1f}")
    print(f"{'endpoint':10} {'path':32} {'p50':>7} {'p95':>7} {'ref p50':>8} {'ref p95':>8} ratio")
    try:
        for name, path in ENDPOINTS.items():
            f = figures[name] = _figures(*_load(base, path.format(**auth), auth))
            print(f"{name:10} {path:32} {f['p50_ms']:7.1f} {f['p95_ms']:7.1f} "
                  f"{f['reference_p50_ms']:8.1f} {f['reference_p95_ms']:8.1f} "
                  f"{f['p95_over_reference']:5.2f}")  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=20)
    load_after = os.getloadavg()[0]
    reads = [n for n in ENDPOINTS if n != "dashboard"]
    worst = max(reads, key=lambda n: figures[n]["p95_ms"])
    worst_p95 = figures[worst]["p95_ms"]
    print(f"load average after: {load_after:.1f}; worst read {worst} p95 {worst_p95:.1f} ms "
          f"(target < 50 ms: {'met' if worst_p95 < 50 else 'MISSED'})")  # fmt: skip
    result: dict[str, object] = {f"{name}_p95_ms": f["p95_ms"] for name, f in figures.items()}
    result |= {f"{name}_over_reference": f["p95_over_reference"] for name, f in figures.items()}
    result |= {
        "worst_read_p95_ms": worst_p95,
        "worst_read_over_reference": figures[worst]["p95_over_reference"],
        "load_average_before": round(load_before, 1),
        "load_average_after": round(load_after, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

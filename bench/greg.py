"""Benchmark Greg's evaluation of both underlyings from a cold client against the simulator.

A new `DeribitClient` per round (no instrument cache, first connection and auth-free public
reads included) evaluates BTC and ETH end to end: the market fetch (chain, perpetual, hourly and
daily candles, DVOL, instruments), the eleven sensors, the waterfall with all eight outcomes and
the seven structures built from the book. The reference, measured in the same run, is the same
requests alone from a cold client (`market_fetch` without sensors, waterfall or legs), so
"evaluate / fetch" is Greg's own cost over the network's. One warm-up round first (numba
compiles the Black-76 kernels once per process; reported apart).

Run: `.venv/bin/python bench/greg.py` (about 30 s; a throw-away SQLite database under a
temporary VAR_DIR). Targets: <= 1 s and <= 15 requests per underlying. Last line: JSON
`{"evaluate_s", "requests", ...}` (evaluate_s: median seconds for both underlyings;
requests: the most any underlying took).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["VAR_DIR"] = tempfile.mkdtemp(prefix="optionsdesk-bench-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "optionsdesk.settings")
os.environ.pop("DATABASE_URL", None)

import django

django.setup()

from django.core.management import call_command  # noqa: E402

from greg.services.evaluation import underlying_evaluate  # noqa: E402
from greg.services.market import market_fetch  # noqa: E402
from trading.deribit.client import DeribitClient  # noqa: E402
from trading.deribit.limiter import NoLimiter  # noqa: E402
from trading.deribit.simulator import (  # noqa: E402
    ServerThread,
    SimConfig,
    SimulatedExchange,
    create_app,
)

ROUNDS = 7
UNDERLYINGS = ("BTC", "ETH")


def _client(base_url: str) -> DeribitClient:
    return DeribitClient(
        base_url, "optionsdesk-sim", "optionsdesk-sim-secret", timeout_s=10, limiter=NoLimiter()
    )


def _evaluate_round(base_url: str) -> tuple[float, dict[str, int], dict[str, str]]:
    with _client(base_url) as client:
        started = time.perf_counter()
        evaluations = [underlying_evaluate(client=client, underlying=u) for u in UNDERLYINGS]
        elapsed = time.perf_counter() - started
    requests = {e.underlying: e.requests for e in evaluations}
    chosen = {e.underlying: f"{e.decision.strategy} (step {e.decision.step})" for e in evaluations}
    return elapsed, requests, chosen


def _fetch_round(base_url: str) -> float:
    with _client(base_url) as client:
        started = time.perf_counter()
        for underlying in UNDERLYINGS:
            market_fetch(client=client, underlying=underlying)
        return time.perf_counter() - started


def main() -> None:
    """Run the rounds and print the figures."""
    call_command("migrate", verbosity=0)
    exchange = SimulatedExchange(
        SimConfig(seed=7, start=datetime(2025, 12, 10, 9, tzinfo=UTC), rate_limits=None)
    )
    with ServerThread(create_app(exchange), port=0) as server:
        warm_s, warm_requests, chosen = _evaluate_round(server.base_url)
        print(f"warm-up round (JIT compile included): {warm_s:.2f} s, requests {warm_requests}")
        print(f"chosen: {chosen}")
        evaluate_s: list[float] = []
        fetch_s: list[float] = []
        requests: list[int] = []
        for _ in range(ROUNDS):
            fetch_s.append(_fetch_round(server.base_url))
            elapsed, per_underlying, _ = _evaluate_round(server.base_url)
            evaluate_s.append(elapsed)
            requests.extend(per_underlying.values())
    median = statistics.median(evaluate_s)
    fetch = statistics.median(fetch_s)
    print(f"rounds: {ROUNDS} cold clients, both underlyings each")
    print(f"evaluate: median {median:.3f} s (min {min(evaluate_s):.3f}, max {max(evaluate_s):.3f})")
    print(f"reference (the same requests alone): median {fetch:.3f} s")
    print(f"evaluate / fetch ratio: {median / fetch:.2f}")
    print(f"requests per underlying: max {max(requests)}")
    print(
        f"targets: <= 1 s {'met' if median <= 1.0 else 'MISSED'}, "
        f"<= 15 requests per underlying {'met' if max(requests) <= 15 else 'MISSED'}"
    )
    print(
        json.dumps(
            {
                "evaluate_s": round(median, 3),
                "requests": max(requests),
                "fetch_s": round(fetch, 3),
                "evaluate_over_fetch": round(median / fetch, 2),
                "warmup_s": round(warm_s, 2),
            }
        )
    )


if __name__ == "__main__":
    main()

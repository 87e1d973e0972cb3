"""Benchmark Greg's evaluation of both underlyings from a cold client against the simulator.

A new `DeribitClient` per round (no instrument cache, first connection and auth-free public
reads included) evaluates BTC and ETH end to end: the market fetch (chain, perpetual, hourly and
daily candles, DVOL, instruments; six requests sent concurrently), the eleven sensors, the
waterfall with all eight outcomes and the seven structures built from the book. The simulator
starts on 2025-12-29, a date where every strategy's DTE window has a listed expiry, so all seven
structures are really built (on 2025-12-10 none but the calendar's front leg would be).

The simulator runs in this process (as in every earlier measurement: its pricing shares the
interpreter, so the figure is an upper bound on Greg's own cost plus the network's); the same
rounds against the simulator in a process of its own, as Deribit is, are reported too
(`evaluate_separate_process_s`; on a machine with more runnable processes than cores each
request there also waits for the exchange process to be scheduled, so it can be the slower). The
reference, measured in the same run, is the same requests alone from a cold client
(`market_fetch` without sensors, waterfall or legs), so "evaluate / fetch" is Greg's own cost
over the network's. One warm-up round first (numba compiles the Black-76 kernels once per
process; reported apart).

Run: `.venv/bin/python bench/greg.py` (about 40 s; a throw-away SQLite database under a
temporary VAR_DIR). Targets: <= 1 s and <= 15 requests per underlying. Last line: JSON
`{"evaluate_s", "requests", ...}` (evaluate_s: median seconds for both underlyings;
requests: the most any underlying took).
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["VAR_DIR"] = tempfile.mkdtemp(prefix="optionsdesk-bench-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "optionsdesk.settings")
os.environ.pop("DATABASE_URL", None)

import django  # noqa: E402

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
SIM_START = datetime(2025, 12, 29, 9, tzinfo=UTC)

#: The simulator alone in a child process; it prints its base URL, then serves until stdin
#: closes (the benchmark exiting, even on an error, closes it).
SERVE = f"""
import os, sys, threading
sys.path.insert(0, {str(ROOT)!r})
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "optionsdesk.settings")
import django  # noqa: E402
django.setup()
from datetime import datetime
from trading.deribit.simulator import ServerThread, SimConfig, SimulatedExchange, create_app
start = datetime.fromisoformat({SIM_START.isoformat()!r})
exchange = SimulatedExchange(SimConfig(seed=7, start=start, rate_limits=None))
with ServerThread(create_app(exchange), port=0) as server:
    print(server.base_url, flush=True)
    sys.stdin.read()
"""


def _client(base_url: str) -> DeribitClient:
    return DeribitClient(
        base_url, "optionsdesk-sim", "optionsdesk-sim-secret", timeout_s=10, limiter=NoLimiter()
    )


@contextmanager
def _exchange_process() -> Iterator[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", SERVE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        yield child.stdout.readline().strip()
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=30)


@contextmanager
def _exchange_in_process() -> Iterator[str]:
    exchange = SimulatedExchange(SimConfig(seed=7, start=SIM_START, rate_limits=None))
    with ServerThread(create_app(exchange), port=0) as server:
        yield server.base_url


def _evaluate_round(base_url: str) -> tuple[float, dict[str, int], dict[str, str], int]:
    with _client(base_url) as client:
        started = time.perf_counter()
        evaluations = [underlying_evaluate(client=client, underlying=u) for u in UNDERLYINGS]
        elapsed = time.perf_counter() - started
        total = client.request_count
    requests = {e.underlying: e.requests for e in evaluations}
    chosen = {e.underlying: f"{e.decision.strategy} (step {e.decision.step})" for e in evaluations}
    built = sum(1 for e in evaluations for s in e.structures.values() if s["ok"])
    chosen["structures built"] = f"{built} of {sum(len(e.structures) for e in evaluations)}"
    assert total == sum(requests.values()), (total, requests)
    return elapsed, requests, chosen, total


def _fetch_round(base_url: str) -> float:
    with _client(base_url) as client:
        started = time.perf_counter()
        for underlying in UNDERLYINGS:
            market_fetch(client=client, underlying=underlying)
        return time.perf_counter() - started


def _rounds(base_url: str, log: Callable[[str], None]) -> dict[str, float | int]:
    warm_s, warm_requests, chosen, _ = _evaluate_round(base_url)
    log(f"  warm-up round (JIT compile included): {warm_s:.2f} s, requests {warm_requests}")
    log(f"  chosen: {chosen}")
    evaluate_s: list[float] = []
    fetch_s: list[float] = []
    requests: list[int] = []
    for _ in range(ROUNDS):
        fetch_s.append(_fetch_round(base_url))
        elapsed, per_underlying, _, _ = _evaluate_round(base_url)
        evaluate_s.append(elapsed)
        requests.extend(per_underlying.values())
    median, fetch = statistics.median(evaluate_s), statistics.median(fetch_s)
    log(f"  evaluate: median {median:.3f} s (min {min(evaluate_s):.3f}, max {max(evaluate_s):.3f})")
    log(f"  reference (the same requests alone): median {fetch:.3f} s; ratio {median / fetch:.2f}")
    return {
        "evaluate_s": median,
        "fetch_s": fetch,
        "requests": max(requests),
        "warmup_s": warm_s,
    }


def main() -> None:
    """Run the rounds and print the figures."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    call_command("migrate", verbosity=0)
    print(f"load average at start: {os.getloadavg()}")
    print(f"exchange in this process ({ROUNDS} rounds, cold clients, both underlyings each):")
    with _exchange_in_process() as base_url:
        inside = _rounds(base_url, print)
    print("exchange in a process of its own:")
    with _exchange_process() as base_url:
        apart = _rounds(base_url, print)
    median = float(inside["evaluate_s"])
    requests = max(int(apart["requests"]), int(inside["requests"]))
    print(f"load average at end: {os.getloadavg()}")
    print(f"requests per underlying: max {requests}")
    print(
        f"targets: <= 1 s {'met' if median <= 1.0 else 'MISSED'}, "
        f"<= 15 requests per underlying {'met' if requests <= 15 else 'MISSED'}"
    )
    print(
        json.dumps(
            {
                "evaluate_s": round(median, 3),
                "requests": requests,
                "fetch_s": round(float(inside["fetch_s"]), 3),
                "evaluate_over_fetch": round(median / float(inside["fetch_s"]), 2),
                "evaluate_separate_process_s": round(float(apart["evaluate_s"]), 3),
                "warmup_s": round(float(inside["warmup_s"]), 2),
                "load_avg_1m": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()

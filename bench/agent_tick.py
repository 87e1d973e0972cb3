"""Benchmark one live-agent tick against the simulated exchange over a real loopback socket.

Full BTC and ETH chains (about 610 + 620 options) from the synthetic market with a volatility
risk premium, so the agent has calls to sell. Measures the median wall time of `tick_run`
(state builder, policy, risk, execution in dry run, Decision + JSONL) and the exchange
requests per tick, against a reference measured in the same run: the same bulk requests sent
alone by the same client (so "tick / fetch" is the agent's own cost over the network's).

Run: `.venv/bin/python bench/agent_tick.py` (about 30 s; uses a throw-away SQLite database
under a temporary VAR_DIR). Targets: <= 300 ms and <= 10 requests per tick. Last line: JSON.
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

from trading.deribit.client import DeribitClient  # noqa: E402
from trading.deribit.limiter import NoLimiter  # noqa: E402
from trading.deribit.simulator import (  # noqa: E402
    ServerThread,
    SimConfig,
    SimulatedExchange,
    create_app,
)
from trading.domain.market_model import MarketModelParams, default_currency_params  # noqa: E402
from trading.services import tick_run  # noqa: E402

TICKS = 15
# A volatility risk premium; spreads are the model's defaults (fitted to real chains).
VRP = {"realized_to_implied": 0.7}


def _exchange() -> SimulatedExchange:
    currencies = {k: v.model_copy(update=VRP) for k, v in default_currency_params().items()}
    config = SimConfig(
        seed=7,
        start=datetime(2025, 12, 10, 9, tzinfo=UTC),
        rate_limits=None,
        market_params=MarketModelParams(currencies=currencies),
    )
    return SimulatedExchange(config)


def _fetch_only(client: DeribitClient) -> float:
    started = time.perf_counter()
    for currency in ("BTC", "ETH"):
        client.get_book_summary_by_currency(currency, "option")
        client.get_account_summary(currency)
    client.get_positions("any", "option")
    return (time.perf_counter() - started) * 1000


def main() -> None:
    """Run the ticks and print the figures."""
    call_command("migrate", verbosity=0)
    with ServerThread(create_app(_exchange()), port=0) as server:
        client = DeribitClient(
            server.base_url,
            "optionsdesk-sim",
            "optionsdesk-sim-secret",
            timeout_s=10,
            limiter=NoLimiter(),
        )
        first = tick_run(trigger="bench", client=client, seed=0)  # warm-up: auth, context
        print(f"warm-up tick: {first.run.duration_ms:.0f} ms, {first.requests} requests")
        print(f"  {first.summary[:150]}")
        tick_ms, requests, fetch_ms = [], [], []
        for i in range(TICKS):
            fetch_ms.append(_fetch_only(client))
            started = time.perf_counter()
            outcome = tick_run(trigger="bench", client=client, seed=i + 1)
            tick_ms.append((time.perf_counter() - started) * 1000)
            requests.append(outcome.requests)
        client.close()
    median_ms = statistics.median(tick_ms)
    fetch = statistics.median(fetch_ms)
    spread = f"min {min(tick_ms):.1f}, max {max(tick_ms):.1f}"
    print(f"ticks: {TICKS}, median {median_ms:.1f} ms ({spread})")
    print(f"requests per tick: median {statistics.median(requests):.0f}, max {max(requests)}")
    print(f"reference (the same 5 bulk requests alone): median {fetch:.1f} ms")
    print(f"tick / fetch ratio: {median_ms / fetch:.2f}")
    print(
        f"targets: <= 300 ms {'met' if median_ms <= 300 else 'MISSED'}, "
        f"<= 10 requests {'met' if max(requests) <= 10 else 'MISSED'}"
    )
    print(
        json.dumps(
            {
                "tick_ms_median": round(median_ms, 1),
                "requests_per_tick": statistics.median(requests),
                "requests_per_tick_max": max(requests),
                "warmup_requests": first.requests,
                "fetch_ms_median": round(fetch, 1),
                "tick_over_fetch": round(median_ms / fetch, 2),
            }
        )
    )


if __name__ == "__main__":
    main()

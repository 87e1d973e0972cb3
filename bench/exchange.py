"""Benchmark the simulated Deribit exchange and the client over a real loopback socket.

Measures, in one run against one uvicorn server on 127.0.0.1:
* how many `public/get_book_summary_by_currency` (full BTC option chain) requests per second
  the simulator sustains for one keep-alive client, with the market moving at demo speed (60x);
* the client's own overhead per call: `DeribitClient` (JSON-RPC envelope, error handling,
  pydantic models) minus a bare `httpx` POST of the same request (the reference), for the
  full chain and for a small call (`public/ticker`).

Run: `.venv/bin/python bench/exchange.py` (about 20 s). The last line is JSON.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from trading.deribit.client import DeribitClient  # noqa: E402
from trading.deribit.limiter import NoLimiter  # noqa: E402
from trading.deribit.simulator import (  # noqa: E402
    ServerThread,
    SimConfig,
    SimulatedExchange,
    create_app,
)

START = datetime(2025, 12, 10, 9, 0, tzinfo=UTC)
DURATION_S = 5.0
SAMPLES = 60


def timed(call: Callable[[], Any], samples: int) -> list[float]:
    """Wall milliseconds of `samples` calls."""
    out = []
    for _ in range(samples):
        started = time.perf_counter()
        call()
        out.append((time.perf_counter() - started) * 1000)
    return out


def sustained_rps(call: Callable[[], Any], duration_s: float) -> tuple[float, int]:
    """Calls per second over `duration_s` of back-to-back calls."""
    count = 0
    started = time.perf_counter()
    while time.perf_counter() - started < duration_s:
        call()
        count += 1
    return count / (time.perf_counter() - started), count


def main() -> None:
    """Run the benchmark and print human lines, then one JSON line."""
    exchange = SimulatedExchange(SimConfig(seed=42, start=START, speed=60.0, rate_limits=None))
    with ServerThread(create_app(exchange)) as server:
        raw = httpx.Client(timeout=30)
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "public/get_book_summary_by_currency",
            "params": {"currency": "BTC", "kind": "option"},
        }
        url = f"{server.base_url}/public/get_book_summary_by_currency"

        def raw_chain() -> int:
            return len(raw.post(url, json=body).json()["result"])

        client = DeribitClient(server.base_url, timeout_s=30, limiter=NoLimiter())
        rows = raw_chain()  # warm up: JIT, first pricing of the chain
        client.get_book_summary_by_currency("BTC")
        name = client.get_book_summary_by_currency("BTC")[rows // 2].instrument_name
        ticker_body = {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "public/ticker",
            "params": {"instrument_name": name},
        }
        ticker_url = f"{server.base_url}/public/ticker"

        rps, count = sustained_rps(raw_chain, DURATION_S)
        raw_chain_ms = timed(raw_chain, SAMPLES)
        client_chain_ms = timed(lambda: client.get_book_summary_by_currency("BTC"), SAMPLES)
        raw_ticker_ms = timed(lambda: raw.post(ticker_url, json=ticker_body).json(), SAMPLES * 3)
        client_ticker_ms = timed(lambda: client.ticker(name), SAMPLES * 3)
        raw.close()
        client.close()

    med = statistics.median
    chain_overhead = med(client_chain_ms) - med(raw_chain_ms)
    ticker_overhead = med(client_ticker_ms) - med(raw_ticker_ms)
    print(f"simulator, full BTC chain ({rows} options) over loopback: {rps:.1f} req/s ({count} in {DURATION_S:.0f} s)")
    print(f"  bare httpx per call: median {med(raw_chain_ms):.2f} ms")
    print(f"  DeribitClient per call: median {med(client_chain_ms):.2f} ms (overhead {chain_overhead:.2f} ms)")
    print(f"ticker: bare httpx {med(raw_ticker_ms):.2f} ms, DeribitClient {med(client_ticker_ms):.2f} ms "
          f"(overhead {ticker_overhead:.3f} ms)")
    print(
        json.dumps(
            {
                "book_summary_rps": round(rps, 1),
                "chain_rows": rows,
                "raw_chain_ms_median": round(med(raw_chain_ms), 3),
                "client_chain_ms_median": round(med(client_chain_ms), 3),
                "client_overhead_chain_ms": round(chain_overhead, 3),
                "client_vs_raw_chain_ratio": round(med(client_chain_ms) / med(raw_chain_ms), 3),
                "raw_ticker_ms_median": round(med(raw_ticker_ms), 3),
                "client_ticker_ms_median": round(med(client_ticker_ms), 3),
                "client_overhead_ticker_ms": round(ticker_overhead, 3),
            }
        )
    )


if __name__ == "__main__":
    main()

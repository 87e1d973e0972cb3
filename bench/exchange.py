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

from trading.deribit.client import DeribitClient
from trading.deribit.limiter import NoLimiter
from trading.deribit.rpc import _BOOK_SUMMARIES
from trading.deribit.simulator import (
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


def interleaved(
    a: Callable[[], Any], b: Callable[[], Any], samples: int
) -> tuple[list[float], list[float]]:
    """Wall milliseconds of `a` and `b`, alternating so both see the same machine load."""
    out_a: list[float] = []
    out_b: list[float] = []
    for _ in range(samples):
        for call, out in ((a, out_a), (b, out_b)):
            started = time.perf_counter()
            call()
            out.append((time.perf_counter() - started) * 1000)
    return out_a, out_b


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
        raw_chain_ms, client_chain_ms = interleaved(
            raw_chain, lambda: client.get_book_summary_by_currency("BTC"), SAMPLES
        )
        raw_ticker_ms, client_ticker_ms = interleaved(
            lambda: raw.post(ticker_url, json=ticker_body).json(),
            lambda: client.ticker(name),
            SAMPLES * 3,
        )
        body_bytes = raw.post(url, json=body).content
        raw.close()
        client.close()
    # Decoding alone, no network: what the client adds on top of json.loads for one chain.
    loads_ms = timed(lambda: json.loads(body_bytes), SAMPLES)
    decode_ms = timed(lambda: _BOOK_SUMMARIES.adapter.validate_json(body_bytes), SAMPLES)

    med = statistics.median
    chain_overhead = med(client_chain_ms) - med(raw_chain_ms)
    ticker_overhead = med(client_ticker_ms) - med(raw_ticker_ms)
    print(
        f"simulator, full BTC chain ({rows} options) over loopback: {rps:.1f} req/s "
        f"({count} in {DURATION_S:.0f} s)"
    )
    print(f"  bare httpx per call: median {med(raw_chain_ms):.2f} ms")
    print(
        f"  DeribitClient per call: median {med(client_chain_ms):.2f} ms "
        f"(overhead {chain_overhead:.2f} ms)"
    )
    print(
        f"ticker: bare httpx {med(raw_ticker_ms):.2f} ms, "
        f"DeribitClient {med(client_ticker_ms):.2f} ms (overhead {ticker_overhead:.3f} ms)"
    )
    print(
        f"decoding one chain reply: json.loads {med(loads_ms):.2f} ms, "
        f"client's typed decode {med(decode_ms):.2f} ms ({len(body_bytes) / 1024:.0f} KiB)"
    )
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
                "json_loads_chain_ms": round(med(loads_ms), 3),
                "client_decode_chain_ms": round(med(decode_ms), 3),
                "decode_vs_json_loads_ratio": round(med(decode_ms) / med(loads_ms), 3),
            }
        )
    )


if __name__ == "__main__":
    main()

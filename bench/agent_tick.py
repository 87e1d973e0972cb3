"""Benchmark one live-agent tick against the simulated exchange over a real loopback socket.

The simulator runs in a child process (forked before anything else starts), as the exchange
is another machine: its work (encoding replies, publishing 1,232 tickers to the stream every
100 ms) does not share this process's interpreter lock with the tick being measured.

Full BTC and ETH chains (about 610 + 620 options) from the synthetic market with a volatility
risk premium, so the agent has calls to sell. Measures the median wall time of `tick_run`
(state builder, policy, risk, execution in dry run, Decision + JSONL) and the exchange
requests per tick, against a reference measured in the same run: the same bulk requests sent
alone by the same client (so "tick / fetch" is the agent's own cost over the network's).

Then, in the same run, the streamed tick: the agent's stream (`AgentStream`: every option's
ticker, index, portfolio and account changes over the simulator's WebSocket) is started, and
the same ticks run on the streamed state (no chain, account or positions request, no
`public/get_time`); its figures are printed beside the REST ones with their ratio.

Last, on a moving market (a second simulator whose clock runs `MOVING_SPEED` times the wall
clock: every option's ticker changes every 100 ms, as on Deribit), the stream thread's share of
a core while idle, and streamed ticks each paired with a REST tick.

Run: `.venv/bin/python bench/agent_tick.py` (about a minute; uses a throw-away SQLite database
under a temporary VAR_DIR). Targets: REST <= 300 ms and <= 10 requests per tick; streamed
<= 50 ms and <= 1 request per tick (the order itself; none in dry run). Last line: JSON.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
from trading.services.stream_state import AgentStream  # noqa: E402

TICKS = 15
#: Simulated time 600x the wall clock: the model's 60 s grid steps every 100 ms, so every
#: option's ticker changes every 100 ms, as Deribit publishes `ticker.*.100ms` on a live market.
MOVING_SPEED = 600.0
#: Wall time between the moving market's ticks (the stream takes a burst of notifications in it).
MOVING_GAP_S = 0.25
# A volatility risk premium; spreads are the model's defaults (fitted to real chains).
VRP = {"realized_to_implied": 0.7}


def _exchange(speed: float) -> SimulatedExchange:
    currencies = {k: v.model_copy(update=VRP) for k, v in default_currency_params().items()}
    config = SimConfig(
        seed=7,
        start=datetime(2025, 12, 10, 9, tzinfo=UTC),
        rate_limits=None,
        speed=speed,
        market_params=MarketModelParams(currencies=currencies),
    )
    return SimulatedExchange(config)


def _serve(urls: multiprocessing.Queue[str], stop: Any, speed: float) -> None:
    """The child process: the simulator on an ephemeral port until `stop` is set."""
    with ServerThread(create_app(_exchange(speed)), port=0) as server:
        urls.put(server.base_url)
        stop.wait()


class _ChildServer:
    """The simulator in a forked child process; `base_url` once it listens. `speed` 0 holds
    the market still; `MOVING_SPEED` moves it every 100 ms."""

    def __init__(self, speed: float = 0.0) -> None:
        self.speed = speed

    def __enter__(self) -> _ChildServer:
        context = multiprocessing.get_context("fork")
        urls: multiprocessing.Queue[str] = context.Queue()
        self._stop = context.Event()
        self._process = context.Process(
            target=_serve, args=(urls, self._stop, self.speed), daemon=True
        )
        self._process.start()
        self.base_url = urls.get(timeout=120)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._process.join(30)


def _client(server: _ChildServer) -> DeribitClient:
    return DeribitClient(
        server.base_url,
        "optionsdesk-sim",
        "optionsdesk-sim-secret",
        timeout_s=10,
        limiter=NoLimiter(),
    )


def _fetch_only(client: DeribitClient) -> float:
    started = time.perf_counter()
    for currency in ("BTC", "ETH"):
        client.get_book_summary_by_currency(currency, "option")
        client.get_account_summary(currency)
    client.get_positions("any", "option")
    return (time.perf_counter() - started) * 1000


def _streamed_ticks(
    server: _ChildServer, client: DeribitClient
) -> tuple[list[float], list[int], set[str], list[float]]:
    """Streamed ticks, each paired with a REST tick under the same load (the simulator
    publishing to the stream): (streamed ms, streamed requests, sources, paired REST ms)."""
    stream = AgentStream(client_factory=lambda: _client(server), underlyings=("BTC", "ETH")).start()
    try:
        if not stream.wait_ready(timeout_s=60):
            raise SystemExit(f"stream not ready: {stream.snapshot(max_age_s=60)[1]}")
        print(f"stream ready: {stream.status().channels} channels")
        tick_ms, requests, sources, rest_ms = [], [], set(), []
        for i in range(TICKS):
            started = time.perf_counter()
            tick_run(trigger="bench", client=client, seed=200 + i)
            rest_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            outcome = tick_run(trigger="bench", client=client, seed=100 + i, stream=stream)
            tick_ms.append((time.perf_counter() - started) * 1000)
            requests.append(outcome.requests)
            if outcome.decision is not None:
                sources.add(json.loads(outcome.decision.log_line)["state_source"]["source"])
    finally:
        stream.stop()
    return tick_ms, requests, sources, rest_ms


def _moving_ticks() -> dict[str, float]:
    """On a moving market (every ticker changes every 100 ms): the stream thread's share of a
    core while idle, then streamed ticks each paired with a REST tick, `MOVING_GAP_S` apart."""
    with _ChildServer(speed=MOVING_SPEED) as server:
        client = _client(server)
        tick_run(trigger="bench", client=client, seed=0)  # warm-up on this exchange
        stream = AgentStream(client_factory=lambda: _client(server), underlyings=("BTC", "ETH"))
        stream.start()
        try:
            if not stream.wait_ready(timeout_s=60):
                raise SystemExit(f"stream not ready: {stream.snapshot(max_age_s=60)[1]}")
            cpu, wall = time.process_time(), time.perf_counter()
            time.sleep(2.0)
            share = (time.process_time() - cpu) / (time.perf_counter() - wall)
            streamed, rest, sources = [], [], set()
            for i in range(TICKS):
                time.sleep(MOVING_GAP_S)
                started = time.perf_counter()
                outcome = tick_run(trigger="bench", client=client, seed=300 + i, stream=stream)
                streamed.append((time.perf_counter() - started) * 1000)
                if outcome.decision is not None:
                    sources.add(json.loads(outcome.decision.log_line)["state_source"]["source"])
                time.sleep(MOVING_GAP_S)
                started = time.perf_counter()
                tick_run(trigger="bench", client=client, seed=400 + i)
                rest.append((time.perf_counter() - started) * 1000)
        finally:
            stream.stop()
            client.close()
    print(
        f"moving market (speed {MOVING_SPEED:g}: every ticker changes every 100 ms): "
        f"stream thread {share:.0%} of a core while idle"
    )
    print(
        f"  streamed ticks (state from: {', '.join(sorted(sources))}): median "
        f"{statistics.median(streamed):.1f} ms (min {min(streamed):.1f}, max {max(streamed):.1f}); "
        f"REST ticks paired with them: median {statistics.median(rest):.1f} ms"
    )
    return {
        "tick_ms_median_streamed_moving": round(statistics.median(streamed), 1),
        "tick_ms_median_rest_moving": round(statistics.median(rest), 1),
        "stream_cpu_share_moving": round(share, 3),
    }


def main() -> None:
    """Run the ticks and print the figures."""
    call_command("migrate", verbosity=0)
    with _ChildServer() as server:
        client = _client(server)
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
        streamed_ms, streamed_requests, sources, paired_ms = _streamed_ticks(server, client)
        client.close()
    moving = _moving_ticks()
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
    streamed = statistics.median(streamed_ms)
    paired = statistics.median(paired_ms)
    streamed_spread = f"min {min(streamed_ms):.1f}, max {max(streamed_ms):.1f}"
    print(
        f"streamed ticks: {TICKS} (state from: {', '.join(sorted(sources))}), "
        f"median {streamed:.1f} ms ({streamed_spread})"
    )
    print(f"REST ticks paired with them (stream running): median {paired:.1f} ms")
    print(
        f"streamed requests per tick: median {statistics.median(streamed_requests):.0f}, "
        f"max {max(streamed_requests)}"
    )
    print(f"streamed / REST tick ratio: {streamed / paired:.2f} (paired REST ticks)")
    print(
        f"streamed targets: <= 50 ms {'met' if streamed <= 50 else 'MISSED'}, "
        f"<= 1 request {'met' if max(streamed_requests) <= 1 else 'MISSED'}"
    )
    load = os.getloadavg()
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(
        json.dumps(
            {
                "tick_ms_median": round(median_ms, 1),
                "requests_per_tick": statistics.median(requests),
                "requests_per_tick_max": max(requests),
                "warmup_requests": first.requests,
                "fetch_ms_median": round(fetch, 1),
                "tick_over_fetch": round(median_ms / fetch, 2),
                "tick_ms_median_streamed": round(streamed, 1),
                "requests_per_tick_streamed": statistics.median(streamed_requests),
                "requests_per_tick_streamed_max": max(streamed_requests),
                "tick_ms_median_rest_paired": round(paired, 1),
                "streamed_over_rest": round(streamed / paired, 2),
                "state_sources_streamed": sorted(sources),
                **moving,
                "load_avg_1m": round(load[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()

"""The simulator's control endpoint (`/_sim/...`): faults, clock and state over HTTP."""

from __future__ import annotations

import httpx

from trading.deribit.client import DeribitClient
from trading.deribit.simulator import ServerThread, SimulatedExchange


def test_faults_set_over_http_fire_and_can_be_cleared(
    loopback: ServerThread, loopback_exchange: SimulatedExchange, loopback_client: DeribitClient
) -> None:
    control = f"http://127.0.0.1:{loopback.port}/_sim"
    rules = httpx.post(
        f"{control}/faults",
        json={"kind": "http_5xx", "status": 503, "count": 1, "methods": ["public/get_time"]},
    ).json()
    assert rules[0]["kind"] == "http_5xx"
    status = httpx.post(f"{loopback.base_url}/public/get_time", json={"method": "public/get_time"})
    assert status.status_code == 503
    httpx.post(f"{control}/faults", json={"kind": "latency", "latency_s": 0.1, "count": None})
    assert httpx.delete(f"{control}/faults").json() == []
    assert loopback_client.get_time() > 0


def test_the_clock_and_state_are_readable_and_movable_over_http(
    loopback: ServerThread, loopback_exchange: SimulatedExchange
) -> None:
    control = f"http://127.0.0.1:{loopback.port}/_sim"
    before = httpx.get(f"{control}/state").json()
    assert set(before["market"]) == {"BTC", "ETH"}
    assert before["accounts"][0]["client_id"] == "optionsdesk-sim"
    moved = httpx.post(f"{control}/clock", json={"advance_s": 120}).json()
    assert moved["now_ms"] >= before["now_ms"] + 120_000
    window = httpx.post(f"{control}/settlement_window", json={"seconds": 0}).json()
    assert window["settlement_until_ms"] == moved["now_ms"]
    assert httpx.post(f"{control}/nonsense", json={}).status_code == 400

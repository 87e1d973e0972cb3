"""The simulator's key scopes: granted as Deribit does, and a read-only key on demand."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.workers import REPO_ROOT, free_port
from trading.deribit.errors import AuthError
from trading.deribit.simulator import AccountConfig, SimConfig, SimulatedExchange
from trading.deribit.simulator.dispatch import handle
from trading.deribit.simulator.exchange import READ_ONLY_KEY_SCOPE


def _auth(ex: SimulatedExchange) -> dict[str, object]:
    params = {
        "grant_type": "client_credentials",
        "client_id": "optionsdesk-sim",
        "client_secret": "optionsdesk-sim-secret",
    }
    result: dict[str, object] = handle(ex, "public/auth", params)
    return result


def test_public_auth_grants_the_keys_scope_like_deribit() -> None:
    scope = str(_auth(SimulatedExchange(SimConfig(seed=1)))["scope"])
    assert scope == "account:read_write trade:read_write wallet:read connection mainaccount"


def test_a_read_only_key_reads_but_its_orders_are_forbidden() -> None:
    config = SimConfig(seed=1, accounts=(AccountConfig(scope=READ_ONLY_KEY_SCOPE),))
    ex = SimulatedExchange(config)
    token = f"Bearer {_auth(ex)['access_token']}"
    assert "trade:read_write" not in str(_auth(ex)["scope"])
    assert handle(ex, "private/get_positions", {"currency": "BTC"}, authorization=token) == []
    with pytest.raises(AuthError) as refused:
        handle(
            ex,
            "private/buy",
            {"instrument_name": "BTC-PERPETUAL", "amount": 10, "type": "market"},
            authorization=token,
        )
    assert refused.value.code == 13021


@pytest.mark.slow
def test_run_exchange_sim_serves_a_read_only_key_with_no_trade_scope() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_exchange_sim", "--port", str(port), "--no-trade-scope"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        url = f"http://127.0.0.1:{port}/api/v2/public/auth"
        params = {
            "grant_type": "client_credentials",
            "client_id": "optionsdesk-sim",
            "client_secret": "optionsdesk-sim-secret",
        }
        reply = None
        for _ in range(100):
            try:
                reply = httpx.get(url, params=params, timeout=2).json()
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert reply is not None
        assert reply["result"]["scope"].startswith(READ_ONLY_KEY_SCOPE)
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=20)
    assert "scope account:read trade:read wallet:read" in output
    assert process.returncode == 0, output

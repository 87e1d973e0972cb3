"""`manage.py run_exchange_sim` serves the simulated exchange until interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.workers import REPO_ROOT, free_port


@pytest.mark.slow
def test_it_prints_its_url_serves_deribit_and_stops_on_sigint() -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "run_exchange_sim",
            "--port",
            str(port),
            "--seed",
            "42",
            "--speed",
            "60",
            "--start",
            "2025-12-10T09:00:00+00:00",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        url = f"http://127.0.0.1:{port}/api/v2"
        assert url in banner
        assert "seed 42" in banner
        reply = None
        for _ in range(100):
            try:
                reply = httpx.get(f"{url}/public/get_time", timeout=2).json()
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert reply is not None
        assert reply["result"] >= 1765357200000
        assert reply["testnet"] is True
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    assert "simulated exchange stopped" in output

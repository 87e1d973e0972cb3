"""Greg's simulator starts on 2025-12-29, where every strategy's DTE window has a listed expiry.

On the agent tests' date (2025-12-10) the Deribit-style listing (dailies, three Fridays, month
ends) has nothing between 16 and 51 days, so only the rules' windows decide: the 30-45 and 20-35
DTE structures are not buildable there (tested in test_dte_windows.py). On 2025-12-29 the
listing holds 11 DTE (the calendar's front), and 32 DTE (30JAN26, every other window).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

GREG_SIM_START = datetime(2025, 12, 29, 9, 0, tzinfo=UTC)


@pytest.fixture
def sim_server() -> Iterator[Any]:
    """A fresh VRP simulator at GREG_SIM_START behind uvicorn on 127.0.0.1."""
    from django.core.cache import cache

    from tests.trading.agent_helpers import make_vrp_exchange
    from trading.deribit.simulator import ServerThread, create_app

    cache.clear()
    server = ServerThread(create_app(make_vrp_exchange(start=GREG_SIM_START)), port=0).start()
    yield server
    server.stop()

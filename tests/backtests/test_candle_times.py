"""Deribit labels chart candles by their open time; closes are read at the end of the hour.

The reference example (../shared/reference/deribit, public/get_tradingview_chart_data: 10:30 to
11:20 at 30 minutes -> ticks 10:30 and 11:00) labels a candle by its open: the candle labelled
09:00 closes at 10:00. The history source therefore stores each close one hour after its
label, and the simulated exchange builds its candles the same way, so the rebuilt index at
each hour is the perpetual's value at that hour, not an hour later.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from backtests.domain.sources.history import (
    CANDLE_CLOSE_MS,
    HOUR_MS,
    DeribitHistorySource,
    fetch_perpetual_candles,
)
from tests.trading.deribit.conftest import SIM_START, make_client, make_exchange
from trading.deribit.client import DeribitClient
from trading.deribit.simulator import SimulatedExchange

START = SIM_START - timedelta(days=3)


@pytest.fixture
def exchange() -> SimulatedExchange:
    return make_exchange()


@pytest.fixture
def client(exchange: SimulatedExchange) -> Iterator[DeribitClient]:
    with make_client(exchange) as c:
        yield c


def _perpetual_by_hour(exchange: SimulatedExchange) -> dict[int, float]:
    history = exchange.market.history("BTC")
    values = history["spot_usd"] * (1 + history["funding_8h"])
    return dict(zip(history["timestamp_ms"].astype(int), values, strict=True))


def test_the_simulator_labels_a_candle_by_its_open_and_closes_it_an_hour_later(
    client: DeribitClient, exchange: SimulatedExchange
) -> None:
    nine = int((SIM_START - timedelta(hours=5)).timestamp() * 1000)
    chart = client.get_tradingview_chart_data("BTC-PERPETUAL", nine, nine, "60")

    assert chart.ticks == [nine]
    assert chart.close[0] == pytest.approx(_perpetual_by_hour(exchange)[nine + HOUR_MS], abs=0.01)


def test_history_closes_are_stored_at_the_end_of_their_hour(
    client: DeribitClient, exchange: SimulatedExchange
) -> None:
    start_ms = int(START.timestamp() * 1000)
    end_ms = int(SIM_START.timestamp() * 1000) - HOUR_MS

    candles = fetch_perpetual_candles(client, "BTC", start_ms, end_ms)

    truth = _perpetual_by_hour(exchange)
    assert CANDLE_CLOSE_MS == HOUR_MS
    assert candles["timestamp_ms"].iloc[0] == start_ms + HOUR_MS
    for ts, close in zip(candles["timestamp_ms"], candles["close"], strict=True):
        assert close == pytest.approx(truth[int(ts)], abs=0.01)


def test_the_rebuilt_index_is_the_perpetual_at_the_same_hour(
    client: DeribitClient, exchange: SimulatedExchange, tmp_path: Path
) -> None:
    source = DeribitHistorySource(client, cache_dir=tmp_path)

    panel = source.load_panel(underlying="BTC", start=START, end=SIM_START - timedelta(hours=1))

    truth = _perpetual_by_hour(exchange)
    expected = np.array([truth[int(t * 1000)] for t in panel.times])
    np.testing.assert_allclose(panel.spot_usd, expected, atol=0.01)

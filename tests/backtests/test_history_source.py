"""The Deribit-history source, through our client, against the simulated exchange."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from backtests.domain.simulator import CoveredCallSimulator
from backtests.domain.sources.base import MarketDataSource
from backtests.domain.sources.history import DeribitHistorySource
from backtests.domain.types import BacktestConfig
from tests.trading.deribit.conftest import SIM_START, make_client, make_exchange
from trading.deribit.client import DeribitClient
from trading.deribit.simulator import SimulatedExchange

START = SIM_START - timedelta(days=10)


@pytest.fixture
def exchange() -> SimulatedExchange:
    return make_exchange()


@pytest.fixture
def client(exchange: SimulatedExchange) -> Iterator[DeribitClient]:
    with make_client(exchange) as c:
        yield c


def test_it_rebuilds_hourly_chains_from_candles_and_dvol(
    client: DeribitClient, exchange: SimulatedExchange, tmp_path: Path
) -> None:
    source = DeribitHistorySource(client, cache_dir=tmp_path)
    assert isinstance(source, MarketDataSource)

    panel = source.load_panel(underlying="BTC", start=START, end=SIM_START)

    history = exchange.market.history("BTC")
    at_start = history[history["timestamp_ms"] == int(START.timestamp() * 1000)].iloc[0]
    assert len(panel.times) == 10 * 24 + 1
    assert panel.times[0] == START.timestamp()
    # The index stand-in is the perpetual's close: spot x (1 + funding), within a few bp.
    assert panel.spot_usd[0] == pytest.approx(at_start["spot_usd"], rel=5e-3)
    assert np.isfinite(panel.rv).all()
    assert panel.provenance.source == "deribit_history"
    assert panel.provenance.details["option_trades"] == 0
    j = panel.row_instrument[panel.rows_at(0)]
    assert (panel.expiry_ts[j] > START.timestamp()).all()


def test_it_caches_every_fetch_to_parquet(client: DeribitClient, tmp_path: Path) -> None:
    first = DeribitHistorySource(client, cache_dir=tmp_path)
    first.load_panel(underlying="BTC", start=START, end=SIM_START)
    requests = client.request_count

    again = DeribitHistorySource(client, cache_dir=tmp_path)
    panel = again.load_panel(underlying="BTC", start=START, end=SIM_START)

    assert first.fetches == 3
    assert again.fetches == 0
    assert client.request_count == requests  # served from the cache, no network
    assert len(list(tmp_path.rglob("*.parquet"))) == 3
    assert panel.n_rows > 0


def test_it_compares_rebuilt_marks_with_real_option_trades(
    client: DeribitClient, tmp_path: Path
) -> None:
    source = DeribitHistorySource(client, cache_dir=None)
    panel = source.load_panel(underlying="BTC", start=START, end=SIM_START)
    last = panel.rows_at(len(panel.times) - 1)
    near = last.start + int(np.argmin(np.abs(panel.delta[last] - 0.25)))
    name = str(panel.instrument_name[panel.row_instrument[near]])
    ticker = client.ticker(name)
    assert ticker.best_bid_price is not None
    client.sell(name, Decimal("0.1"), price=Decimal(repr(ticker.best_bid_price)))

    rebuilt = source.load_panel(underlying="BTC", start=START, end=SIM_START)

    details = rebuilt.provenance.details
    assert details["option_trades"] == 1
    assert details["trades_matched"] == 1
    assert details["median_abs_iv_error_pts"] < 15.0


def test_a_policy_runs_on_rebuilt_history(client: DeribitClient) -> None:
    panel = DeribitHistorySource(client).load_panel(underlying="BTC", start=START, end=SIM_START)
    config = BacktestConfig(strategy=BacktestConfig().strategy.model_copy(update={"ivrv_min": 0}))

    result = CoveredCallSimulator(panel).simulate_policy(config)

    assert result.metrics.num_trades >= 1
    assert "Deribit public history" in result.assumptions["data"]


def test_it_needs_an_explicit_period(client: DeribitClient) -> None:
    with pytest.raises(ValueError, match="explicit start and end"):
        DeribitHistorySource(client).load_panel(underlying="BTC")

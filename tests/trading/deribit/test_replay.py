"""Replay mode: the simulated exchange serves real harvested snapshots, stepping through time."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from tests.trading.deribit.conftest import make_client, make_exchange
from trading.deribit.simulator import SimulatedExchange

BTC_FILES = ("BTC_2025-12-10_0105", "BTC_2025-12-10_0110", "BTC_2025-12-10_0115")
ETH_FILES = ("ETH_2025-12-08_0002",)  # the first schema: no strike, expiry, bid or ask


@pytest.fixture
def replay_dir(shared_dir: Path, tmp_path: Path) -> Path:
    """A small snapshot directory (links to the shared files, nothing copied)."""
    source = shared_dir / "data" / "deribit" / "snapshots"
    for stem in BTC_FILES + ETH_FILES:
        currency, day, _ = stem.split("_")
        target = tmp_path / currency / day / f"{stem}.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(source / currency / day / f"{stem}.parquet")
    return tmp_path


@pytest.fixture
def replay(replay_dir: Path) -> SimulatedExchange:
    """An exchange replaying the snapshots from the first file's time."""
    exchange = make_exchange(replay_dir=replay_dir)
    exchange.clock.set_ms(int(datetime(2025, 12, 10, 1, 5, tzinfo=UTC).timestamp() * 1000))
    return exchange


def test_it_serves_the_snapshot_quotes_as_the_book_summary(
    replay: SimulatedExchange, replay_dir: Path
) -> None:
    with make_client(replay) as client:
        rows = {r.instrument_name: r for r in client.get_book_summary_by_currency("BTC")}
    real = pd.read_parquet(next((replay_dir / "BTC").glob("*/BTC_2025-12-10_0105.parquet")))
    real = real[real["expiry_timestamp"] * 1000 > replay.now_ms()]
    assert set(real["instrument_name"]) == set(rows)
    for snap in real.head(50).itertuples():
        row = rows[snap.instrument_name]
        assert row.mark_price == pytest.approx(snap.mark_price)
        assert row.mark_iv == pytest.approx(snap.mark_iv)
        if not math.isnan(snap.best_bid_price) and snap.best_bid_price > 0:
            assert row.bid_price == pytest.approx(snap.best_bid_price)


def test_it_steps_to_the_next_snapshot_as_time_passes(replay: SimulatedExchange) -> None:
    with make_client(replay) as client:
        name = client.get_book_summary_by_currency("BTC")[0].instrument_name
        first = client.ticker(name).mark_price
        replay.clock.advance(10 * 60)
        second = client.ticker(name).mark_price
    assert first != second
    assert replay.market.quotes("BTC").timestamp_ms > replay.market.start_ms


def test_it_quotes_the_old_schema_from_the_name_and_the_spread_model(
    replay: SimulatedExchange,
) -> None:
    with make_client(replay) as client:
        rows = client.get_book_summary_by_currency("ETH")
        instruments = client.get_instruments("ETH")
    assert len(rows) > 500
    assert len(instruments) == len(rows)
    quoted = [r for r in rows if r.bid_price is not None and r.ask_price is not None]
    assert len(quoted) > len(rows) / 2
    assert all(r.bid_price <= r.mark_price <= r.ask_price for r in quoted)  # type: ignore[operator]


def test_it_trades_against_replayed_quotes(replay: SimulatedExchange) -> None:
    with make_client(replay) as client:
        row = next(
            r
            for r in client.get_book_summary_by_currency("BTC")
            if r.bid_price and r.instrument_name.endswith("-C") and r.bid_price > 0.01
        )
        result = client.sell(
            row.instrument_name, Decimal("0.1"), price=Decimal(repr(row.bid_price))
        )
        assert result.trades[0].price == Decimal(repr(row.bid_price))
        assert client.get_positions("BTC")[0].size == Decimal("-0.1")

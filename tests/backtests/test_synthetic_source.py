"""The synthetic market-data source: seeded, consistent with the market model, complete paths."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from backtests.domain.sources.base import MarketDataSource, iter_snapshots
from backtests.domain.sources.synthetic import SyntheticSource
from trading.domain import black76
from trading.domain.chain import CHAIN_COLUMNS, normalize_chain
from trading.domain.market_model import MarketModel, MarketModelParams

START = datetime(2025, 3, 3, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def panel():
    return SyntheticSource(seed=11, start=START, days=20).load_panel(underlying="BTC")


def test_it_is_a_market_data_source() -> None:
    assert isinstance(SyntheticSource(), MarketDataSource)


def test_it_gives_identical_data_for_the_same_seed_and_different_data_otherwise(panel) -> None:
    again = SyntheticSource(seed=11, start=START, days=20).load_panel(underlying="BTC")
    other = SyntheticSource(seed=12, start=START, days=20).load_panel(underlying="BTC")

    np.testing.assert_array_equal(panel.spot_usd, again.spot_usd)
    np.testing.assert_array_equal(panel.mark_coin, again.mark_coin)
    assert list(panel.instrument_name) == list(again.instrument_name)
    assert not np.allclose(panel.spot_usd, other.spot_usd)


def test_it_follows_the_market_models_own_spot_path(panel) -> None:
    params = MarketModelParams()
    params = params.model_copy(
        update={"currencies": {"BTC": params.currencies["BTC"]}, "step_seconds": 3600}
    )
    model = MarketModel(params, seed=11, start=START)
    model.advance_to(int(panel.times[48] * 1000))

    assert model.spot("BTC") == pytest.approx(panel.spot_usd[48])
    assert len(panel.times) == 20 * 24 + 1
    assert np.all(np.diff(panel.times) == 3600)


def test_it_prices_marks_with_black76_on_the_forward(panel) -> None:
    rows = np.arange(0, panel.n_rows, 97)
    j = panel.row_instrument[rows]
    t_years = panel.dte_days[rows] / 365
    usd = black76.price(panel.forward_usd[rows], panel.strike[j], t_years, panel.iv[rows], True)

    np.testing.assert_allclose(panel.mark_coin[rows], usd / panel.forward_usd[rows], rtol=1e-9)
    bid, ask, mark = panel.bid_coin[rows], panel.ask_coin[rows], panel.mark_coin[rows]
    quoted = np.isfinite(bid)
    assert np.all(bid[quoted] <= mark[quoted] + 1e-12)
    assert np.all(ask >= mark - 1e-12)
    assert np.all((panel.delta >= 0) & (panel.delta <= 1))


def test_it_keeps_every_listed_call_until_expiry(panel) -> None:
    for instrument in range(0, len(panel.instrument_name), 7):
        rows = panel.path_order[panel.path_start[instrument] : panel.path_start[instrument + 1]]
        if len(rows) == 0:
            continue
        hours = panel.row_time[rows]
        assert np.all(np.diff(hours) == 1), panel.instrument_name[instrument]
        expiry_index = np.searchsorted(panel.times, panel.expiry_ts[instrument])
        if expiry_index < len(panel.times):
            assert hours[-1] == expiry_index - 1


def test_it_settles_at_the_index_at_eight_utc(panel) -> None:
    settled = np.flatnonzero(np.isfinite(panel.settlement_usd))
    assert len(settled) > 0
    for instrument in settled[:20]:
        at = np.searchsorted(panel.times, panel.expiry_ts[instrument])
        assert panel.settlement_usd[instrument] == pytest.approx(panel.spot_usd[at])
        assert datetime.fromtimestamp(panel.expiry_ts[instrument], tz=UTC).hour == 8


def test_it_yields_chain_snapshots_at_decision_times(panel) -> None:
    snapshots = list(iter_snapshots(panel, interval_hours=24))

    assert len(snapshots) == 21
    first = snapshots[0]
    assert first.time == START
    assert list(first.chain.columns[: len(CHAIN_COLUMNS)]) == list(CHAIN_COLUMNS)
    assert {"index_price", "delta", "dte_days", "iv"} <= set(first.chain.columns)
    assert (first.chain["expiry_timestamp"] > first.time.timestamp()).all()
    assert (first.chain["harvest_time"] == first.time).all()
    assert first.chain["dte_days"].max() <= 35


def test_it_yields_chains_the_project_normaliser_accepts(panel) -> None:
    chain = next(iter_snapshots(panel)).chain

    normalized = normalize_chain(chain)

    assert len(normalized) == len(chain)
    np.testing.assert_allclose(normalized["strike"], chain["strike"])


def test_it_uses_names_the_market_model_would_give(panel) -> None:
    name = str(panel.instrument_name[0])
    assert name.startswith("BTC-")
    assert name.endswith("-C")
    assert all(str(n).count("-") == 3 for n in panel.instrument_name[:50])


def test_it_refuses_an_unknown_currency() -> None:
    with pytest.raises(ValueError, match="no parameters"):
        SyntheticSource(days=2).load_panel(underlying="SOL")

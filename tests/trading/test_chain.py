"""Chain snapshot normalisation (both harvest schemas) and Black-76 enrichment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.builders import EXPIRY_TS, HARVEST, old_schema_chain
from trading.domain import black76
from trading.domain.black76 import IVReason
from trading.domain.chain import (
    CHAIN_COLUMNS,
    ENRICHED_COLUMNS,
    ChainSchemaError,
    SnapshotReadError,
    enrich_chain,
    enrich_snapshot_file,
    mark_iv_agreement,
    normalize_chain,
    otm_mask,
    read_snapshot,
)


def test_it_parses_strike_expiry_and_type_from_names_in_the_old_schema() -> None:
    chain = normalize_chain(old_schema_chain())
    assert tuple(chain.columns) == CHAIN_COLUMNS
    first = chain.iloc[0]
    assert first["underlying"] == "BTC"
    assert first["expiry"] == "2026-03-27"
    assert first["expiry_timestamp"] == EXPIRY_TS
    assert first["option_type"] == "C"
    assert first["strike"] == 60_000.0
    assert chain["best_bid_price"].isna().all()
    assert str(chain["harvest_time"].dtype) == "datetime64[us, UTC]"


def test_parsed_names_agree_with_parse_instrument_on_a_whole_synthetic_chain() -> None:
    from datetime import UTC, datetime

    from trading.domain.instruments import parse_instrument
    from trading.domain.market_model import MarketModel

    model = MarketModel(seed=3, start=datetime(2025, 12, 10, 9, tzinfo=UTC))
    names = [*model.chain("ETH")["instrument_name"], "BTC_USDC-5DEC25-2d5-P"]
    frame = pd.DataFrame({"harvest_time": HARVEST, "instrument_name": names})
    frame = frame.assign(mark_price=0.01, underlying_price=3_000.0)
    chain = normalize_chain(frame)
    for row in chain.itertuples():
        parsed = parse_instrument(row.instrument_name)
        assert parsed.expiry is not None
        assert parsed.strike is not None
        assert row.underlying == parsed.currency
        assert row.expiry == f"{parsed.expiry:%Y-%m-%d}"
        assert row.expiry_timestamp == parsed.expiry.timestamp()
        assert row.option_type == parsed.option_type
        assert row.strike == float(parsed.strike)


def test_it_keeps_new_schema_columns_and_optionally_the_extras() -> None:
    old = normalize_chain(old_schema_chain())
    new = old.assign(greek_delta=np.nan, bid_iv=np.nan)
    again = normalize_chain(new)
    pd.testing.assert_frame_equal(again, old)
    with_extra = normalize_chain(new, keep_extra=True)
    assert list(with_extra.columns[-2:]) == ["greek_delta", "bid_iv"]


def test_it_names_the_missing_columns() -> None:
    broken = old_schema_chain().drop(columns=["mark_price", "harvest_time"])
    with pytest.raises(ChainSchemaError) as excinfo:
        normalize_chain(broken)
    assert set(excinfo.value.missing) == {"mark_price", "harvest_time"}
    assert "mark_price" in str(excinfo.value)


def test_it_rejects_rows_that_are_not_options() -> None:
    bad = old_schema_chain()
    bad.loc[0, "instrument_name"] = "BTC-PERPETUAL"
    with pytest.raises(ChainSchemaError, match="not option names"):
        normalize_chain(bad)
    with pytest.raises(TypeError):
        normalize_chain([1, 2, 3])


def test_enrichment_recovers_the_vol_that_priced_the_chain() -> None:
    enriched = enrich_chain(old_schema_chain(vol=0.55))
    assert tuple(enriched.columns) == CHAIN_COLUMNS + ENRICHED_COLUMNS
    np.testing.assert_allclose(enriched["iv"], 0.55, atol=1e-9)
    assert (enriched["iv_reason"] == IVReason.OK).all()
    expected = black76.greeks(92_000.0, enriched["strike"], enriched["t_years"], 0.55,
                              enriched["option_type"] == "C")  # fmt: skip
    np.testing.assert_allclose(enriched["vega"], expected.vega, rtol=1e-7)
    assert enrich_chain(enriched).shape == enriched.shape  # re-enriching replaces, not appends


def test_enrichment_flags_unusable_marks_instead_of_failing() -> None:
    chain = normalize_chain(old_schema_chain())
    chain.loc[0, "mark_price"] = 0.0  # deep ITM call marked at zero
    chain.loc[1, "mark_price"] = np.nan
    enriched = enrich_chain(chain)
    assert enriched.loc[0, "iv_reason"] == IVReason.BELOW_INTRINSIC
    assert enriched.loc[1, "iv_reason"] == IVReason.INVALID_INPUT
    assert np.isnan(enriched.loc[[0, 1], ["iv", "delta", "gamma", "vega", "theta"]]).all().all()


def test_agreement_with_mark_iv_uses_otm_options_above_the_price_floor() -> None:
    enriched = enrich_chain(old_schema_chain(vol=0.5))
    otm = otm_mask(enriched)
    assert otm.sum() == 4  # 60k/80k puts, 100k/140k calls; 92k is at the money
    agreement = mark_iv_agreement(enriched)
    assert agreement.median_abs_diff_vol_pts < 1e-6
    assert agreement.compared == int((otm & (enriched["mark_price"] >= 0.001).to_numpy()).sum())


def test_snapshot_files_round_trip_and_bad_files_raise(tmp_path: Path) -> None:
    source = tmp_path / "in.parquet"
    old_schema_chain().to_parquet(source)
    assert tuple(read_snapshot(source).columns) == CHAIN_COLUMNS
    summary = enrich_snapshot_file(source, tmp_path / "out.parquet")
    assert summary["rows"] == 10
    assert summary["iv_found"] == 10
    assert summary["median_abs_diff_vol_pts"] < 1e-6
    written = pd.read_parquet(tmp_path / "out.parquet")
    assert set(ENRICHED_COLUMNS) <= set(written.columns)
    not_parquet = tmp_path / "notes.txt"
    not_parquet.write_text("hello")
    with pytest.raises(SnapshotReadError):
        read_snapshot(not_parquet)
    with pytest.raises(SnapshotReadError):
        read_snapshot(tmp_path / "missing.parquet")


def test_it_explains_unusable_timestamps_dates_and_types(tmp_path: Path) -> None:
    garbage_time = old_schema_chain().assign(harvest_time="not a time")
    with pytest.raises(ChainSchemaError, match="harvest_time"):
        normalize_chain(garbage_time)
    bad_date = old_schema_chain()
    bad_date.loc[0, "instrument_name"] = "BTC-31FEB26-60000-C"
    with pytest.raises(ChainSchemaError, match="expiry date"):
        normalize_chain(bad_date)
    bad_month = old_schema_chain()
    bad_month.loc[0, "instrument_name"] = "BTC-27XYZ26-60000-C"
    with pytest.raises(ChainSchemaError, match="month"):
        normalize_chain(bad_month)
    bad_type = normalize_chain(old_schema_chain())
    bad_type.loc[0, "option_type"] = "X"
    with pytest.raises(ChainSchemaError, match="option_type"):
        normalize_chain(bad_type)
    old_schema_chain().to_parquet(tmp_path / "in.parquet")
    with pytest.raises(SnapshotReadError, match="folder"):
        enrich_snapshot_file(tmp_path / "in.parquet", tmp_path / "nowhere" / "out.parquet")


def test_agreement_is_empty_when_nothing_qualifies() -> None:
    enriched = enrich_chain(old_schema_chain())
    agreement = mark_iv_agreement(enriched, min_mark_price_coin=10.0)
    assert agreement.compared == 0
    assert np.isnan(agreement.median_abs_diff_vol_pts)


def test_chain_from_quotes_equals_normalize_chain_of_the_same_rows() -> None:
    """The tick's one-step builder gives exactly what `normalize_chain` gives: values, dtypes,
    column order; None quotes and missing optional columns are NaN in both."""
    from datetime import UTC, datetime

    from trading.domain.chain import chain_from_quotes
    from trading.domain.market_model import MarketModel

    model = MarketModel(seed=3, start=datetime(2025, 12, 10, 9, tzinfo=UTC))
    source = model.chain("BTC").head(120)
    names = [*source["instrument_name"], "BTC_USDC-5DEC25-2d5-P"]
    bids: list[float | None] = [*source["best_bid_price"].astype(float)]
    bids[::7] = [None] * len(bids[::7])  # books without a bid
    quotes: dict[str, list[float | None]] = {
        "underlying_price": [*source["underlying_price"].astype(float), 2.5],
        "mark_price": [*source["mark_price"].astype(float), 0.1],
        "best_bid_price": [*bids, None],
        "mark_iv": [*source["mark_iv"].astype(float), 80.0],
        "open_interest": [*source["open_interest"].astype(float), 0.0],
    }
    now = datetime(2025, 12, 10, 9, 30, 15, 123456, tzinfo=UTC)
    built = chain_from_quotes(now, names, quotes)
    records = pd.DataFrame({"harvest_time": now, "instrument_name": names, **quotes})
    pd.testing.assert_frame_equal(built, normalize_chain(records))
    no_bid = sum(1 for b in bids if b is None or b != b) + 1
    assert built["best_bid_price"].isna().sum() == no_bid > len(bids[::7])
    assert built["best_ask_price"].isna().all()
    assert built["volume"].isna().all()
    with pytest.raises(ChainSchemaError, match="not option names"):
        chain_from_quotes(now, [*names, "BTC-PERPETUAL"], {k: [*v, 1.0] for k, v in quotes.items()})

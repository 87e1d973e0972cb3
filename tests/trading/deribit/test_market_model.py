"""The synthetic market model: deterministic, Deribit-shaped, and close to the real data."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trading.domain import black76
from trading.domain.chain import CHAIN_COLUMNS, normalize_chain
from trading.domain.instruments import listed_expiries
from trading.domain.market_model import (
    MODEL_CHAIN_COLUMNS,
    CurrencyModelParams,
    MarketModel,
    MarketModelParams,
    default_currency_params,
    fit_iv_ar1,
    nice_step,
)

START = datetime(2025, 12, 10, 9, 0, tzinfo=UTC)


def test_it_is_deterministic_for_a_seed() -> None:
    a, b, c = (
        MarketModel(seed=7, start=START),
        MarketModel(seed=7, start=START),
        MarketModel(seed=8, start=START),
    )
    for model in (a, b, c):
        model.step(3600)
        model.step(600)
    pd.testing.assert_frame_equal(a.chain("BTC"), b.chain("BTC"))
    assert a.spot("ETH") == b.spot("ETH")
    assert a.spot("BTC") != c.spot("BTC")


def test_its_grid_path_does_not_depend_on_how_often_it_is_read() -> None:
    once, often = MarketModel(seed=3, start=START), MarketModel(seed=3, start=START)
    target = once.now_ms + 6 * 3_600_000
    once.advance_to(target)
    for k in range(1, 61):
        often.advance_to(often.now_ms + 360_000 * k // k + 17)  # odd, uneven reads
    often.advance_to(target)
    assert once.now_ms == often.now_ms == target
    assert once.spot("BTC") == often.spot("BTC")
    assert once.atm_iv("ETH") == often.atm_iv("ETH")


def test_it_lists_deribit_like_expiries_at_0800_utc() -> None:
    expiries = listed_expiries(START)
    assert all(e.hour == 8 and e.minute == 0 for e in expiries)
    days = [e.date().isoformat() for e in expiries]
    assert days[:4] == ["2025-12-11", "2025-12-12", "2025-12-13", "2025-12-14"]  # dailies
    assert "2025-12-19" in days
    assert "2025-12-26" in days
    assert {"2026-01-30", "2026-02-27", "2026-03-27", "2026-06-26", "2026-09-25"} <= set(days)


def test_its_chain_has_the_snapshot_shape_and_a_realistic_size() -> None:
    model = MarketModel(seed=42, start=START)
    btc = model.chain("BTC")
    assert tuple(btc.columns) == MODEL_CHAIN_COLUMNS
    assert tuple(btc.columns[: len(CHAIN_COLUMNS)]) == CHAIN_COLUMNS
    pd.testing.assert_frame_equal(normalize_chain(btc, keep_extra=True), btc)
    assert 450 <= len(btc) <= 900  # real BTC chains: ~690-720 instruments
    assert btc["instrument_name"].is_unique
    assert (btc["mark_price"] >= 0).all()
    quoted = btc.dropna(subset=["best_bid_price"])
    assert (quoted["best_bid_price"] <= quoted["mark_price"]).all()
    assert (btc["best_ask_price"] >= btc["mark_price"]).all()
    fine = btc["best_ask_price"] < 0.005
    for prices, tick in (
        (btc.loc[fine, "best_ask_price"], 0.0001),
        (btc.loc[~fine, "best_ask_price"], 0.0005),
    ):
        steps = prices.to_numpy() / tick
        assert np.all(np.abs(steps - np.round(steps)) < 1e-6)
    strikes = btc.groupby("expiry")["strike"].apply(lambda s: np.diff(np.unique(s)).min())
    assert all(nice_step(step) == step for step in strikes)


def test_its_marks_invert_to_their_published_iv() -> None:
    model = MarketModel(seed=42, start=START)
    chain = model.chain("BTC")
    calls = chain["option_type"] == "C"
    otm = (calls & (chain["strike"] > chain["underlying_price"])) | (
        ~calls & (chain["strike"] < chain["underlying_price"])
    )
    chain = chain[otm & (chain["mark_price"] >= 0.0005)]  # the README's own check
    t_years = (chain["expiry_timestamp"] - START.timestamp()) / (365 * 86400)
    iv = black76.implied_vol(
        chain["mark_price"] * chain["underlying_price"],
        chain["underlying_price"],
        chain["strike"],
        t_years,
        chain["option_type"] == "C",
    ).iv
    assert np.nanmax(np.abs(iv * 100 - chain["mark_iv"])) < 0.006  # mark_iv has 2 decimals


def test_its_smile_has_put_skew_wings_and_a_term_structure() -> None:
    cp = default_currency_params()["BTC"]
    model = MarketModel(seed=42, start=START)
    forward = np.array([100_000.0] * 3)
    t = np.array([30 / 365] * 3)
    iv = model.implied_vol("BTC", np.array([80_000.0, 100_000.0, 125_000.0]), t, forward)
    assert iv[0] > iv[1]
    assert iv[2] > iv[1]
    assert iv[0] > iv[2]  # skew: puts over calls at similar distance
    short, long = model.implied_vol(
        "BTC", np.array([1e5, 1e5]), np.array([7 / 365, 1.0]), forward[:2]
    )
    assert (long > short) == (cp.term_exponent > 0)


def test_its_spreads_widen_in_the_wings_and_near_expiry() -> None:
    model = MarketModel(seed=42, start=START)
    chain = model.chain("BTC").dropna(subset=["bid_iv", "ask_iv"])
    chain = chain.assign(
        spread_pts=chain["ask_iv"] - chain["bid_iv"],
        z=np.abs(np.log(chain["strike"] / chain["underlying_price"])),
        dte=(chain["expiry_timestamp"] - START.timestamp()) / 86400,
    )
    near_money = chain[chain["z"] < 0.05]
    assert (
        near_money[near_money["dte"] < 2]["spread_pts"].median()
        > near_money[near_money["dte"] > 60]["spread_pts"].median()
    )
    month = chain[(chain["dte"] > 10) & (chain["dte"] < 40)]
    assert (
        month[month["z"] > 0.2]["spread_pts"].median()
        > month[month["z"] < 0.05]["spread_pts"].median()
    )


def test_its_realized_vol_follows_the_implied_vol_it_was_fitted_with() -> None:
    params = MarketModelParams(history_days=0)
    model = MarketModel(params, seed=11, start=START)
    spots = []
    for _ in range(24 * 120):
        model.step(3600)
        spots.append(model.spot("BTC"))
    realized = np.std(np.diff(np.log(spots))) * math.sqrt(365 * 24)
    cp = params.currencies["BTC"]
    assert realized == pytest.approx(cp.realized_to_implied * cp.atm_iv_mean, rel=0.2)


def test_its_history_ends_at_the_starting_market() -> None:
    model = MarketModel(seed=5, start=START)
    history = model.history("BTC")
    assert len(history) == 35 * 24
    assert history["spot_usd"].iloc[-1] == pytest.approx(model.spot("BTC"))
    assert history["timestamp_ms"].iloc[-1] == int(START.timestamp() * 1000)


def test_it_rejects_a_grid_that_misses_the_hour() -> None:
    with pytest.raises(ValueError, match="divide 3600"):
        MarketModelParams(step_seconds=7 * 60)
    with pytest.raises(ValueError, match="below"):
        CurrencyModelParams(**{**default_currency_params()["BTC"].model_dump(), "atm_iv_min": 3.0})


def test_its_iv_defaults_match_the_shared_iv_history(shared_dir: Path) -> None:
    for currency in ("btc", "eth"):
        path = (
            shared_dir
            / "data/deribit/volatility_history"
            / f"{currency}_volatility_history.parquet"
        )
        history = pd.read_parquet(path).sort_values("timestamp")
        mu, phi, sigma = fit_iv_ar1(history["iv_30d"].to_numpy() / 100)
        cp = default_currency_params()[currency.upper()]
        assert mu == pytest.approx(cp.atm_iv_mean, abs=0.005)
        assert phi == pytest.approx(cp.atm_iv_phi_hourly, abs=0.0005)
        assert sigma == pytest.approx(cp.atm_iv_vol_hourly, rel=0.05)


def test_its_chain_looks_like_a_real_snapshot(shared_dir: Path) -> None:
    real = pd.read_parquet(
        shared_dir / "data/deribit/snapshots/BTC/2025-12-10/BTC_2025-12-10_0105.parquet"
    )
    synthetic = MarketModel(seed=42, start=START).chain("BTC")
    assert set(real.columns) <= set(synthetic.columns)
    for column in ("mark_iv", "open_interest"):
        ratio = synthetic[column].median() / real[column].median()
        assert 0.5 < ratio < 2.0, column
    real_spread = (real["best_ask_price"] - real["best_bid_price"]).median()
    synthetic_spread = (synthetic["best_ask_price"] - synthetic["best_bid_price"]).median()
    assert 0.33 < synthetic_spread / real_spread < 3.0

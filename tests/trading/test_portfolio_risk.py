"""Portfolio greeks and the scenario grid (trading.domain.portfolio), checked by hand."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from trading.domain.black76 import greeks as black76_greeks
from trading.domain.portfolio import (
    Book,
    BookOption,
    BookPerpetual,
    ScenarioSpec,
    portfolio_greeks,
    scenario_grid,
)

NOW = datetime(2026, 12, 5, 8, tzinfo=UTC)
INDEX = 90_000.0


def _hand_call(forward: float, strike: float, days: float, sigma: float) -> float:
    """Black-76 call in USD from the textbook formula (math.erf), independent of the module."""
    if days <= 0:
        return max(forward - strike, 0.0)
    t = days / 365.0
    s = sigma * math.sqrt(t)
    d1 = math.log(forward / strike) / s + s / 2
    d2 = d1 - s

    def cdf(x: float) -> float:
        return 0.5 * (1 + math.erf(x / math.sqrt(2)))

    return forward * cdf(d1) - strike * cdf(d2)


def _call(strike: float, dte: float, size: float, *, iv: float = 0.5, name: str = "") -> BookOption:
    return BookOption(
        instrument_name=name or f"BTC-{int(strike)}-{dte}-C",
        underlying="BTC",
        expiry=NOW + timedelta(days=dte),
        strike_usd=strike,
        is_call=True,
        size=size,
        iv=iv,
        forward_usd=INDEX,
    )


def _book(*options: BookOption, coins: float = 1.0) -> Book:
    return Book(
        now=NOW,
        index_usd={"BTC": INDEX},
        coins={"BTC": coins},
        options=options,
        equity_usd=coins * INDEX,
    )


def test_covered_call_grid_matches_a_hand_computation_at_three_cells() -> None:
    book = _book(_call(100_000, 7, -1.0))
    grid = scenario_grid(book)
    premium_now = _hand_call(INDEX, 100_000, 7, 0.5)
    for spot, vol, days in ((-0.2, 0.0, 0.0), (0.2, 1.0, 1.0), (0.0, -0.5, 7.0)):
        call_after = _hand_call(INDEX * (1 + spot), 100_000, 7 - days, 0.5 * (1 + vol))
        expected = INDEX * spot - (call_after - premium_now)
        assert grid.cell(spot, vol, days) == pytest.approx(expected, abs=1e-6)


def test_grid_centre_is_zero_and_coin_pnl_of_coins_alone_is_zero() -> None:
    grid = scenario_grid(_book())
    assert grid.cell(0.0, 0.0, 0.0) == 0.0
    assert np.allclose(grid.pnl_coin["BTC"], 0.0)
    assert grid.cell(-0.4, 0.0) == pytest.approx(-0.4 * INDEX)


def test_coins_plus_a_short_call_lose_less_than_coins_alone_in_every_down_spot_cell() -> None:
    # A production-shaped covered call: 7 days, strike ~5.5% out of the money (~0.3 delta).
    covered = scenario_grid(_book(_call(95_000, 7, -1.0)))
    coins = scenario_grid(_book())
    down = covered.spot_moves < 0
    assert down.sum() == 4
    assert (covered.pnl_usd[:, down, :] > coins.pnl_usd[:, down, :]).all()
    assert covered.worst.pnl_usd > coins.worst.pnl_usd


def test_far_otm_short_call_can_lose_more_than_its_premium_when_vol_doubles_on_a_small_drop() -> (
    None
):
    # The limit of the claim above, kept visible: at -10% spot with vol x2 a far call gains value.
    covered = scenario_grid(_book(_call(110_000, 7, -1.0)))
    coins = scenario_grid(_book())
    assert covered.cell(-0.1, 1.0) < coins.cell(-0.1, 1.0)
    assert covered.cell(-0.1, 0.0) > coins.cell(-0.1, 0.0)


def test_worst_cell_of_a_short_straddle_is_named_with_its_spot_vol_and_time() -> None:
    put = BookOption("BTC-P", "BTC", NOW + timedelta(days=7), 90_000, False, -1.0, 0.5, INDEX)
    straddle = (_call(90_000, 7, -1.0), put)
    book = Book(now=NOW, index_usd={"BTC": INDEX}, options=straddle, equity_usd=INDEX)
    grid = scenario_grid(book)
    assert abs(grid.worst.spot_move) == pytest.approx(0.4)
    assert grid.worst.vol_move == pytest.approx(1.0)
    assert grid.worst.days == 0.0
    assert "spot " in grid.worst.describe()
    assert "vol +100%" in grid.worst.describe()
    assert grid.worst.loss_pct_of_equity is not None
    assert grid.worst.loss_pct_of_equity > 30


def test_margin_estimate_uses_deribits_standard_formula_per_cell() -> None:
    grid = scenario_grid(_book(_call(100_000, 7, -1.0)))
    mark = _hand_call(INDEX, 100_000, 7, 0.5) / INDEX
    otm = (100_000 - INDEX) / INDEX
    expected = (max(0.15 - otm, 0.10) + mark) * INDEX
    assert grid.margin_usd[0, 4, 2] == pytest.approx(expected)


def test_perpetual_moves_with_spot_in_usd_and_counts_in_delta() -> None:
    book = Book(
        now=NOW,
        index_usd={"BTC": INDEX},
        perpetuals=(BookPerpetual("BTC", -45_000.0),),
    )
    assert scenario_grid(book).cell(0.2, 0.0) == pytest.approx(-9_000.0)
    assert portfolio_greeks(book).row("underlying", "BTC").delta_coin == pytest.approx(-0.5)  # type: ignore[union-attr]


def test_portfolio_greeks_sum_positions_by_underlying_expiry_and_strategy() -> None:
    call = _call(100_000, 7, -2.0)
    eth = BookOption(
        "ETH-C", "ETH", NOW + timedelta(days=14), 3_500, True, -10.0, 0.6, 3_000.0, "greg"
    )
    book = Book(
        now=NOW,
        index_usd={"BTC": INDEX, "ETH": 3_000.0},
        coins={"BTC": 2.0, "ETH": 10.0},
        options=(call, eth),
    )
    result = portfolio_greeks(book)
    g = black76_greeks(INDEX, 100_000, 7 / 365, 0.5, True)
    btc = result.row("underlying", "BTC")
    assert btc is not None
    assert btc.delta_coin == pytest.approx(2.0 - 2.0 * float(g.delta))
    assert btc.delta_usd == pytest.approx((btc.delta_coin or 0.0) * INDEX)
    assert btc.vega_usd == pytest.approx(-2.0 * float(g.vega))
    assert btc.theta_coin == pytest.approx(-2.0 * float(g.theta) / INDEX)
    assert btc.gamma_usd == pytest.approx(-2.0 * float(g.gamma) * INDEX**2 / 100)
    assert result.row("expiry", "BTC 2026-12-12") is not None
    assert result.row("strategy", "ETH greg") is not None
    assert result.row("strategy", "BTC coins").delta_coin == 2.0  # type: ignore[union-attr]
    total = result.total
    assert total.delta_coin is None
    assert total.vega_usd == pytest.approx(sum(r.vega_usd for r in result.group("underlying")))


def test_scenario_spec_refuses_moves_at_or_below_minus_100_percent() -> None:
    with pytest.raises(ValueError, match="above -100%"):
        ScenarioSpec(spot_moves=(-1.0, 0.0))

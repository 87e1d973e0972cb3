"""Deribit fees and fill prices."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading.domain.fees import (
    FeeSchedule,
    crossing_price,
    delivery_fee_coin,
    fill_price,
    fill_price_array,
    linear_option_fee_usd,
    mid_price,
    option_fee_coin,
    option_fee_coin_array,
    perpetual_fee_coin,
    perpetual_fee_usd,
    with_slippage,
)
from trading.domain.instruments import default_spec, is_on_tick

D = Decimal


def test_it_charges_the_documented_example_fee() -> None:
    # Deribit reference: selling 0.3 BTC of a call at 0.0395 costs 0.00009 BTC
    assert option_fee_coin(D("0.3"), D("0.0395")) == D("0.00009")
    assert option_fee_coin(D("-0.3"), D("0.0395")) == D("0.00009")


def test_it_caps_option_fees_at_an_eighth_of_the_premium() -> None:
    assert option_fee_coin(D(1), D("0.0008")) == D("0.0001")  # 12.5% of 0.0008
    cheaper = FeeSchedule(option_rate=D("0.0001"))
    assert option_fee_coin(D(2), D("0.05"), cheaper) == D("0.0002")
    with pytest.raises(ValueError):
        option_fee_coin(D(1), D("-0.1"))


def test_delivery_fees_apply_only_to_options_expiring_in_the_money() -> None:
    assert delivery_fee_coin(D(2), D(0)) == D(0)
    assert delivery_fee_coin(D(2), D("0.05")) == D("0.00030")
    assert delivery_fee_coin(D(1), D("0.0008")) == D("0.0001")


def test_linear_and_perpetual_fees() -> None:
    maker = linear_option_fee_usd(D(1), D(2000), D(100000), maker=True)
    taker = linear_option_fee_usd(D(1), D(2000), D(100000), maker=False)
    assert (maker, taker) == (D(10), D(50))
    assert linear_option_fee_usd(D(1), D(100), D(100000), maker=False) == D("12.5")
    assert perpetual_fee_usd(D(-10000), maker=False) == D(5)
    assert perpetual_fee_usd(D(10000), maker=True) == D(0)
    assert perpetual_fee_coin(D(10000), D(100000), maker=False) == D("0.00005")


def test_fill_prices_by_style() -> None:
    bid, ask = D("0.0395"), D("0.041")
    assert mid_price(bid, ask) == D("0.04025")
    assert mid_price(None, ask) is None
    assert crossing_price("buy", bid, ask) == ask
    assert crossing_price("sell", bid, ask) == bid
    assert fill_price("sell", bid, ask, style="cross_haircut", haircut=D("0.01")) == D("0.039105")
    assert with_slippage(D(1), "buy", D("0.02")) == D("1.02")
    with pytest.raises(ValueError, match="bid"):
        fill_price("sell", None, ask)
    with pytest.raises(ValueError):
        with_slippage(D(1), "buy", D("1.5"))


@settings(max_examples=200, deadline=None)
@given(
    st.decimals(min_value=D("0.0001"), max_value=D("0.5"), places=4),
    st.decimals(min_value=D("0"), max_value=D("0.05"), places=4),
    st.sampled_from(["buy", "sell"]),
    st.sampled_from(["mid", "cross", "mid_haircut", "cross_haircut"]),
    st.decimals(min_value=D("0"), max_value=D("0.2"), places=3),
)
def test_simulated_fills_on_the_grid_are_never_better_than_the_quote(
    bid: Decimal, width: Decimal, side: str, style: str, haircut: Decimal
) -> None:
    spec = default_spec("BTC-27DEC24-100000-C")
    ask = bid + width
    raw = fill_price(side, bid, ask, style=style, haircut=haircut)  # type: ignore[arg-type]
    on_grid = fill_price(side, bid, ask, style=style, haircut=haircut, spec=spec)  # type: ignore[arg-type]
    assert is_on_tick(on_grid, spec)
    if side == "buy":
        assert on_grid >= raw
    else:
        assert on_grid <= raw or on_grid == spec.tick_size


def test_array_twins_match_the_decimal_functions() -> None:
    fees = option_fee_coin_array([0.3, -1.0], [0.0395, 0.0008])
    np.testing.assert_allclose(fees, [0.00009, 0.0001])
    fills = fill_price_array([True, False, True], [0.01, 0.01, np.nan], [0.012, 0.012, 0.02])
    np.testing.assert_allclose(fills[:2], [0.012, 0.01])
    mids = fill_price_array(
        [True, True], [0.01, np.nan], [0.012, 0.02], style="mid_haircut", haircut=0.1
    )
    assert mids[0] == pytest.approx(0.0121)
    assert np.isnan(mids[1])


def test_it_rejects_impossible_fill_requests() -> None:
    with pytest.raises(ValueError, match="positive"):
        perpetual_fee_coin(D(100), D(0), maker=True)
    assert mid_price(D(0), D("0.01")) is None
    with pytest.raises(ValueError, match="side"):
        fill_price("hold", D("0.01"), D("0.02"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mid"):
        fill_price("buy", None, D("0.02"), style="mid")

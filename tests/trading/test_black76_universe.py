"""Implied volatility over 1,000,000 random options: the issue's accuracy target."""

from __future__ import annotations

import numpy as np
import pytest

from trading.domain import black76
from trading.domain.black76 import IVReason
from trading.domain.iv_universe import synthetic_universe

EPS = np.finfo(float).eps


@pytest.fixture(scope="module")
def universe():
    return synthetic_universe(1_000_000)


def test_it_recovers_the_vol_of_a_million_otm_quotes_to_1e_10(universe) -> None:
    u = universe
    quotes = black76.price(u.forward, u.strike, u.t_years, u.sigma, u.otm_is_call)
    result = black76.implied_vol(quotes, u.forward, u.strike, u.t_years, u.otm_is_call)
    assert (result.reason == IVReason.OK).all()
    assert np.max(np.abs(result.iv - u.sigma)) <= 1e-10


def test_it_recovers_itm_quotes_as_exactly_as_their_rounding_allows(universe) -> None:
    """Deep ITM quotes hide their time value under ~eps·price of rounding: each IV must be
    within 1e-10 plus that rounding divided by vega; a quote whose time value is lost entirely
    must be flagged BELOW_INTRINSIC, never returned as a wrong number."""
    u = universe
    itm_is_call = ~u.otm_is_call
    g = black76.greeks(u.forward, u.strike, u.t_years, u.sigma, itm_is_call)
    result = black76.implied_vol(g.price, u.forward, u.strike, u.t_years, itm_is_call)
    ok = result.reason == IVReason.OK
    lost = result.reason == IVReason.BELOW_INTRINSIC
    assert (ok | lost).all()
    tolerance = 1e-10 + 8 * EPS * g.price / np.maximum(100.0 * g.vega, 1e-300)
    assert (np.abs(result.iv[ok] - u.sigma[ok]) <= tolerance[ok]).all()
    intrinsic = np.abs(u.forward - u.strike)
    assert (g.price[lost] - intrinsic[lost] <= 8 * EPS * g.price[lost]).all()

"""Black-76 pricing, greeks and implied volatility: known values, edge cases, properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trading.domain import black76
from trading.domain.black76 import IVReason

PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

forwards = st.floats(min_value=100.0, max_value=200_000.0)
moneyness = st.floats(min_value=0.5, max_value=2.0)
t_years_st = st.floats(min_value=1.0 / 365.0, max_value=2.0)
sigmas = st.floats(min_value=0.05, max_value=3.0)
calls = st.booleans()


def _reference_black(f: float, k: float, t: float, vol: float, call: bool, r: float = 0.0) -> float:
    """Textbook Black-76 with math.erfc, an implementation independent of the kernels."""
    s = vol * math.sqrt(t)
    d1 = math.log(f / k) / s + 0.5 * s
    d2 = d1 - s

    def cdf(z: float) -> float:
        return 0.5 * math.erfc(-z / math.sqrt(2.0))

    if call:
        return math.exp(-r * t) * (f * cdf(d1) - k * cdf(d2))
    return math.exp(-r * t) * (k * cdf(-d2) - f * cdf(-d1))


# ---------------------------------------------------------------------------------------------
# Known values and shapes
# ---------------------------------------------------------------------------------------------
def test_it_matches_hulls_futures_option_example() -> None:
    # Hull, Options Futures and Other Derivatives: F=K=20, r=9%, T=4 months, vol 25% -> 1.12
    value = black76.price(20.0, 20.0, 4 / 12, 0.25, False, rate=0.09)
    assert float(value) == pytest.approx(1.1166, abs=1e-4)


def test_it_matches_an_independent_textbook_implementation() -> None:
    rng = np.random.default_rng(7)
    f = rng.uniform(1_000, 100_000, 200)
    k = f * rng.uniform(0.6, 1.6, 200)
    t = rng.uniform(0.01, 2.0, 200)
    vol = rng.uniform(0.1, 1.5, 200)
    call = rng.random(200) < 0.5
    got = black76.price(f, k, t, vol, call, rate=0.03)
    want = [_reference_black(*row, r=0.03) for row in zip(f, k, t, vol, call, strict=True)]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)


def test_it_reproduces_deribits_sample_greeks_in_their_units() -> None:
    # ../shared/reference/deribit README section 8: BTC-27JUN25-110000-C at 48.35% (r=0)
    t = (1751011200 - 1748520000) / (365 * 86400)
    g = black76.greeks(106_450.0, 110_000.0, t, 0.4835, True)
    assert float(g.delta) == pytest.approx(0.4315, abs=2e-3)
    assert float(g.gamma) == pytest.approx(2.709e-5, rel=5e-3)
    assert float(g.vega) == pytest.approx(117.60, rel=5e-3)  # USD per vol point
    assert float(g.theta) == pytest.approx(-98.90, rel=5e-3)  # USD per day
    assert float(black76.coin_price(g.price, 106_450.0)) == pytest.approx(0.04016, rel=5e-3)


def test_it_broadcasts_arrays_and_returns_zero_d_arrays_for_scalars() -> None:
    scalar = black76.price(100.0, 100.0, 1.0, 0.5, True)
    assert scalar.shape == ()
    grid = black76.price(100.0, np.array([[90.0], [110.0]]), np.array([0.5, 1.0, 2.0]), 0.5, True)
    assert grid.shape == (2, 3)
    assert grid[0, 2] > grid[0, 0]


def test_it_accepts_option_type_strings() -> None:
    by_bool = black76.price(100.0, 105.0, 0.5, 0.6, [True, False])
    by_text = black76.price(100.0, 105.0, 0.5, 0.6, ["C", "put"])
    np.testing.assert_array_equal(by_bool, by_text)
    with pytest.raises(ValueError, match="C/P"):
        black76.option_sign(["X"])


def test_it_gives_intrinsic_value_at_expiry_and_nan_for_invalid_inputs() -> None:
    values = black76.price(100.0, [90.0, 110.0, 100.0], 0.0, 0.5, True)
    np.testing.assert_array_equal(values, [10.0, 0.0, 0.0])
    bad = black76.price([np.nan, -1.0, 100.0, 100.0], 100.0, [1.0, 1.0, -1.0, 1.0], 0.5, True)
    assert np.isnan(bad[:3]).all()
    assert np.isfinite(bad[3])
    g = black76.greeks(100.0, 90.0, 0.0, 0.5, True)
    assert float(g.delta) == 1.0
    assert float(g.gamma) == 0.0
    assert float(g.vega) == 0.0


def test_it_computes_coin_delta_of_inverse_options() -> None:
    g = black76.greeks(100_000.0, 110_000.0, 0.25, 0.5, True)
    coin = black76.coin_delta(g.delta, g.price, 100_000.0)
    assert float(coin) == pytest.approx(float(g.delta) - float(g.price) / 100_000.0)
    assert float(coin) < float(g.delta)


def test_price_and_delta_agree_with_greeks() -> None:
    rng = np.random.default_rng(3)
    f = rng.uniform(1_000, 100_000, 500)
    k = f * rng.uniform(0.5, 2.0, 500)
    t = rng.uniform(0.001, 2.0, 500)
    vol = rng.uniform(0.05, 3.0, 500)
    call = rng.random(500) < 0.5
    value, delta = black76.price_and_delta(f, k, t, vol, call, rate=0.02)
    g = black76.greeks(f, k, t, vol, call, rate=0.02)
    np.testing.assert_allclose(value, g.price, rtol=1e-14, atol=1e-12)
    np.testing.assert_allclose(delta, g.delta, rtol=1e-14, atol=1e-15)


# ---------------------------------------------------------------------------------------------
# Implied volatility: reasons, never exceptions
# ---------------------------------------------------------------------------------------------
def test_it_returns_nan_with_a_reason_for_quotes_it_cannot_invert() -> None:
    f, k, t = 100.0, 90.0, 0.5
    quotes = {
        IVReason.BELOW_INTRINSIC: (9.0, f, k, t, True),  # intrinsic is 10
        IVReason.ABOVE_UPPER_BOUND: (100.0, f, k, t, True),  # a call is worth less than F
        IVReason.ZERO_TIME: (11.0, f, k, 0.0, True),
        IVReason.INVALID_INPUT: (np.nan, f, k, t, True),
    }
    for reason, (p, ff, kk, tt, cc) in quotes.items():
        result = black76.implied_vol(p, ff, kk, tt, cc)
        assert np.isnan(result.iv), reason
        assert int(result.reason) == reason
    negative = black76.implied_vol(
        [-1.0, 1.0, 1.0], [100.0, -5.0, 100.0], 100.0, [1.0, 1.0, -1.0], True
    )
    assert (negative.reason == IVReason.INVALID_INPUT).all()
    exactly_intrinsic = black76.implied_vol(10.0, 100.0, 90.0, 0.5, True)
    assert int(exactly_intrinsic.reason) == IVReason.BELOW_INTRINSIC


def test_it_marks_found_ivs_ok() -> None:
    value = black76.price(100.0, 120.0, 0.5, 0.8, True)
    result = black76.implied_vol(value, 100.0, 120.0, 0.5, True)
    assert bool(result.ok)
    assert result.reason.dtype == np.int8
    assert float(result.iv) == pytest.approx(0.8, abs=1e-13)


def test_implied_vol_and_greeks_matches_the_separate_calls() -> None:
    f = np.array([100.0, 100.0, 100.0])
    k = np.array([80.0, 100.0, 130.0])
    value = black76.price(f, k, 0.3, [0.5, 0.6, 0.7], [False, True, True])
    result, g = black76.implied_vol_and_greeks(np.append(value[:2], 0.0), f, k, 0.3, [0, 1, 1])
    np.testing.assert_allclose(result.iv[:2], [0.5, 0.6], atol=1e-13)
    assert int(result.reason[2]) == IVReason.BELOW_INTRINSIC
    expected = black76.greeks(f[:2], k[:2], 0.3, result.iv[:2], [False, True])
    np.testing.assert_allclose(g.vega[:2], expected.vega)
    assert np.isnan(g.delta[2])


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------
@PROPERTY_SETTINGS
@given(forwards, moneyness, t_years_st, sigmas, st.floats(min_value=-0.05, max_value=0.2))
def test_put_call_parity_holds(f: float, m: float, t: float, vol: float, r: float) -> None:
    k = f * m
    call = float(black76.price(f, k, t, vol, True, rate=r))
    put = float(black76.price(f, k, t, vol, False, rate=r))
    assert call - put == pytest.approx(math.exp(-r * t) * (f - k), abs=1e-9 * f)


@PROPERTY_SETTINGS
@given(forwards, moneyness, t_years_st, sigmas, calls)
def test_greeks_match_finite_differences(
    f: float, m: float, t: float, vol: float, call: bool
) -> None:
    k, r = f * m, 0.03
    g = black76.greeks(f, k, t, vol, call, rate=r)

    def px(ff: float = f, tt: float = t, vv: float = vol, rr: float = r) -> float:
        return float(black76.price(ff, k, tt, vv, call, rate=rr))

    # Forward steps scale with the distribution's width (sigma * sqrt(t)): a fixed step is too
    # coarse a day from expiry, where delta curves sharply within a fraction of a percent of F.
    width = f * min(vol * math.sqrt(t), 0.01)
    h_f, h_g, h_v, h_t, h_r = 1e-3 * width, 1e-2 * width, 1e-5, 1e-6, 1e-6
    delta_fd = (px(ff=f + h_f) - px(ff=f - h_f)) / (2 * h_f)
    gamma_fd = (px(ff=f + h_g) - 2 * px() + px(ff=f - h_g)) / h_g**2
    vega_fd = 0.01 * (px(vv=vol + h_v) - px(vv=vol - h_v)) / (2 * h_v)
    theta_fd = -(px(tt=t + h_t) - px(tt=t - h_t)) / (2 * h_t) / 365.0
    rho_fd = 0.01 * (px(rr=r + h_r) - px(rr=r - h_r)) / (2 * h_r)
    # Tolerances cover the finite differences' own truncation/rounding error, nothing more.
    assert float(g.delta) == pytest.approx(delta_fd, rel=1e-6, abs=1e-6)
    assert float(g.gamma) * f == pytest.approx(gamma_fd * f, rel=1e-4, abs=1e-5)
    assert float(g.vega) == pytest.approx(vega_fd, rel=1e-6, abs=1e-7 * f)
    assert float(g.theta) == pytest.approx(theta_fd, rel=1e-5, abs=1e-6 * f)
    assert float(g.rho) == pytest.approx(rho_fd, rel=1e-5, abs=1e-7 * f)


@PROPERTY_SETTINGS
@given(forwards, st.floats(min_value=-6.0, max_value=6.0), t_years_st, sigmas)
def test_iv_round_trips_out_of_the_money_quotes_to_1e_10(
    f: float, z: float, t: float, vol: float
) -> None:
    k = f * math.exp(z * vol * math.sqrt(t))
    call = k >= f  # the out-of-the-money side
    value = black76.price(f, k, t, vol, call)
    result = black76.implied_vol(value, f, k, t, call)
    assert int(result.reason) == IVReason.OK
    assert abs(float(result.iv) - vol) <= 1e-10


@PROPERTY_SETTINGS
@given(forwards, st.floats(min_value=-6.0, max_value=6.0), t_years_st, sigmas)
def test_iv_round_trips_in_the_money_quotes_within_their_conditioning(
    f: float, z: float, t: float, vol: float
) -> None:
    """An ITM quote carries its time value under a rounding error of ~eps·price: the IV can only
    be as exact as that error divided by vega; the check allows 8 such ulps and no more."""
    k = f * math.exp(z * vol * math.sqrt(t))
    call = k < f  # the in-the-money side
    g = black76.greeks(f, k, t, vol, call)
    value = float(g.price)
    result = black76.implied_vol(value, f, k, t, call)
    vega_per_unit = 100.0 * float(g.vega)
    tolerance = 1e-10 + 8 * np.finfo(float).eps * value / max(vega_per_unit, 1e-300)
    if int(result.reason) == IVReason.BELOW_INTRINSIC:
        assert value - max(f - k if call else k - f, 0.0) <= 8 * np.finfo(float).eps * value
    else:
        assert int(result.reason) == IVReason.OK
        assert abs(float(result.iv) - vol) <= tolerance


@PROPERTY_SETTINGS
@given(forwards, moneyness, t_years_st, sigmas, sigmas, calls)
def test_price_increases_with_volatility(
    f: float, m: float, t: float, vol_a: float, vol_b: float, call: bool
) -> None:
    low, high = sorted((vol_a, vol_b))
    p_low = float(black76.price(f, f * m, t, low, call))
    p_high = float(black76.price(f, f * m, t, high, call))
    assert p_high >= p_low - 1e-12 * f


@PROPERTY_SETTINGS
@given(forwards, moneyness, moneyness, t_years_st, sigmas)
def test_calls_fall_and_puts_rise_with_strike(
    f: float, m_a: float, m_b: float, t: float, vol: float
) -> None:
    k_low, k_high = sorted((f * m_a, f * m_b))
    assert (
        float(black76.price(f, k_high, t, vol, True))
        <= float(black76.price(f, k_low, t, vol, True)) + 1e-12 * f
    )
    assert (
        float(black76.price(f, k_high, t, vol, False))
        >= float(black76.price(f, k_low, t, vol, False)) - 1e-12 * f
    )


@PROPERTY_SETTINGS
@given(
    forwards,
    st.floats(min_value=1e-3, max_value=1e3),
    st.floats(min_value=1e-6, max_value=10.0),
    st.floats(min_value=0.0, max_value=1e6),
    calls,
)
def test_implied_vol_never_raises_and_flags_every_nan(
    f: float, m: float, t: float, price_frac: float, call: bool
) -> None:
    result = black76.implied_vol(price_frac * f / 1e3, f, f * m, t, call)
    found = int(result.reason) == IVReason.OK
    assert found == bool(np.isfinite(result.iv))
    if found:
        assert float(result.iv) > 0

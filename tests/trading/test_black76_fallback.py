"""Without numba the same kernels run as plain Python and give the same numbers.

Loads uncompiled copies of the kernel modules (``_jit.HAVE_NUMBA`` off) next to the compiled
ones and compares them on options covering every branch of the Let's-Be-Rational inversion
(lower/middle/upper segments, asymptotic and small-time expansions, ITM parity). Tolerance
1e-11: the compiled code fuses multiply-adds, Python does not.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import trading.domain as domain_package
from trading.domain import _jit, black76
from trading.domain.black76 import IVReason
from trading.domain.iv_universe import synthetic_universe

DOMAIN = Path(domain_package.__file__).parent
CHAIN = ("lets_be_rational", "_black76_kernels", "black76")


@pytest.fixture(scope="module")
def pure_black76() -> ModuleType:
    """``black76`` built on uncompiled kernels; the real modules are restored afterwards."""
    saved_modules = {name: sys.modules[f"trading.domain.{name}"] for name in CHAIN}
    saved_attrs = {name: getattr(domain_package, name) for name in CHAIN}
    saved_flag = _jit.HAVE_NUMBA
    pure: dict[str, ModuleType] = {}
    _jit.HAVE_NUMBA = False
    try:
        for name in CHAIN:
            qualified = f"trading.domain.{name}"
            spec = importlib.util.spec_from_file_location(qualified, DOMAIN / f"{name}.py")
            assert spec is not None
            assert spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[qualified] = module
            setattr(domain_package, name, module)
            spec.loader.exec_module(module)
            pure[name] = module
    finally:
        _jit.HAVE_NUMBA = saved_flag
        for name in CHAIN:
            sys.modules[f"trading.domain.{name}"] = saved_modules[name]
            setattr(domain_package, name, saved_attrs[name])
    return pure["black76"]


def _branch_covering_quotes() -> tuple[np.ndarray, ...]:
    u = synthetic_universe(300, seed=11, z_max=12.0)
    f = np.concatenate([u.forward, [100.0, 100.0, 100.0, 100.0, 100.0, 100.0]])
    k = np.concatenate([u.strike, [100.0, 300.0, 101.0, 60.0, 100.0, 100.0]])
    t = np.concatenate([u.t_years, [0.5, 0.01, 1e-4, 2.0, 1e-6, 1.0]])
    vol = np.concatenate([u.sigma, [0.5, 0.3, 0.2, 4.0, 0.1, 8.0]])
    call = np.concatenate([u.otm_is_call, [True, True, True, False, True, False]])
    return f, k, t, vol, call


def test_uncompiled_pricing_and_greeks_match_the_compiled_kernels(pure_black76) -> None:
    f, k, t, vol, call = _branch_covering_quotes()
    compiled = black76.greeks(f, k, t, vol, call, rate=0.02)
    fallback = pure_black76.greeks(f, k, t, vol, call, rate=0.02)
    for name in ("price", "delta", "gamma", "vega", "theta", "rho"):
        np.testing.assert_allclose(
            getattr(fallback, name), getattr(compiled, name), rtol=1e-11, atol=1e-300
        )
    value, delta = pure_black76.price_and_delta(f, k, t, vol, ~call)
    np.testing.assert_allclose(value, black76.price(f, k, t, vol, ~call), rtol=1e-11)
    np.testing.assert_allclose(delta, black76.price_and_delta(f, k, t, vol, ~call)[1], rtol=1e-11)


def test_uncompiled_implied_vol_matches_the_compiled_kernel(pure_black76) -> None:
    f, k, t, vol, call = _branch_covering_quotes()
    for side in (call, ~call):  # out of and in the money
        quotes = black76.price(f, k, t, vol, side)
        compiled = black76.implied_vol(quotes, f, k, t, side)
        fallback = pure_black76.implied_vol(quotes, f, k, t, side)
        np.testing.assert_array_equal(fallback.reason, compiled.reason)
        np.testing.assert_allclose(fallback.iv, compiled.iv, rtol=1e-11, equal_nan=True)
    otm_quotes = black76.price(f, k, t, vol, call)
    found = pure_black76.implied_vol(otm_quotes, f, k, t, call)
    ok = found.reason == IVReason.OK
    assert ok.mean() > 0.9
    assert np.max(np.abs(found.iv[ok] - vol[ok])) < 1e-10
    prices = [np.nan, 5.0, 1.0, 200.0]
    bad = pure_black76.implied_vol(prices, 100.0, 90.0, [1.0, 1.0, 0.0, 1.0], True)
    assert bad.reason.tolist() == [
        IVReason.INVALID_INPUT,
        IVReason.BELOW_INTRINSIC,
        IVReason.ZERO_TIME,
        IVReason.ABOVE_UPPER_BOUND,
    ]

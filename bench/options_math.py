"""Options math benchmark: IV vs py_vollib_vectorized, price+delta vs numpy, one real chain.

Run: ``.venv/bin/python bench/options_math.py`` (``make bench``). Prints readable lines, then a
last line of JSON: ``{"iv_speed_ratio", "iv_max_abs_err", "greeks_speed_ratio", "chain_ms", ...}``.
Speed is a ratio against a reference timed in the same run on the same arrays; each side is
timed several times, interleaved, and the best time kept (the build machine is shared).
Everything runs single-threaded.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.special import ndtr

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from trading.domain import black76  # noqa: E402
from trading.domain.chain import (  # noqa: E402
    chain_is_call,
    chain_price_usd,
    chain_t_years,
    enrich_chain,
    read_snapshot,
)
from trading.domain.iv_universe import synthetic_universe  # noqa: E402

N_OPTIONS = 1_000_000
REPEATS = 5


def best_of(functions: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Best wall time (s) of each function, running them interleaved ``repeats`` times."""
    best = dict.fromkeys(functions, float("inf"))
    for _ in range(repeats):
        for name, function in functions.items():
            started = time.perf_counter()
            function()
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def numpy_price_delta(
    f: np.ndarray, k: np.ndarray, t: np.ndarray, vol: np.ndarray, call: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Plain numpy + scipy.special.ndtr Black-76 price and delta (the greeks reference)."""
    s = vol * np.sqrt(t)
    d1 = np.log(f / k) / s + 0.5 * s
    d2 = d1 - s
    n1 = ndtr(d1)
    call_value = f * n1 - k * ndtr(d2)
    value = np.where(call, call_value, call_value - (f - k))
    delta = np.where(call, n1, n1 - 1.0)
    return value, delta


def bench_iv() -> dict[str, float | None]:
    """IV of 1M OTM quotes: ours vs py_vollib_vectorized on the same arrays."""
    u = synthetic_universe(N_OPTIONS)
    quotes = black76.price(u.forward, u.strike, u.t_years, u.sigma, u.otm_is_call)
    ours = black76.implied_vol(quotes, u.forward, u.strike, u.t_years, u.otm_is_call)
    err = float(np.max(np.abs(ours.iv - u.sigma)))
    print(f"universe: {N_OPTIONS:,} OTM quotes, z=ln(K/F)/(sigma*sqrt(T)) in [-8, 8]")
    print(f"ours: max |iv - sigma| = {err:.2e}, all found: {bool(ours.ok.all())}")
    try:
        import py_vollib_vectorized as pvv
    except ImportError:
        print("py_vollib_vectorized not installed (bench extra): no IV speed ratio")
        return {"iv_speed_ratio": None, "iv_max_abs_err": err}
    flags = np.where(u.otm_is_call, "c", "p")

    def reference() -> np.ndarray:
        return np.asarray(
            pvv.vectorized_implied_volatility_black(
                quotes, u.forward, u.strike, 0.0, u.t_years, flags,
                return_as="numpy", on_error="ignore",
            )
        )  # fmt: skip

    ref_err = float(np.nanmax(np.abs(reference() - u.sigma)))  # also warms its numba cache
    times = best_of(
        {
            "ours": lambda: black76.implied_vol(
                quotes, u.forward, u.strike, u.t_years, u.otm_is_call
            ),
            "py_vollib_vectorized": reference,
        },
        REPEATS,
    )
    ratio = times["py_vollib_vectorized"] / times["ours"]
    print(f"py_vollib_vectorized: max |iv - sigma| = {ref_err:.2e}")
    for name, seconds in times.items():
        print(f"IV {name}: {seconds:.3f} s ({1e9 * seconds / N_OPTIONS:.0f} ns/option)")
    print(f"iv_speed_ratio: {ratio:.2f}x")
    return {"iv_speed_ratio": round(ratio, 3), "iv_max_abs_err": err, "iv_ref_max_abs_err": ref_err}


def bench_greeks() -> dict[str, float]:
    """Price + delta of 1M options: ours vs plain numpy + scipy.special.ndtr."""
    u = synthetic_universe(N_OPTIONS, seed=7, z_max=4.0)
    call = np.random.default_rng(7).random(N_OPTIONS) < 0.5
    args = (u.forward, u.strike, u.t_years, u.sigma, call)
    ours, ref = black76.price_and_delta(*args), numpy_price_delta(*args)
    diff = float(np.max(np.abs(ours[0] - ref[0]) / u.forward))
    times = best_of(
        {
            "ours price_and_delta": lambda: black76.price_and_delta(*args),
            "numpy+ndtr": lambda: numpy_price_delta(*args),
            "ours all greeks": lambda: black76.greeks(*args),
        },
        REPEATS,
    )
    ratio = times["numpy+ndtr"] / times["ours price_and_delta"]
    ratio_all = times["numpy+ndtr"] / times["ours all greeks"]
    for name, seconds in times.items():
        print(f"{name}: {1e3 * seconds:.1f} ms for {N_OPTIONS:,}")
    print(f"greeks_speed_ratio (price+delta): {ratio:.2f}x; all six greeks vs numpy price+delta:"
          f" {ratio_all:.2f}x; max price gap {diff:.1e} of F")  # fmt: skip
    return {"greeks_speed_ratio": round(ratio, 3), "all_greeks_vs_numpy_ratio": round(ratio_all, 3)}


def shared_dir() -> Path:
    """The shared reference folder, as the tests find it."""
    return Path(os.environ.get("OPTIONSDESK_SHARED_DIR", REPO_ROOT.parent / "shared")).resolve()


def bench_chain() -> dict[str, float | int | None]:
    """IV + all greeks for the largest real BTC chain (arrays, then the DataFrame path)."""
    files = sorted((shared_dir() / "data" / "deribit" / "snapshots" / "BTC").glob("*/*.parquet"))
    if not files:
        print(f"no BTC snapshots under {shared_dir()}: chain_ms not measured")
        return {"chain_ms": None, "chain_options": None, "chain_enrich_ms": None}
    chain = read_snapshot(max(files[-50:], key=lambda p: p.stat().st_size))
    arrays = (
        chain_price_usd(chain),
        chain["underlying_price"].to_numpy(dtype=np.float64),
        chain["strike"].to_numpy(dtype=np.float64),
        chain_t_years(chain),
        chain_is_call(chain),
    )
    times = best_of(
        {
            "arrays": lambda: black76.implied_vol_and_greeks(*arrays),
            "enrich_chain": lambda: enrich_chain(chain),
        },
        50,
    )
    chain_ms, enrich_ms = 1e3 * times["arrays"], 1e3 * times["enrich_chain"]
    print(f"real BTC chain, {len(chain)} options: IV + all greeks {chain_ms:.3f} ms;"
          f" enrich_chain (DataFrame in and out) {enrich_ms:.3f} ms")  # fmt: skip
    return {
        "chain_ms": round(chain_ms, 4),
        "chain_options": len(chain),
        "chain_enrich_ms": round(enrich_ms, 4),
    }


def main() -> None:
    """Run the three benchmarks and print the JSON summary last."""
    started = time.perf_counter()
    black76.implied_vol_and_greeks(1.0, 100.0, 100.0, 1.0, True)  # compile/load kernels
    print(f"kernels ready in {time.perf_counter() - started:.2f} s (numba cache)")
    result: dict[str, object] = {}
    result.update(bench_iv())
    result.update(bench_greeks())
    result.update(bench_chain())
    print(json.dumps(result))


if __name__ == "__main__":
    main()

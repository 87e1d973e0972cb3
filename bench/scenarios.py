"""Benchmark the scenario grid: a 21 x 21 spot x vol grid over 50 positions, in process.

Two underlyings (BTC, ETH), ten expiries (1 to 60 days), calls and puts, long and short, with
coins held and a perpetual each. Measures the median wall time of `scenario_grid` (every
position revalued with Black-76 on each of the 441 cells, P&L in USD and coin, margin, worst
cell), against a reference measured in the same run: one `black76.price` call over the same
22,050 (position, cell) inputs already laid out flat, i.e. the pricing alone.

Run: `.venv/bin/python bench/scenarios.py` (a few seconds). Target: grid_ms <= 5.
Last line: JSON {"grid_ms", "positions", "cells", ...}.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from trading.domain.black76 import price
from trading.domain.portfolio import (
    Book,
    BookOption,
    BookPerpetual,
    ScenarioSpec,
    scenario_grid,
)

NOW = datetime(2026, 12, 5, 8, tzinfo=UTC)
INDEX = {"BTC": 90_000.0, "ETH": 3_000.0}
EXPIRY_DAYS = (1, 2, 3, 7, 14, 21, 28, 35, 49, 60)
REPEATS = 200


def _book() -> Book:
    rng = np.random.default_rng(7)
    options = []
    for i in range(50):
        underlying = "BTC" if i % 2 == 0 else "ETH"
        index = INDEX[underlying]
        days = EXPIRY_DAYS[(i // 2) % len(EXPIRY_DAYS)]
        strike = round(index * float(rng.uniform(0.8, 1.25)), -1)
        options.append(
            BookOption(
                instrument_name=f"{underlying}-{days}-{strike:.0f}-{i}",
                underlying=underlying,
                expiry=NOW + timedelta(days=days),
                strike_usd=strike,
                is_call=bool(i % 3),
                size=float(rng.choice((-1.0, -0.5, 0.5, 1.0))) * (1 if underlying == "BTC" else 10),
                iv=float(rng.uniform(0.4, 0.9)),
                forward_usd=index * (1 + 0.0005 * days),
                strategy_id="covered_call" if i % 2 else "greg",
            )
        )
    return Book(
        now=NOW,
        index_usd=INDEX,
        coins={"BTC": 5.0, "ETH": 50.0},
        options=tuple(options),
        perpetuals=(BookPerpetual("BTC", -20_000.0), BookPerpetual("ETH", 10_000.0)),
        equity_usd=5 * INDEX["BTC"] + 50 * INDEX["ETH"],
    )


def _median_ms(func: object) -> float:
    assert callable(func)
    func()
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        func()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    """Time the grid and the flat pricing reference; print a table and the JSON last line."""
    book = _book()
    spec = ScenarioSpec.linear((-0.4, 0.4, 21), (-0.5, 1.0, 21), (0.0,))
    grid = scenario_grid(book, spec)
    grid_ms = _median_ms(lambda: scenario_grid(book, spec))
    arrays = book.option_arrays()
    n = arrays.size.size * grid.cells
    flat = [np.ascontiguousarray(np.resize(a, n)) for a in (arrays.forward, arrays.strike)]
    t = np.resize(arrays.t_years, n)
    iv = np.resize(arrays.iv, n)
    calls = np.resize(arrays.is_call, n)
    pricing_ms = _median_ms(lambda: price(flat[0], flat[1], t, iv, calls))
    three_ms = _median_ms(lambda: scenario_grid(book, ScenarioSpec()))
    print(f"positions {len(book.options)} options + coins + perpetuals; cells {grid.cells}")
    print(f"scenario_grid 21x21      : {grid_ms:.3f} ms (target <= 5)")
    print(f"reference flat pricing   : {pricing_ms:.3f} ms ({n} Black-76 prices)")
    print(f"default 9x6x3 grid       : {three_ms:.3f} ms")
    print(f"worst cell               : {grid.worst.describe()}")
    print(
        json.dumps(
            {
                "grid_ms": round(grid_ms, 3),
                "positions": len(book.options),
                "cells": grid.cells,
                "pricing_ref_ms": round(pricing_ms, 3),
                "grid_over_pricing": round(grid_ms / pricing_ms, 2),
                "default_grid_ms": round(three_ms, 3),
            }
        )
    )


if __name__ == "__main__":
    main()

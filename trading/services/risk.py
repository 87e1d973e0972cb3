"""The book's risk report: portfolio greeks and the scenario grid, built once per tick.

Why at the tick: the tick already holds the book (coins, positions, quotes with their IVs and
forwards); the dashboard and `GET /api/risk/...` read the stored report instead of calling the
exchange from a web request. The report never fails a tick: a problem is recorded in `error`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from trading.domain.instruments import default_spec
from trading.domain.params import RiskLimits
from trading.domain.portfolio import (
    Book,
    BookOption,
    ScenarioSpec,
    portfolio_greeks,
    scenario_grid,
)
from trading.domain.risk import OptionQuote, RiskInputs, book_from_inputs

logger = logging.getLogger("trading.risk")

#: Stated once on every report (the package docstring of trading.domain.portfolio says more).
CONVENTION = (
    "Deribit's: delta in coins (a coin held is 1, an inverse perpetual size_usd/index), "
    "delta_usd = delta x index; gamma per 1 USD (gamma_usd: USD delta change for a 1% move); "
    "vega USD per vol point; theta USD per day; *_coin = USD / index. Options: Black-76 on "
    "each expiry's forward with each position's IV; vol moves scale every IV (the surface)."
)


def risk_report_build(inputs: RiskInputs, limits: RiskLimits) -> dict[str, Any]:
    """The JSON-ready report of `inputs`' book: greeks rows, scenario grid, worst cell, limits."""
    try:
        book, unvalued = book_from_inputs(inputs)
        grid = scenario_grid(book, ScenarioSpec())
        greeks = portfolio_greeks(book)
    except (ValueError, ArithmeticError) as exc:  # a report must never fail the tick
        logger.warning("risk report failed: %s", exc)
        return {"as_of": inputs.now.isoformat(), "error": str(exc)[:300]}
    return {
        "as_of": inputs.now.isoformat(),
        "environment": inputs.environment.value,
        "convention": CONVENTION,
        "equity_usd": book.equity_usd,
        "index_usd": dict(book.index_usd),
        "coins": dict(book.coins),
        "positions": len(book.options),
        "unvalued": list(unvalued),
        "greeks": [row.as_record() for row in greeks.rows],
        "book": [_option_record(o) for o in book.options],
        "scenarios": grid.as_record(),
        "limits": {
            "max_scenario_loss_pct": limits.max_scenario_loss_pct,
            "max_vega_usd": limits.max_vega_usd,
        },
    }


def _option_record(option: BookOption) -> dict[str, Any]:
    return {
        "instrument_name": option.instrument_name,
        "underlying": option.underlying,
        "expiry": option.expiry.isoformat(),
        "strike_usd": option.strike_usd,
        "is_call": option.is_call,
        "size": option.size,
        "iv": option.iv,
        "forward_usd": option.forward_usd,
        "strategy_id": option.strategy_id,
    }


def risk_report_for_strategies(report: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The stored report narrowed to the options of strategies named `prefix...` (no coins).

    Why: Greg Lab shows Greg's own book (`greg_*` strategies) apart from the covered calls and
    the coins; the stored book is revalued again, which takes about a millisecond.
    """
    options = tuple(
        BookOption(
            instrument_name=o["instrument_name"],
            underlying=o["underlying"],
            expiry=datetime.fromisoformat(o["expiry"]),
            strike_usd=float(o["strike_usd"]),
            is_call=bool(o["is_call"]),
            size=float(o["size"]),
            iv=float(o["iv"]),
            forward_usd=float(o["forward_usd"]),
            strategy_id=str(o["strategy_id"]),
        )
        for o in report.get("book", [])
        if str(o.get("strategy_id", "")).startswith(prefix)
    )
    book = Book(
        now=datetime.fromisoformat(report["as_of"]),
        index_usd={u: float(v) for u, v in report.get("index_usd", {}).items()},
        options=options,
        equity_usd=report.get("equity_usd"),
    )
    grid = scenario_grid(book, ScenarioSpec())
    return report | {
        "positions": len(options),
        "coins": {},
        "greeks": [row.as_record() for row in portfolio_greeks(book).rows],
        "scenarios": grid.as_record(),
        "scope": prefix,
    }


def stress_inputs_for_legs(
    inputs: RiskInputs, legs: Iterable[Mapping[str, Any]], index_usd: float
) -> RiskInputs:
    """`inputs` with a quote per option leg (its `price_coin` as the mark; IV implied from it).

    Why: a strategy that judges its orders without quotes (Greg's structures) can still hand the
    order gate a book to stress-test (`OrderRequest.stress_inputs`).
    """
    quotes = dict(inputs.quotes)
    for leg in legs:
        name = str(leg["instrument_name"])
        if name in quotes or not name.endswith(("-C", "-P")):
            continue
        quotes[name] = OptionQuote(
            instrument_name=name,
            spec=default_spec(name),
            index_price_usd=index_usd,
            mark_price_coin=Decimal(str(leg["price_coin"])),
        )
    return inputs.model_copy(update={"quotes": quotes})

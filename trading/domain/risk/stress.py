"""Stress limits: the whole book after a trade, revalued on the scenario grid.

Per-order rules cannot see that a short put beside a short call loses on both sides, or that
coins held cover a short call. Here the book after the trade (coins, every option position,
the trade's legs) is revalued on every cell of the scenario grid
(`trading.domain.portfolio.scenarios`) and two limits apply:

* `stress_loss`: the loss at the worst cell, in % of equity, at most `max_scenario_loss_pct`;
* `max_vega`: the book's |vega| (USD per vol point) at most `max_vega_usd`.

As with net delta, a trade that does not make the figure worse always passes (an operator can
always reduce risk). A refusal names the cell: "spot -40%, vol +100%, +0 d: -70,000 USD (78%
of equity)". Positions that cannot be revalued (no quote, no IV) are left out and listed; that
passes with a note off mainnet and fails on mainnet, like unknown liquidity.

`evaluate_stress` takes signed trades, so any strategy's order (a straddle, a put, a
perpetual hedge) can be judged, not only the covered call's `Proposal`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from trading.domain.black76 import DAYS_PER_YEAR, implied_vol
from trading.domain.instruments import parse_instrument
from trading.domain.params import Environment, RiskLimits
from trading.domain.portfolio import (
    Book,
    BookOption,
    BookPerpetual,
    ScenarioSpec,
    WorstCell,
    portfolio_greeks,
    scenario_grid,
)
from trading.domain.risk.inputs import OptionQuote, RiskInputs
from trading.domain.risk.verdict import RiskCheck, _Checks

#: Loss increases smaller than this (USD) count as "not worse" (float noise).
_TOLERANCE_USD = 1e-6


@dataclass(frozen=True, slots=True)
class StressTrade:
    """One leg of any strategy's order: instrument and signed coins (+ buy, - sell)."""

    instrument_name: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class StressReport:
    """The book before and after a trade on the grid, and the positions left out."""

    worst_before: WorstCell
    worst_after: WorstCell
    vega_before_usd: float
    vega_after_usd: float
    unvalued: tuple[str, ...]


def quote_iv(quote: OptionQuote, now_years: float) -> float | None:
    """The quote's IV (decimal): `mark_iv` when given, else implied from the mark (or mid)."""
    if quote.mark_iv is not None and quote.mark_iv > 0:
        return float(quote.mark_iv)
    price_coin = quote.mark_price_coin or quote.mid_coin
    if price_coin is None or quote.strike_usd is None or now_years <= 0:
        return None
    forward = quote.underlying_price_usd or quote.index_price_usd
    result = implied_vol(
        float(price_coin) * forward, forward, float(quote.strike_usd), now_years, quote.is_call
    )
    iv = float(result.iv)
    return iv if math.isfinite(iv) and iv > 0 else None


def _book_option(
    name: str, size: Decimal, strategy_id: str, inputs: RiskInputs
) -> BookOption | None:
    quote = inputs.quotes.get(name)
    if quote is None or quote.expiry is None or quote.strike_usd is None:
        return None
    t_years = (quote.expiry - inputs.now).total_seconds() / 86_400.0 / DAYS_PER_YEAR
    iv = quote_iv(quote, t_years)
    if iv is None:
        return None
    return BookOption(
        instrument_name=name,
        underlying=quote.currency,
        expiry=quote.expiry,
        strike_usd=float(quote.strike_usd),
        is_call=quote.is_call,
        size=float(size),
        iv=iv,
        forward_usd=float(quote.underlying_price_usd or quote.index_price_usd),
        strategy_id=strategy_id,
    )


def book_from_inputs(inputs: RiskInputs) -> tuple[Book, tuple[str, ...]]:
    """The risk inputs as a `Book` (coins, options, perpetuals) and the positions left out."""
    portfolio = inputs.portfolio
    index = {q.currency: q.index_price_usd for q in inputs.quotes.values()}
    options: list[BookOption] = []
    unvalued: list[str] = []
    for position in portfolio.positions:
        option = _book_option(position.instrument_name, position.size, position.strategy_id, inputs)
        if option is None:
            unvalued.append(position.instrument_name)
        else:
            options.append(option)
    book = Book(
        now=inputs.now,
        index_usd=index,
        coins={c: float(v) for c, v in portfolio.holdings_coin.items()},
        options=tuple(options),
        perpetuals=tuple(
            BookPerpetual(c, float(size)) for c, size in portfolio.perpetuals_usd.items() if size
        ),
        equity_usd=None if portfolio.equity_usd is None else float(portfolio.equity_usd),
    )
    return book, tuple(unvalued)


def stress_report(
    trades: Iterable[StressTrade], inputs: RiskInputs, spec: ScenarioSpec | None = None
) -> StressReport:
    """Revalue the book before and after `trades` on the grid (default `ScenarioSpec()`)."""
    before, unvalued = book_from_inputs(inputs)
    added: list[BookOption] = []
    missing = list(unvalued)
    for trade in trades:
        if not parse_instrument(trade.instrument_name).is_option:
            continue
        option = _book_option(trade.instrument_name, trade.amount, "proposed", inputs)
        if option is None:
            missing.append(trade.instrument_name)
        else:
            added.append(option)
    after = before.with_options(added)
    return StressReport(
        worst_before=scenario_grid(before, spec).worst,
        worst_after=scenario_grid(after, spec).worst,
        vega_before_usd=portfolio_greeks(before).total.vega_usd,
        vega_after_usd=portfolio_greeks(after).total.vega_usd,
        unvalued=tuple(missing),
    )


def evaluate_stress(
    trades: Sequence[StressTrade], inputs: RiskInputs, limits: RiskLimits
) -> tuple[RiskCheck, ...]:
    """The stress checks (`stress_loss`, `max_vega`, and `stress_inputs` when positions are
    left out) of the book after `trades`; pass them to a verdict or read `passed`."""
    c = _Checks()
    _check_stress(c, trades, inputs, limits)
    return tuple(c.items)


def _check_stress(
    c: _Checks, trades: Sequence[StressTrade], inputs: RiskInputs, limits: RiskLimits
) -> None:
    report = stress_report(trades, inputs)
    if report.unvalued:
        strict = inputs.environment is Environment.MAINNET
        c.add(
            "stress_inputs",
            not strict,
            f"cannot revalue {', '.join(sorted(set(report.unvalued)))} (no quote or IV): "
            + ("refused on mainnet" if strict else "left out of the scenario grid"),
            leg="open",
        )
    _check_loss(c, report, limits)
    _check_vega(c, report, limits)


def _check_loss(c: _Checks, report: StressReport, limits: RiskLimits) -> None:
    limit = limits.max_scenario_loss_pct
    after, before = report.worst_after, report.worst_before
    worse = after.pnl_usd < before.pnl_usd - _TOLERANCE_USD
    share = after.loss_pct_of_equity
    if limit <= 0:
        ok, detail = True, "disabled (limit 0)"
    elif share is None:
        ok, detail = not worse, f"equity unknown; worst scenario {after.describe()}"
    else:
        ok = share <= limit or not worse
        detail = (
            f"worst scenario after order: {after.describe()}; max {limit:.1f}% of equity"
            + ("" if ok else " and the order makes it worse")
            + ("" if share <= limit or not ok else " (but the order does not make it worse)")
        )
    c.add(
        "stress_loss",
        ok,
        detail,
        leg="open",
        value=None if share is None else f"{share:.4f}",
        limit=limit,
    )


def _check_vega(c: _Checks, report: StressReport, limits: RiskLimits) -> None:
    limit = limits.max_vega_usd
    after, before = report.vega_after_usd, report.vega_before_usd
    if limit <= 0:
        ok, detail = True, "disabled (limit 0)"
    else:
        ok = abs(after) <= limit or abs(after) <= abs(before) + _TOLERANCE_USD
        detail = (
            f"book vega {before:+,.0f} -> {after:+,.0f} USD per vol point vs max |{limit:,.0f}|"
            + ("" if ok else " and the order does not reduce it")
        )
    c.add("max_vega", ok, detail, leg="open", value=f"{after:.2f}", limit=limit)


def proposal_trades(legs: Iterable[tuple[str, str, Decimal]]) -> tuple[StressTrade, ...]:
    """(instrument, direction, amount) legs as signed trades."""
    return tuple(
        StressTrade(name, amount if direction == "buy" else -amount)
        for name, direction, amount in legs
    )

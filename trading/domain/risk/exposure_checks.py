"""Checks on what a sell leg does to the account.

The kill switch and the daily drawdown stop, portfolio availability and margin, net delta, and
the hard rails (covered by holdings, per-expiry exposure, calls per underlying, size cap, mainnet
notional caps).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from trading.domain.params import Environment, RiskLimits
from trading.domain.risk.capacity import _dec, estimate_short_call_margin_usd
from trading.domain.risk.inputs import OptionPosition, OptionQuote, RiskInputs
from trading.domain.risk.verdict import _Checks


def _check_guards(c: _Checks, inputs: RiskInputs, limits: RiskLimits) -> None:
    c.add(
        "kill_switch",
        not limits.kill_switch,
        "global kill switch is ON: no new risk" if limits.kill_switch else "off",
        leg="open",
    )
    dd = inputs.drawdown
    equity = inputs.portfolio.equity_usd
    limit = limits.daily_drawdown_limit_pct
    loss = dd.drawdown_pct(equity) if dd is not None and equity is not None else 0.0
    latched = dd is not None and dd.halted
    over = limit > 0 and loss >= limit
    if latched and dd is not None:
        detail = dd.reason or "daily drawdown stop latched: operator reset required"
    elif over:
        detail = f"daily drawdown {loss:.2f}% >= limit {limit:.2f}%"
    elif limit <= 0:
        detail = "disabled (limit 0)"
    else:
        detail = f"drawdown {loss:.2f}% below limit {limit:.2f}%"
    c.add(
        "daily_drawdown",
        not (latched or over),
        detail,
        leg="open",
        value=f"{loss:.4f}",
        limit=limit,
    )


def _check_account(
    c: _Checks, quote: OptionQuote, amount: Decimal, inputs: RiskInputs, limits: RiskLimits
) -> None:
    portfolio = inputs.portfolio
    equity = portfolio.equity_usd
    available = equity is not None and equity > 0
    c.add(
        "portfolio_available",
        available,
        "equity known and positive" if available else "equity unknown or zero: no new risk",
        leg="open",
        value=equity,
    )
    used = portfolio.margin_used_pct
    headroom = limits.max_margin_used_pct * limits.open_margin_headroom_frac
    c.add(
        "margin_headroom",
        used is not None and used < headroom,
        f"margin used {used if used is None else round(used, 2)}% vs {headroom:.2f}% "
        "allowed for new calls",
        leg="open",
        value=None if used is None else f"{used:.4f}",
        limit=f"{headroom:.4f}",
    )
    if available and equity is not None:
        added = estimate_short_call_margin_usd(quote, amount)
        after = float((portfolio.initial_margin_usd + added) / equity * 100)
        c.add(
            "margin_after_order",
            after <= limits.max_margin_used_pct,
            f"margin after order ~{after:.2f}% (adds ~{added:,.2f} USD) vs max "
            f"{limits.max_margin_used_pct:.2f}%",
            leg="open",
            value=f"{after:.4f}",
            limit=limits.max_margin_used_pct,
        )


def order_delta_coin(quote: OptionQuote, amount: Decimal, *, sell: bool) -> float:
    """Change of the book's USD delta (coins) from trading `amount` of `quote` at its mark.

    Convention (`PortfolioState.net_delta`): the USD delta of the whole book in coins, coins
    held included. On an inverse option the premium is paid in coin, so a sale changes it by
    -(Black delta - mark price in coin) per contract: Deribit's premium-adjusted delta.
    """
    mark = float(quote.mark_price_coin or 0)
    per_contract = float(quote.delta or 0.0) - mark
    return (-per_contract if sell else per_contract) * float(amount)


def paper_delta_coin(
    positions: Iterable[OptionPosition], quotes: Mapping[str, OptionQuote]
) -> dict[str, float]:
    """Delta of the paper positions among `positions`, per currency, in `net_delta`'s convention.

    Why: a paper position (a dry-run fill) is in no exchange account, so the account's
    `equity + delta_total` leaves it out while the book the risk engine judges holds it. Each
    counts as if traded now at its quote's mark (`order_delta_coin`: premium-adjusted, the
    account's own convention for a held option); one without a quoted delta adds nothing.
    """
    moves: dict[str, float] = {}
    for position in positions:
        quote = quotes.get(position.instrument_name)
        if not position.paper or quote is None or quote.delta is None:
            continue
        change = order_delta_coin(quote, abs(position.size), sell=position.size < 0)
        moves[position.currency] = moves.get(position.currency, 0.0) + change
    return moves


def uncovered_delta(net_delta: float, holdings: float) -> float:
    """The part of a book's net delta (`PortfolioState.net_delta`, coins held included) that its
    coins do not cover: 0 while covered (0 <= net delta <= coins held), the net short below 0,
    the delta beyond the coins (leverage) above them."""
    if net_delta < 0:
        return net_delta
    return max(net_delta - max(holdings, 0.0), 0.0)


def _check_delta(
    c: _Checks,
    quote: OptionQuote,
    amount: Decimal,
    close: tuple[OptionQuote | None, Decimal],
    inputs: RiskInputs,
    limits: RiskLimits,
) -> None:
    """Net delta in one convention (see `PortfolioState.net_delta`): passes when the book
    stays within the limit, reduces its delta, or stays covered (0 <= delta <= coins held)."""
    current = inputs.portfolio.net_delta.get(quote.currency, 0.0)
    if quote.delta is None:
        c.add("net_delta", False, f"delta of {quote.instrument_name} unknown", leg="open")
        return
    change = order_delta_coin(quote, amount, sell=True)
    close_quote, close_amount = close
    if close_quote is not None and close_quote.delta is not None:
        change += order_delta_coin(close_quote, close_amount, sell=False)
    after = current + change
    holdings = float(inputs.portfolio.holdings(quote.currency))
    covered = 0.0 <= after <= holdings
    ok = abs(after) <= limits.max_net_delta_abs or abs(after) < abs(current) or covered
    c.add(
        "net_delta",
        ok,
        f"net delta (USD delta in coins, coins held included) {current:+.4f} -> {after:+.4f} "
        f"{quote.currency} vs max |{limits.max_net_delta_abs}|"
        + (" (covered: within 0..coins held)" if covered else "")
        + ("" if ok else " and it does not reduce it"),
        leg="open",
        value=f"{after:.6f}",
        limit=limits.max_net_delta_abs,
    )


def _check_rails(
    c: _Checks,
    quote: OptionQuote,
    amount: Decimal,
    closing: tuple[Decimal, Decimal, bool],
    inputs: RiskInputs,
    limits: RiskLimits,
) -> None:
    closing_amount, closing_same_expiry, closes_a_call = closing
    portfolio = inputs.portfolio
    ccy = quote.currency
    holdings = portfolio.holdings(ccy)
    shorts_after = portfolio.short_call_amount(ccy) - closing_amount + amount
    c.add(
        "covered_by_holdings",
        shorts_after <= holdings,
        f"short calls after order {shorts_after} {ccy} vs holdings {holdings} {ccy}",
        leg="open",
        value=shorts_after,
        limit=holdings,
    )
    room = holdings * _dec(limits.max_expiry_exposure_frac)
    in_expiry = portfolio.short_call_amount(ccy, quote.expiry) - closing_same_expiry + amount
    c.add(
        "expiry_exposure",
        in_expiry <= room,
        f"short calls in {quote.expiry:%Y-%m-%d} after order {in_expiry} {ccy} vs "
        f"{limits.max_expiry_exposure_frac:.0%} of holdings = {room} {ccy}",
        leg="open",
        value=in_expiry,
        limit=room,
    )
    names = {p.instrument_name for p in portfolio.short_calls(ccy)}
    count = len(names | {quote.instrument_name}) - (1 if closes_a_call else 0)
    c.add(
        "calls_per_underlying",
        count <= limits.max_calls_per_underlying,
        f"{count} open {ccy} calls after order vs max {limits.max_calls_per_underlying}",
        leg="open",
        value=count,
        limit=limits.max_calls_per_underlying,
    )
    cap = limits.max_order_amount_for(ccy)
    c.add(
        "order_size_cap",
        amount <= cap,
        f"order {amount} {ccy} vs cap {cap} {ccy}",
        leg="open",
        value=amount,
        limit=cap,
    )
    _check_mainnet_caps(c, quote, amount, shorts_after, inputs, limits)


def _check_mainnet_caps(
    c: _Checks,
    quote: OptionQuote,
    amount: Decimal,
    shorts_after: Decimal,
    inputs: RiskInputs,
    limits: RiskLimits,
) -> None:
    if inputs.environment is not Environment.MAINNET:
        return
    index = _dec(quote.index_price_usd)
    order_usd = (amount * index).quantize(Decimal("0.01"))
    total_usd = (shorts_after * index).quantize(Decimal("0.01"))
    c.add(
        "mainnet_order_notional",
        order_usd <= limits.mainnet_max_order_notional_usd,
        f"order notional {order_usd} USD vs mainnet cap {limits.mainnet_max_order_notional_usd}",
        leg="open",
        value=order_usd,
        limit=limits.mainnet_max_order_notional_usd,
    )
    c.add(
        "mainnet_underlying_notional",
        total_usd <= limits.mainnet_max_underlying_notional_usd,
        f"{quote.currency} short-call notional after order {total_usd} USD vs mainnet cap "
        f"{limits.mainnet_max_underlying_notional_usd}",
        leg="open",
        value=total_usd,
        limit=limits.mainnet_max_underlying_notional_usd,
    )

"""P&L of the covered-call books and of each position, from what we stored and the last marks.

Per underlying and book (paper: dry-run fills at the book, never sent; real: sent to the
exchange), in coin and in USD at the last tick's index:

- cash: premium received for calls sold - paid to buy calls back + received or paid when calls
  expired (`Position.settled_coin`, delivery fee included; an archived paper call counts as
  closed at its last mark) - trading fees (`Order.fee_coin`, per fill).
- realised: cash less the premium still held for open calls (size x average price), i.e. the
  P&L of everything closed, net of every fee paid so far.
- unrealised at mark: sum of size x (mark - average) over open calls (a short gains as the mark
  falls); at the buy-back price: the same with the best ask (what closing now would cost; the
  best bid for a long).
- total = realised + unrealised (at mark, and at the buy-back price).

A book with an open call that has no mark (no tick has quoted it) has unrealised and total
`None`: unknown, never silently zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

ZERO = Decimal(0)


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _usd(coin: Decimal | None, index: float | None) -> float | None:
    if coin is None or index is None:
        return None
    return round(float(coin) * float(index), 2)


def _text(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def close_price(size: Decimal, quote: Mapping[str, Any] | None) -> Decimal | None:
    """The price we could close at now: the best ask for a short, the best bid for a long."""
    if not quote:
        return None
    price = _dec(quote.get("ask" if size < 0 else "bid"))
    return price if price is not None and price > 0 else None


def position_realised_coin(position: Mapping[str, Any]) -> Decimal:
    """Realised P&L of one position in coin, fees paid included.

    Fills that closed part of it (`realised_coin`), less its fees, plus, when it expired or
    was archived, what the remaining size left: the premium kept (-size x average) and what
    was paid or received at delivery (`settled_coin`).
    """
    realised = _dec(position.get("realised_coin")) or ZERO
    fees = _dec(position.get("fees_coin")) or ZERO
    settled = _dec(position.get("settled_coin"))
    if settled is not None:
        size = _dec(position.get("size")) or ZERO
        average = _dec(position.get("average_price_coin")) or ZERO
        realised += settled - size * average
    return realised - fees


def position_figures(
    position: Mapping[str, Any],
    quote: Mapping[str, Any] | None,
    *,
    index_usd: float | None,
    now: datetime,
    strike: float | None,
    expiry: datetime | None,
) -> dict[str, Any]:
    """One open position as the cockpit shows it, from its row and the last tick's quote.

    `quote`: `mark`, `bid`, `ask` (coin per contract), `delta` (forward, per coin), `gamma`
    (per USD), `vega` (USD per vol point), `theta` (USD per day), `iv`. Unrealised is
    size x (price - average); premium captured % is (average - buy-back) / average for a
    short (the take-profit rule's measure); breakeven at expiry of a short inverse call is
    K / (1 - average): the index at which the payoff (S - K) / S equals the premium kept.
    Distance to strike is (K - index) / index.
    """
    size = _dec(position.get("size")) or ZERO
    average = _dec(position.get("average_price_coin")) or ZERO
    mark = _dec(quote.get("mark")) if quote else None
    buyback = close_price(size, quote)
    unrealised_mark = None if mark is None else size * (mark - average)
    unrealised_buyback = None if buyback is None else size * (buyback - average)
    realised = position_realised_coin(position)
    captured = None
    if buyback is not None and average > 0 and size < 0:
        captured = float((average - buyback) / average * 100)
    dte = None if expiry is None else (expiry - now).total_seconds() / 86400.0
    distance = None
    if strike is not None and index_usd:
        distance = (strike - float(index_usd)) / float(index_usd) * 100
    breakeven = None
    if strike is not None and size < 0 and average < 1:
        breakeven = strike / (1 - float(average))
    greeks: dict[str, float | None] = {}
    for name in ("delta", "gamma", "vega", "theta"):
        value = (quote or {}).get(name)
        greeks[name] = None if value is None else float(value) * float(size)
    return {
        "mark_coin": _text(mark),
        "buyback_coin": _text(buyback),
        "iv": (quote or {}).get("iv"),
        "unrealised_mark_coin": _text(unrealised_mark),
        "unrealised_mark_usd": _usd(unrealised_mark, index_usd),
        "unrealised_buyback_coin": _text(unrealised_buyback),
        "unrealised_buyback_usd": _usd(unrealised_buyback, index_usd),
        "realised_coin": str(realised),
        "realised_usd": _usd(realised, index_usd),
        "fees_coin": str(_dec(position.get("fees_coin")) or ZERO),
        "premium_captured_pct": None if captured is None else round(captured, 2),
        "dte_days": None if dte is None else round(dte, 3),
        "distance_to_strike_pct": None if distance is None else round(distance, 2),
        "breakeven_usd": None if breakeven is None else round(breakeven, 2),
        "greeks": greeks,
        "index_usd": index_usd,
    }


def pnl_books(
    fills: Sequence[Mapping[str, Any]],
    settled: Sequence[Mapping[str, Any]],
    open_positions: Sequence[Mapping[str, Any]],
    index_usd: Mapping[str, Any],
    quotes: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Per underlying and book (paper: dry run; real: sent to the exchange), coin and USD.

    `fills`: rows of currency, dry_run, direction, coin (filled amount x average price), legs,
    fees (their `fee_coin` sum). `settled`: closed or archived positions' currency, paper, coin
    (their `settled_coin` sum), expired. `open_positions`: currency, paper, instrument_name,
    size, average_price_coin. `quotes`: instrument -> {mark, bid, ask} of the last tick.
    `net_coin` (sold - bought + settled, before fees) is kept for readers of the old figure.
    """
    quotes = quotes or {}
    books: dict[tuple[str, str], dict[str, Any]] = {}

    def book(currency: Any, paper: Any) -> dict[str, Any]:
        key = (str(currency), "paper" if paper else "real")
        return books.setdefault(
            key,
            {
                "currency": key[0],
                "book": key[1],
                "sold_coin": ZERO,
                "sells": 0,
                "bought_coin": ZERO,
                "buys": 0,
                "settled_coin": ZERO,
                "expired": 0,
                "fees_coin": ZERO,
                "open_positions": 0,
                "open_premium_coin": ZERO,
                "unrealised_mark_coin": ZERO,
                "unrealised_buyback_coin": ZERO,
                "unmarked": 0,
            },
        )

    for row in fills:
        entry = book(row["currency"], row["dry_run"])
        side = "sold" if row["direction"] == "sell" else "bought"
        entry[f"{side}_coin"] += _dec(row["coin"]) or ZERO
        entry["sells" if side == "sold" else "buys"] += int(row["legs"])
        entry["fees_coin"] += _dec(row.get("fees")) or ZERO
    for row in settled:
        entry = book(row["currency"], row["paper"])
        entry["settled_coin"] += _dec(row["coin"]) or ZERO
        entry["expired"] += int(row["expired"])
    for row in open_positions:
        entry = book(row["currency"], row["paper"])
        size = _dec(row["size"]) or ZERO
        average = _dec(row["average_price_coin"]) or ZERO
        entry["open_positions"] += 1
        entry["open_premium_coin"] -= size * average
        quote = quotes.get(str(row["instrument_name"]))
        mark = _dec(quote.get("mark")) if quote else None
        buyback = close_price(size, quote)
        if mark is None or buyback is None:
            entry["unmarked"] += 1
            continue
        entry["unrealised_mark_coin"] += size * (mark - average)
        entry["unrealised_buyback_coin"] += size * (buyback - average)
    result = []
    for key in sorted(books):
        entry = books[key]
        index = index_usd.get(entry["currency"])
        price = None if index is None else float(index)
        net = entry["sold_coin"] - entry["bought_coin"] + entry["settled_coin"]
        cash = net - entry["fees_coin"]
        realised = cash - entry["open_premium_coin"]
        marked = entry.pop("unmarked") == 0
        unrealised_mark = entry["unrealised_mark_coin"] if marked else None
        unrealised_buyback = entry["unrealised_buyback_coin"] if marked else None
        figures = {
            "net_coin": net,
            "cash_coin": cash,
            "realised_coin": realised,
            "unrealised_mark_coin": unrealised_mark,
            "unrealised_buyback_coin": unrealised_buyback,
            "total_mark_coin": None if unrealised_mark is None else realised + unrealised_mark,
            "total_buyback_coin": None
            if unrealised_buyback is None
            else realised + unrealised_buyback,
        }
        usd = {
            name.replace("_coin", "_usd"): _usd(value, price)
            for name, value in figures.items()
            if name != "cash_coin"
        } | {"fees_usd": _usd(entry["fees_coin"], price)}
        result.append(
            {k: _text(v) for k, v in (entry | figures).items()} | usd | {"marked": marked}
        )
    return result


def pnl_subtotals(books: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """USD subtotals per book (paper, real) across underlyings; None where a part is unknown."""
    result = []
    for name in ("real", "paper"):
        rows = [b for b in books if b["book"] == name]
        if not rows:
            continue
        subtotal: dict[str, Any] = {"book": name, "underlyings": len(rows)}
        for field in (
            "realised_usd",
            "unrealised_mark_usd",
            "unrealised_buyback_usd",
            "total_mark_usd",
            "total_buyback_usd",
            "fees_usd",
        ):
            values = [b.get(field) for b in rows]
            known = [float(v) for v in values if v is not None]
            subtotal[field] = None if len(known) < len(values) else round(sum(known), 2)
        result.append(subtotal)
    return result


def pnl_daily(
    cash_rows: Sequence[Mapping[str, Any]],
    equity_rows: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """Daily P&L per book and the account's equity with its drawdown, for the history charts.

    `cash_rows`: {day, book, usd} realised cash flows (premium received, buy-backs paid, fees,
    expiry settlements, converted at that day's index). `equity_rows`: {day, equity_usd} the
    last tick's equity of each day. Returns days in order with per-book daily and cumulative
    USD, and equity with drawdown from the running peak (percent, <= 0).
    """
    days = sorted({r["day"] for r in cash_rows} | {r["day"] for r in equity_rows})
    books = sorted({str(r["book"]) for r in cash_rows}, key=lambda b: (b != "real", b))
    daily: dict[str, list[float]] = {b: [0.0] * len(days) for b in books}
    where = {day: i for i, day in enumerate(days)}
    for row in cash_rows:
        daily[str(row["book"])][where[row["day"]]] += float(row["usd"])
    cumulative: dict[str, list[float]] = {}
    for book, values in daily.items():
        total, running = 0.0, []
        for value in values:
            total += value
            running.append(round(total, 2))
        cumulative[book] = running
    equity: list[float | None] = [None] * len(days)
    for row in equity_rows:
        if row.get("equity_usd") is not None:
            equity[where[row["day"]]] = float(row["equity_usd"])
    drawdown: list[float | None] = []
    peak: float | None = None
    for point in equity:
        if point is None:
            drawdown.append(None)
            continue
        value = point
        peak = value if peak is None else max(peak, value)
        drawdown.append(round((value / peak - 1.0) * 100, 2) if peak else None)
    known = [d for d in drawdown if d is not None]
    return {
        "days": days,
        "daily_usd": {b: [round(v, 2) for v in values] for b, values in daily.items()},
        "cumulative_usd": cumulative,
        "equity_usd": equity,
        "drawdown_pct": drawdown,
        "max_drawdown_pct": min(known) if known else None,
    }

"""P&L of the covered-call books from what we stored: fills and expiry settlements.

Per underlying and book (paper: dry-run fills at the book, never sent; real: sent to the
exchange), in coin: premium received for calls sold, paid to buy calls back, and received or
paid when calls expired (`Position.settled_coin`, delivery fee included). Trading fees are not
stored per fill, so figures are before them. Net is realised for calls that are closed; for
open ones it includes premium that is still at risk until they close or expire.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any


def pnl_books(
    fills: Sequence[Mapping[str, Any]],
    settled: Sequence[Mapping[str, Any]],
    still_open: Sequence[Mapping[str, Any]],
    index_usd: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """Per underlying and book (paper: dry run; real: sent to the exchange), in coin.

    `fills`: rows of currency, dry_run, direction, coin (filled amount x average price), legs.
    `settled`: closed positions' currency, paper, coin (their `settled_coin` sum), expired.
    `still_open`: open positions' currency, paper, count. Net = premium received - paid to buy
    back + settled at expiry: realised for closed calls, and for open ones the premium they
    still put at risk. USD at the last tick's index.
    """
    books: dict[tuple[str, str], dict[str, Any]] = {}

    def book(currency: Any, paper: Any) -> dict[str, Any]:
        key = (str(currency), "paper" if paper else "real")
        return books.setdefault(
            key,
            {
                "currency": key[0],
                "book": key[1],
                "sold_coin": Decimal(0),
                "sells": 0,
                "bought_coin": Decimal(0),
                "buys": 0,
                "settled_coin": Decimal(0),
                "expired": 0,
                "open_positions": 0,
            },
        )

    for row in fills:
        entry = book(row["currency"], row["dry_run"])
        side = "sold" if row["direction"] == "sell" else "bought"
        entry[f"{side}_coin"] += Decimal(row["coin"] or 0)
        entry["sells" if side == "sold" else "buys"] += int(row["legs"])
    for row in settled:
        entry = book(row["currency"], row["paper"])
        entry["settled_coin"] += Decimal(row["coin"] or 0)
        entry["expired"] += int(row["expired"])
    for row in still_open:
        book(row["currency"], row["paper"])["open_positions"] += int(row["count"])
    result = []
    for key in sorted(books):
        entry = books[key]
        net = entry["sold_coin"] - entry["bought_coin"] + entry["settled_coin"]
        price = index_usd.get(entry["currency"])
        usd = None if price is None else float(net) * float(price)
        result.append(
            {k: (str(v) if isinstance(v, Decimal) else v) for k, v in entry.items()}
            | {"net_coin": str(net), "net_usd": None if usd is None else round(usd, 2)}
        )
    return result

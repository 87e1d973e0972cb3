"""The risk engine's judgement of a reduce-only order that trims an exchange position.

Reconciliation's `close` action sends one: the exchange holds more than our books, and the
excess is closed at market. It may only shrink the exchange's position: the opposite side of
that position, and never more than its size (so it cannot flip it into new risk).
"""

from __future__ import annotations

from decimal import Decimal

from trading.domain.risk.verdict import RiskVerdict, _Checks


def evaluate_reduce_only(
    *, instrument_name: str, direction: str, amount: Decimal, exchange_size: Decimal
) -> RiskVerdict:
    """Approve only an order on the side that shrinks `exchange_size`, at most its size."""
    c = _Checks()
    shrinking = "buy" if exchange_size < 0 else "sell"
    c.add(
        "reduce_only_side",
        exchange_size != 0 and direction == shrinking,
        f"{direction} on a position of {exchange_size} in {instrument_name}"
        + ("" if direction == shrinking else f": only a {shrinking} reduces it"),
        leg="close",
    )
    c.add(
        "reduce_only_size",
        Decimal(0) < amount <= abs(exchange_size),
        f"{amount} vs position size {abs(exchange_size)}",
        leg="close",
        value=str(amount),
        limit=str(abs(exchange_size)),
    )
    return RiskVerdict(
        action="RECONCILE_CLOSE",
        approved=all(check.passed for check in c.items),
        increases_risk=False,
        checks=tuple(c.items),
    )

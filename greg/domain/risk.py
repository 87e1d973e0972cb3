"""The risk engine's judgement of a Greg structure (several legs, puts and calls).

The covered-call engine's guards apply unchanged (kill switch, daily drawdown); the account
checks are the structure's: equity known, margin after the order under the maximum, net delta
(coins held included, as everywhere) within the limit beyond what the coins cover (or reduced),
each leg under the per-order size cap; and Greg's tiny-size guardrails: notional per position
and per underlying (open Greg positions included).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from trading.domain.params import RiskLimits
from trading.domain.risk.exposure_checks import _check_guards, uncovered_delta
from trading.domain.risk.inputs import RiskInputs
from trading.domain.risk.verdict import RiskVerdict, _Checks


@dataclass(frozen=True)
class StructureRisk:
    """What the risk engine needs of a Greg order: legs, margin, delta and notional."""

    action: str
    underlying: str
    legs: Sequence[tuple[str, Decimal]]
    margin_usd: float
    delta_change: float
    notional_usd: float
    reduces_risk: bool = False


@dataclass(frozen=True)
class Guardrails:
    """Greg's tiny-size limits (USD) and what is already open on the underlying."""

    max_notional_position_usd: float
    max_notional_underlying_usd: float
    open_notional_underlying_usd: float


def _check_size(c: _Checks, order: StructureRisk, limits: RiskLimits) -> None:
    cap = limits.max_order_amount.get(order.underlying)
    for name, amount in order.legs:
        ok = cap is None or amount <= cap
        c.add("size_cap", ok, f"{name}: {amount} vs cap {cap}", leg="open", value=str(amount))


def _check_account(
    c: _Checks, order: StructureRisk, inputs: RiskInputs, limits: RiskLimits
) -> None:
    portfolio = inputs.portfolio
    equity = portfolio.equity_usd
    available = equity is not None and equity > 0
    c.add("portfolio_available", available, "equity known" if available else "equity unknown")
    if available and equity is not None:
        after = float(
            (portfolio.initial_margin_usd + Decimal(repr(order.margin_usd))) / equity * 100
        )
        c.add(
            "margin_after_order",
            order.reduces_risk or after <= limits.max_margin_used_pct,
            f"margin after order ~{after:.2f}% vs max {limits.max_margin_used_pct:.2f}%",
            value=f"{after:.4f}",
            limit=str(limits.max_margin_used_pct),
        )
    _check_delta(c, order, inputs, limits)


def _check_delta(c: _Checks, order: StructureRisk, inputs: RiskInputs, limits: RiskLimits) -> None:
    """Net delta in the project's one convention (`PortfolioState.net_delta`: USD delta in
    coins, coins held included): the limit applies to what the coins do not cover
    (`uncovered_delta`), so covered calls beside the coins are not a naked short. Passes within
    the limit, when the order shrinks the uncovered delta, or when it reduces risk (a close)."""
    current = inputs.portfolio.net_delta.get(order.underlying, 0.0)
    new = current + order.delta_change
    holdings = float(inputs.portfolio.holdings(order.underlying))
    before, after = uncovered_delta(current, holdings), uncovered_delta(new, holdings)
    limit = limits.max_net_delta_abs
    ok = order.reduces_risk or abs(after) <= limit or abs(after) < abs(before)
    c.add(
        "net_delta",
        ok,
        f"net delta (USD delta in coins, coins held included) {current:+.4f} -> {new:+.4f} "
        f"{order.underlying}; not covered by the {holdings:g} coins held: {after:+.4f} vs max "
        f"|{limit}|",
        value=f"{new:.6f}",
        limit=str(limit),
    )


def _check_guardrails(c: _Checks, order: StructureRisk, rails: Guardrails) -> None:
    per_position = order.notional_usd <= rails.max_notional_position_usd
    c.add(
        "greg.max_notional_per_position",
        order.reduces_risk or per_position,
        f"notional {order.notional_usd:.2f} USD vs max {rails.max_notional_position_usd:.2f}",
        value=f"{order.notional_usd:.2f}",
        limit=f"{rails.max_notional_position_usd:.2f}",
    )
    total = rails.open_notional_underlying_usd + order.notional_usd
    already = rails.open_notional_underlying_usd
    c.add(
        "greg.max_notional_per_underlying",
        order.reduces_risk or total <= rails.max_notional_underlying_usd,
        f"{order.underlying} notional {total:.2f} USD (open {already:.2f})"
        f" vs max {rails.max_notional_underlying_usd:.2f}",
        value=f"{total:.2f}",
        limit=f"{rails.max_notional_underlying_usd:.2f}",
    )


def evaluate_greg_risk(
    order: StructureRisk, inputs: RiskInputs, limits: RiskLimits, rails: Guardrails
) -> RiskVerdict:
    """Run every check on a Greg order, never stopping early; approved only if all pass."""
    c = _Checks()
    if not order.reduces_risk:
        _check_guards(c, inputs, limits)
    _check_size(c, order, limits)
    _check_account(c, order, inputs, limits)
    _check_guardrails(c, order, rails)
    return RiskVerdict(
        action=order.action,
        approved=all(check.passed for check in c.items),
        increases_risk=not order.reduces_risk,
        checks=tuple(c.items),
    )

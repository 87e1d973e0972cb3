"""`evaluate_risk`: runs every check that applies to a proposal's legs, never stopping early."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from trading.domain.params import RiskLimits
from trading.domain.risk.exposure_checks import (
    _check_account,
    _check_delta,
    _check_guards,
    _check_rails,
)
from trading.domain.risk.inputs import OptionQuote, RiskInputs
from trading.domain.risk.order_checks import _check_close_leg, _check_instrument, _check_market
from trading.domain.risk.stress import evaluate_stress, proposal_trades
from trading.domain.risk.verdict import RiskVerdict, _Checks

if TYPE_CHECKING:
    from trading.domain.proposal_types import OrderLeg, Proposal


def evaluate_risk(proposal: Proposal, inputs: RiskInputs, limits: RiskLimits) -> RiskVerdict:
    """Judge a proposal: run every check that applies to its legs, approve only if all pass.

    A proposal that opens risk is also judged on the whole book after all its legs
    (`stress.evaluate_stress`: worst scenario loss and vega).
    """
    action = str(proposal.action.value)
    if not proposal.legs:
        return RiskVerdict(action=action, approved=True, increases_risk=False)
    c = _Checks()
    close_leg, open_leg = proposal.close_leg, proposal.open_leg
    close_quote = inputs.quotes.get(close_leg.instrument_name) if close_leg else None
    if close_leg is not None:
        _check_instrument(c, close_leg, close_quote, "close", inputs)
        _check_close_leg(c, close_leg, inputs)
    if open_leg is not None:
        _evaluate_open_leg(c, open_leg, (close_leg, close_quote), inputs, limits)
        if open_leg.instrument_name in inputs.quotes:
            trades = proposal_trades(
                (g.instrument_name, g.direction, g.amount) for g in proposal.legs
            )
            c.items.extend(evaluate_stress(trades, inputs, limits))
    return RiskVerdict(
        action=action,
        approved=all(check.passed for check in c.items),
        increases_risk=open_leg is not None,
        checks=tuple(c.items),
    )


def _evaluate_open_leg(
    c: _Checks,
    leg: OrderLeg,
    close: tuple[OrderLeg | None, OptionQuote | None],
    inputs: RiskInputs,
    limits: RiskLimits,
) -> None:
    close_leg, close_quote = close
    quote = inputs.quotes.get(leg.instrument_name)
    _check_guards(c, inputs, limits)
    _check_instrument(c, leg, quote, "open", inputs)
    if quote is None:
        return
    closing = close_leg.amount if close_leg is not None else Decimal(0)
    same_expiry = close_quote is not None and close_quote.expiry == quote.expiry
    closes_a_call = (
        close_leg is not None
        and inputs.portfolio.short_call_amount_of(close_leg.instrument_name) <= closing
    )
    _check_account(c, quote, leg.amount, inputs, limits)
    _check_delta(c, quote, leg.amount, (close_quote, closing), inputs, limits)
    _check_rails(
        c,
        quote,
        leg.amount,
        (closing, closing if same_expiry else Decimal(0), closes_a_call),
        inputs,
        limits,
    )
    _check_market(c, quote, leg, inputs, limits)

"""Order sizing: the exchange's amount grid, room under the size rails, margin a sale adds."""

from __future__ import annotations

from decimal import Decimal

from trading.domain.instruments import BelowMinimumAmountError, ContractSpec, quantize_amount
from trading.domain.params import Environment, RiskLimits
from trading.domain.risk.inputs import OptionQuote, RiskInputs

#: Deribit's standard initial margin for a short option, per coin: max(0.15 - OTM%, 0.10) + mark.
STANDARD_MARGIN_BASE = Decimal("0.15")
STANDARD_MARGIN_FLOOR = Decimal("0.10")


def _dec(value: float) -> Decimal:
    return Decimal(repr(value))


def quantize_order_amount(amount: Decimal, spec: ContractSpec) -> Decimal | None:
    """`amount` rounded down to the amount step; None when that is below the minimum."""
    if not amount.is_finite() or amount <= 0:
        return None
    try:
        return quantize_amount(amount, spec)
    except BelowMinimumAmountError:
        return None


def open_amount_capacity(
    quote: OptionQuote,
    inputs: RiskInputs,
    limits: RiskLimits,
    *,
    closing_amount: Decimal = Decimal(0),
    closing_same_expiry: Decimal = Decimal(0),
) -> Decimal:
    """The most coins of `quote` that may be sold under the size rails (not yet on the step).

    The minimum of: the per-order cap, the holdings not yet covering a call, the per-expiry
    exposure room, the best-bid depth over its required multiple, and on mainnet the notional
    caps. `closing_amount` (and `closing_same_expiry`) credit a call bought back in the same
    proposal (a roll). Never negative.
    """
    portfolio = inputs.portfolio
    ccy = quote.currency
    holdings = portfolio.holdings(ccy)
    shorts = portfolio.short_call_amount(ccy) - closing_amount
    in_expiry = portfolio.short_call_amount(ccy, quote.expiry) - closing_same_expiry
    caps = [
        limits.max_order_amount_for(ccy),
        holdings - shorts,
        holdings * _dec(limits.max_expiry_exposure_frac) - in_expiry,
    ]
    if limits.liquidity_min_depth_multiple > 0 and quote.best_bid_amount is not None:
        caps.append(quote.best_bid_amount / _dec(limits.liquidity_min_depth_multiple))
    if inputs.environment is Environment.MAINNET:
        index = _dec(quote.index_price_usd)
        caps.append(limits.mainnet_max_order_notional_usd / index)
        caps.append(limits.mainnet_max_underlying_notional_usd / index - shorts)
    return max(min(caps), Decimal(0))


def roll_open_amount(
    new_quote: OptionQuote,
    inputs: RiskInputs,
    limits: RiskLimits,
    *,
    close_amount: Decimal,
    close_quote: OptionQuote | None,
) -> Decimal | None:
    """The size of a roll's new call: the amount bought back, clamped to the size rails and put
    on the step (None when that is below the minimum).

    The call bought back frees its holdings, and its expiry's exposure when the new call shares
    that expiry (`close_quote`'s expiry; no credit when the old call has no quote). One rule
    for the rule policy's rolls and for validated external ones.
    """
    same_expiry = close_quote is not None and close_quote.expiry == new_quote.expiry
    capacity = open_amount_capacity(
        new_quote,
        inputs,
        limits,
        closing_amount=close_amount,
        closing_same_expiry=close_amount if same_expiry else Decimal(0),
    )
    return quantize_order_amount(min(close_amount, capacity), new_quote.spec)


def estimate_short_call_margin_usd(quote: OptionQuote, amount: Decimal) -> Decimal:
    """Initial margin of selling `amount` calls under Deribit's standard formula, USD.

    Per coin: max(0.15 - OTM fraction, 0.10) + mark, times the index. The OTM fraction is
    measured on the expiry's forward (`quote.forward_usd`, Deribit's `underlying_price`; the
    index only when the forward is unknown), as the simulated exchange does
    (`simulator.accounts.otm_fraction`) and as the reference example reproduces (OTM 3.33% =
    (110000 - 106450) / 106450). An estimate: the account's margin model (portfolio margin,
    cross collateral) may ask less.
    """
    index = _dec(quote.index_price_usd)
    reference = _dec(quote.forward_usd) if quote.forward_usd else index
    strike = quote.strike_usd or reference
    otm_frac = max(strike - reference, Decimal(0)) / reference
    mark = quote.mark_price_coin or quote.best_bid_coin or Decimal(0)
    per_coin = max(STANDARD_MARGIN_BASE - otm_frac, STANDARD_MARGIN_FLOOR) + mark
    return per_coin * amount * index

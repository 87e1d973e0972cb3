"""HEDGE_ENGINE v1: advisory delta hedges of Greg positions with the perpetual.

Per-strategy modes (from the spec): DYNAMIC_DELTA restores net delta to zero once it leaves
the band (|net delta per coin of position| > threshold) or the index moved more than the
spec's price-move trigger since the last hedge; LIGHT_DELTA nudges it back to half the band;
LOOSE_DELTA trims it back to the band's edge only; NONE never hedges. Net delta = option
deltas + perpetual delta (one coin per coin of notional). Hedge sizes are in USD contracts of
the inverse perpetual, rounded to its amount step (BTC 10 USD, ETH 1 USD).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from pydantic import BaseModel, ConfigDict

from greg.domain.spec import GregSpec, load_spec
from trading.domain.instruments import ContractSpec, default_spec


class HedgeAdvice(BaseModel):
    """Whether to trade the perpetual, how much (USD, signed: + buy), and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: str
    mode: str
    instrument_name: str
    net_delta: float
    delta_per_coin: float
    band: float | None
    target_delta: float
    hedge: bool
    amount_usd: Decimal
    direction: str
    reason: str


def _target(mode: str, band: float, size: float, net_delta: float) -> float:
    sign = 1.0 if net_delta > 0 else -1.0
    if mode == "LIGHT_DELTA":
        return sign * band * size / 2.0
    if mode == "LOOSE_DELTA":
        return sign * band * size
    return 0.0


def hedge_advise(
    *,
    strategy: str,
    underlying: str,
    option_delta: float,
    perp_delta: float,
    size_coin: float,
    index_price: float,
    price_move_pct: float = 0.0,
    perp_spec: ContractSpec | None = None,
    spec: GregSpec | None = None,
) -> HedgeAdvice:
    """Advise a perpetual hedge for one position (deltas in coins, ``size_coin`` > 0)."""
    spec = spec or load_spec()
    rules = spec.position.strategies[strategy]
    instrument = spec.position.hedge_instrument.get(underlying, f"{underlying}-PERPETUAL")
    net = option_delta + perp_delta
    per_coin = net / size_coin if size_coin > 0 else 0.0
    band = rules.delta_threshold

    def advice(hedge: bool, target: float, amount: Decimal, reason: str) -> HedgeAdvice:
        direction = "buy" if amount > 0 else "sell" if amount < 0 else "none"
        return HedgeAdvice(
            strategy=strategy,
            mode=rules.hedge_mode,
            instrument_name=instrument,
            net_delta=net,
            delta_per_coin=per_coin,
            band=band,
            target_delta=target,
            hedge=hedge,
            amount_usd=amount,
            direction=direction,
            reason=reason,
        )

    if rules.hedge_mode == "NONE" or band is None:
        return advice(False, net, Decimal(0), "strategy is not hedged (directional)")
    moved = (
        rules.hedge_mode == "DYNAMIC_DELTA"
        and abs(price_move_pct) > spec.position.hedge_on_price_move_pct
        and net != 0.0
    )
    if abs(per_coin) <= band and not moved:
        return advice(False, net, Decimal(0), f"|delta/coin| {abs(per_coin):.3f} <= band {band}")
    target = _target(rules.hedge_mode, band, size_coin, net)
    contract = perp_spec or default_spec(instrument)
    usd = Decimal(repr((target - net) * index_price))
    step = contract.contract_size
    amount = (usd / step).to_integral_value(rounding=ROUND_HALF_EVEN) * step
    why = (
        f"index moved {price_move_pct:+.2%} since the last hedge"
        if abs(per_coin) <= band
        else f"|delta/coin| {abs(per_coin):.3f} > band {band}"
    )
    if amount == 0:
        return advice(False, target, amount, why + "; hedge rounds to zero contracts")
    return advice(True, target, amount, f"{why}: trade {amount} USD of {instrument}")

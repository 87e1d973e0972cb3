"""POSITION_ENGINE v1: advisory management of open Greg positions.

For each position: the black-swan protocol first, then the strategy's stop, profit target and
expiry/roll/assignment rules (spec ``[position.strategies]``), then the hedge engine. Every
rule's check is returned with its numbers, so the dashboard shows why an action is (or is
not) suggested. Money in USD; ``credit_usd`` is the premium received at entry (negative for a
debit, the calendar); P&L = credit - cost to close now.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from greg.domain.hedge import HedgeAdvice, hedge_advise
from greg.domain.spec import GregSpec, load_spec

SHORT_VOL = frozenset(
    {
        "STRATEGY_A_STRADDLE",
        "STRATEGY_A_STRANGLE",
        "STRATEGY_B_CALENDAR",
        "STRATEGY_D_IRON_BUTTERFLY",
        "STRATEGY_F_BULL_PUT_SPREAD",
        "STRATEGY_F_BEAR_CALL_SPREAD",
    }
)
PRIORITY = {"CLOSE": 1, "CLOSE_SHORT_LEG": 2, "ASSIGN": 3, "ROLL": 4, "HEDGE": 5, "HOLD": 9}


class LegState(BaseModel):
    """One open leg now: signed size (coins, negative short), strike, type, expiry, mark, delta."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    instrument_name: str
    size: float
    strike: float
    option_type: str
    expiry: datetime
    mark_price_coin: float
    delta: float
    iv_pct: float | None = None


class PositionState(BaseModel):
    """A Greg position as the engine sees it at ``now``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: str
    underlying: str
    now: datetime
    index_price: float
    credit_usd: float
    legs: tuple[LegState, ...]
    perp_delta: float = 0.0
    last_hedge_price: float | None = None
    market_change_24h_pct: float | None = None
    account_health: float | None = None
    predicted_funding: float | None = None


class Advice(BaseModel):
    """One suggested action with its rule and reason (advisory: nothing is sent)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: str
    rule: str
    reason: str
    priority: int
    hedge: HedgeAdvice | None = None


class PositionReview(BaseModel):
    """The engine's review: figures, every check made, and the suggested actions by priority."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: str
    pnl_usd: float
    cost_to_close_usd: float
    dte_days: float
    net_delta: float
    checks: tuple[str, ...]
    actions: tuple[Advice, ...]

    @property
    def top(self) -> Advice:
        """The most urgent suggestion."""
        return self.actions[0]


def _advice(action: str, rule: str, reason: str, hedge: HedgeAdvice | None = None) -> Advice:
    return Advice(action=action, rule=rule, reason=reason, priority=PRIORITY[action], hedge=hedge)


def _figures(state: PositionState) -> tuple[float, float, float]:
    cost = sum(-leg.size * leg.mark_price_coin for leg in state.legs) * state.index_price
    dte = min((leg.expiry - state.now).total_seconds() for leg in state.legs) / 86400.0
    return state.credit_usd - cost, cost, dte


def _shorts(state: PositionState, kind: str | None = None) -> list[LegState]:
    return [x for x in state.legs if x.size < 0 and (kind is None or x.option_type == kind)]


def _longs(state: PositionState, kind: str) -> list[LegState]:
    return [x for x in state.legs if x.size > 0 and x.option_type == kind]


def _black_swan(state: PositionState, spec: GregSpec, checks: list[str]) -> Advice | None:
    change = state.market_change_24h_pct
    limit = spec.position.black_swan_drop_pct
    if change is None:
        checks.append("black swan: 24h market change unknown")
        return None
    checks.append(f"black swan: 24h change {change:+.1f}% vs < {limit:g}%")
    if change >= limit:
        return None
    if state.strategy in SHORT_VOL:
        return _advice("CLOSE", "black_swan", "Black swan: close short vol at market")
    health = state.account_health
    if health is not None and health < spec.position.black_swan_min_health:
        return _advice("CLOSE", "black_swan", f"Black swan and health {health:.2f} < 1.2")
    return _advice("HOLD", "black_swan", "Black swan: hold and monitor the accumulation put")


def _stop_loss_multiple(
    state: PositionState, pnl: float, k: float, checks: list[str]
) -> Advice | None:
    limit = k * abs(state.credit_usd)
    checks.append(f"stop: loss {-pnl:.2f} vs > {limit:.2f} USD ({k:g}x credit)")
    if -pnl > limit:
        return _advice("CLOSE", "stop_loss", f"Loss {-pnl:.2f} USD > {k:g}x credit")
    return None


def _stop_price_move(
    state: PositionState, pnl: float, k: float, checks: list[str]
) -> Advice | None:
    shorts = _shorts(state)
    strike = shorts[0].strike if shorts else state.index_price
    move = abs(state.index_price - strike) / strike
    checks.append(f"stop: move from strike {move:.2%} vs > {k:.0%}")
    if move > k:
        return _advice("CLOSE", "stop_loss", f"Price {move:.1%} away from the strike")
    return None


def _stop_delta(state: PositionState, pnl: float, k: float, checks: list[str]) -> Advice | None:
    delta = max((abs(x.delta) for x in _shorts(state)), default=0.0)
    checks.append(f"stop: |put delta| {delta:.2f} vs > {k:g}")
    if delta > k:
        return _advice(
            "ROLL", "stop_delta", f"|delta| {delta:.2f} > {k:g}: roll or take assignment"
        )
    return None


def _stop_wing(state: PositionState, pnl: float, k: float, checks: list[str]) -> Advice | None:
    price = state.index_price
    calls, puts = _longs(state, "C"), _longs(state, "P")
    hit = bool(calls and price >= calls[0].strike) or bool(puts and price <= puts[0].strike)
    checks.append(f"stop: index {price:.0f} vs wing strikes")
    return _advice("CLOSE", "stop_wing", "Index touched a wing strike") if hit else None


def _stop_short_strike(
    state: PositionState, pnl: float, k: float, checks: list[str]
) -> Advice | None:
    price = state.index_price
    short = _shorts(state)[0]
    hit = price <= short.strike if short.option_type == "P" else price >= short.strike
    checks.append(f"stop: index {price:.0f} vs short strike {short.strike:.0f}")
    return _advice("CLOSE", "stop_strike", "Index touched the short strike") if hit else None


_STOPS = {
    "loss_multiple_of_credit": _stop_loss_multiple,
    "price_move_pct": _stop_price_move,
    "delta_abs": _stop_delta,
    "touch_wing": _stop_wing,
    "touch_short_strike": _stop_short_strike,
}


def _stop(state: PositionState, pnl: float, spec: GregSpec, checks: list[str]) -> Advice | None:
    rule = spec.position.strategies[state.strategy].stop
    return _STOPS[rule.kind](state, pnl, rule.threshold, checks)


def _profit(state: PositionState, pnl: float, spec: GregSpec, checks: list[str]) -> Advice | None:
    rule = spec.position.strategies[state.strategy].profit
    if rule.kind == "front_vs_back_iv":
        front = min(state.legs, key=lambda x: x.expiry)
        back = max(state.legs, key=lambda x: x.expiry)
        if front.iv_pct is None or back.iv_pct is None:
            checks.append("profit: front/back IV unknown")
            return None
        checks.append(f"profit: front IV {front.iv_pct:.1f} vs < back IV {back.iv_pct:.1f}")
        if front.iv_pct < back.iv_pct:
            return _advice(
                "CLOSE", "profit_target", "Front IV below back IV: event premium crushed"
            )
        return None
    target = rule.threshold * abs(state.credit_usd)
    checks.append(f"profit: P&L {pnl:.2f} vs >= {target:.2f} USD ({rule.threshold:.0%})")
    if state.credit_usd > 0 and pnl >= target:
        return _advice(
            "CLOSE", "profit_target", f"P&L {pnl:.2f} USD >= {rule.threshold:.0%} of credit"
        )
    return None


def _expiry(state: PositionState, dte: float, spec: GregSpec, checks: list[str]) -> Advice | None:
    rules = spec.position.strategies[state.strategy]
    if rules.close_at_dte is not None:
        checks.append(f"expiry: DTE {dte:.1f} vs < {rules.close_at_dte:g}")
        if dte < rules.close_at_dte:
            return _advice(
                "ROLL", "expiry_dte", f"DTE {dte:.1f} < {rules.close_at_dte:g}: close or roll"
            )
    if rules.close_front_leg_hours is not None:
        hours = dte * 24.0
        checks.append(f"expiry: front leg {hours:.0f} h vs <= {rules.close_front_leg_hours:g} h")
        if hours <= rules.close_front_leg_hours:
            return _advice(
                "CLOSE", "expiry_front_leg", "Front leg within 24 h of expiry: close both"
            )
    if rules.assignment == "funding_conditional":
        short = _shorts(state, "P")
        itm = bool(short) and state.index_price < short[0].strike
        checks.append(f"assignment: DTE {dte:.2f}, ITM {itm}")
        if itm and dte <= 1.0:
            funding = state.predicted_funding
            how = "buy the perpetual" if funding is None or funding >= 0 else "buy spot"
            return _advice("ASSIGN", "assignment", f"ITM at expiry, want ownership: {how}")
    return None


def position_review(state: PositionState, *, spec: GregSpec | None = None) -> PositionReview:
    """Review one position: every rule checked, suggestions sorted by urgency (HOLD if none)."""
    spec = spec or load_spec()
    pnl, cost, dte = _figures(state)
    checks: list[str] = []
    actions = [
        a
        for a in (
            _black_swan(state, spec, checks),
            _stop(state, pnl, spec, checks),
            _profit(state, pnl, spec, checks),
            _expiry(state, dte, spec, checks),
        )
        if a is not None
    ]
    option_delta = sum(leg.delta * leg.size for leg in state.legs)
    size = max(abs(leg.size) for leg in state.legs)
    move = state.index_price / state.last_hedge_price - 1.0 if state.last_hedge_price else 0.0
    hedge = hedge_advise(
        strategy=state.strategy,
        underlying=state.underlying,
        option_delta=option_delta,
        perp_delta=state.perp_delta,
        size_coin=size,
        index_price=state.index_price,
        price_move_pct=move,
        spec=spec,
    )
    checks.append(f"hedge: {hedge.reason}")
    if hedge.hedge:
        actions.append(_advice("HEDGE", "hedge", hedge.reason, hedge))
    if not actions:
        actions.append(_advice("HOLD", "none", "No rule triggered"))
    actions.sort(key=lambda a: a.priority)
    return PositionReview(
        strategy=state.strategy,
        pnl_usd=pnl,
        cost_to_close_usd=cost,
        dte_days=dte,
        net_delta=option_delta + state.perp_delta,
        checks=tuple(checks),
        actions=tuple(actions),
    )

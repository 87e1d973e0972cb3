"""Execute a Greg suggestion: Greg's own gates, then the project's one order gate.

Greg's gates, each refusing with its reason before anything is persisted:
1. mode: LIVE EXECUTION (ADVICE ONLY never trades);
2. master switch on;
3. the strategy's own enable flag;
4. environment: sim or testnet, mainnet only with its second confirmation;
5. dry-run cross-check: the dry-run state the operator confirmed must be the desk's;
6. tiny-size guardrails: notional per position and per underlying (in the risk verdict);
then `trading.services.order_gate` (kill switch, environment, dry run, the risk engine via
`greg.domain.risk`, the stress limits on the whole book after the legs, the same book the
agent's tick judges (`trading.services.state.book_inputs`), labels persisted before sending,
each order sent at most once). A
suggestion executes at most once: a second request is refused naming the first execution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction

from greg.domain.risk import Guardrails, StructureRisk, evaluate_greg_risk
from greg.models import LIVE_ORIGIN, GregDecision, GregMode, GregPosition, GregSettings
from greg.services.positions import BOOKS, position_log
from optionsdesk.config import MAINNET_CONFIRMATION
from trading.deribit.client import DeribitClient
from trading.domain.params import EffectiveParams, RiskLimits
from trading.domain.risk.drawdown import DrawdownState
from trading.domain.risk.inputs import RiskInputs
from trading.models import AgentStatus, Order
from trading.services.controls import effective_params_load
from trading.services.order_gate import GateLeg, OrderOrigin, OrderRequest, order_gate_run
from trading.services.risk import stress_inputs_for_legs
from trading.services.state import book_inputs, chain_frame, quotes_for


@dataclass
class ExecutionResult:
    """What happened to an execute request: the log row, the refusal (if any) and the orders."""

    record: GregDecision
    refused: str = ""
    orders: list[Order] = field(default_factory=list)
    position: GregPosition | None = None


def greg_gates_check(
    *, strategy: str, row: GregSettings, params: EffectiveParams, expect_dry_run: bool | None
) -> list[str]:
    """Greg's own gates, in order; every closed one gives its reason (empty: all open)."""
    refusals: list[str] = []
    if row.mode != GregMode.LIVE:
        refusals.append("mode: Greg is in ADVICE ONLY mode; switch to LIVE EXECUTION to trade")
    if not row.master_switch:
        refusals.append("master switch: off; no Greg order is sent")
    if strategy not in (row.enabled_strategies or []):
        refusals.append(f"strategy: {strategy} is not enabled for live execution")
    env = params.environment.value
    confirmed = str(getattr(settings.APP, "DERIBIT_MAINNET_CONFIRM", "")) == MAINNET_CONFIRMATION
    if env == "mainnet" and not confirmed:
        refusals.append("environment: mainnet without its confirmation (DERIBIT_MAINNET_CONFIRM)")
    elif env not in ("sim", "testnet", "mainnet"):
        refusals.append(f"environment: unknown environment {env!r}")
    if expect_dry_run is not None and expect_dry_run != params.dry_run:
        state = "ON" if params.dry_run else "OFF"
        refusals.append(
            f"dry-run cross-check: dry run is {state} but the request confirmed "
            f"{'ON' if expect_dry_run else 'OFF'}; reload and confirm again"
        )
    return refusals


def _book(
    client: DeribitClient, params: EffectiveParams, underlying: str, legs: list[dict[str, Any]]
) -> RiskInputs:
    """The whole book as the agent's tick sees it (`trading.services.state.book_inputs`): coins,
    every open position of every strategy, perpetuals, with quotes from the chains now; the
    legs' quotes come from the same chain. Market time, so the options are valued at their DTE.
    """
    underlyings = sorted({*params.underlyings, underlying})
    summaries = {c: client.get_book_summary_by_currency(c, "option") for c in underlyings}
    accounts = {c: client.get_account_summary(c) for c in underlyings}
    every_position = client.get_positions("any")
    stamps = [r.creation_timestamp for rows in summaries.values() for r in rows]
    now = datetime.fromtimestamp(max(stamps) / 1000, UTC) if stamps else datetime.now(UTC)
    index_usd = {
        c: float(rows[0].estimated_delivery_price or 0.0) for c, rows in summaries.items() if rows
    }
    chains = {c: chain_frame(rows, now) for c, rows in summaries.items()}
    names = {str(leg["instrument_name"]) for leg in legs}
    chain = chains.get(underlying)
    index = index_usd.get(underlying, 0.0)
    leg_quotes = quotes_for(chain, names, index) if chain is not None and index > 0 else []
    inputs = book_inputs(
        accounts=accounts,
        every_position=every_position,
        chains=chains,
        index_usd=index_usd,
        now=now,
        params=params,
        quotes=leg_quotes,
    )
    return inputs.model_copy(update={"drawdown": _drawdown()})


def _drawdown() -> DrawdownState | None:
    state = AgentStatus.load().drawdown_state
    return DrawdownState.model_validate(state) if state else None


def _open_notional(underlying: str) -> float:
    rows = GregPosition.objects.filter(underlying=underlying, sandbox=False, status="open")
    return sum(float(r.size_coin) * r.entry_index_price for r in rows)


def _legs(quote: dict[str, Any]) -> tuple[GateLeg, ...]:
    legs = sorted(quote["legs"], key=lambda leg: leg["side"] != "buy")  # wings before shorts
    return tuple(
        GateLeg(
            instrument_name=leg["instrument_name"],
            direction=leg["side"],
            amount=Decimal(str(leg["amount"])),
            limit_price=Decimal(str(leg["price_coin"])),
        )
        for leg in legs
    )


def _record(suggestion: GregDecision, outcome: str, reason: str, **details: Any) -> GregDecision:
    return GregDecision.objects.create(
        kind=GregDecision.Kind.EXECUTION,
        underlying=suggestion.underlying,
        strategy=suggestion.strategy,
        position=suggestion.position,
        action=suggestion.action,
        outcome=outcome,
        reasoning=reason[:2000],
        environment=settings.DERIBIT_ENV,
        index_price=suggestion.index_price,
        structures=suggestion.structures,
        details={"suggestion_id": suggestion.pk, **details},
    )


def _request(
    suggestion: GregDecision,
    quote: dict[str, Any],
    client: DeribitClient,
    row: GregSettings,
    user: str,
    params: EffectiveParams,
) -> OrderRequest:
    underlying = suggestion.underlying
    index = float(quote["index_usd"])
    order = StructureRisk(
        action=f"GREG_{suggestion.action}",
        underlying=underlying,
        legs=[(leg["instrument_name"], Decimal(str(leg["amount"]))) for leg in quote["legs"]],
        margin_usd=float(quote["margin_usd"]),
        delta_change=float(quote["net_delta"]),
        notional_usd=float(quote["notional_usd"]),
    )
    rails = Guardrails(
        max_notional_position_usd=float(row.max_notional_usd_per_position),
        max_notional_underlying_usd=float(row.max_notional_usd_per_underlying),
        open_notional_underlying_usd=_open_notional(underlying),
    )
    inputs = _book(client, params, underlying, quote["legs"])

    def judge(limits: RiskLimits) -> Any:
        return evaluate_greg_risk(order, inputs, limits, rails)

    return OrderRequest(
        origin=OrderOrigin.GREG,
        strategy_id=BOOKS[suggestion.strategy],
        legs=_legs(quote),
        risk=judge,
        requested_by=user,
        note=f"Greg suggestion #{suggestion.pk}",
        stress_inputs=stress_inputs_for_legs(inputs, quote["legs"], index),
    )


def _position_from_fills(
    suggestion: GregDecision, quote: dict[str, Any], orders: list[Order], env: str
) -> GregPosition:
    fills = {o.instrument_name: o for o in orders}
    legs = []
    for leg in quote["legs"]:
        order = fills[leg["instrument_name"]]
        price = order.average_price or Decimal(str(leg["price_coin"]))
        legs.append(
            {
                **{
                    k: leg[k]
                    for k in (
                        "instrument_name",
                        "side",
                        "option_type",
                        "strike",
                        "expiry",
                        "amount",
                        "iv_pct",
                    )
                },
                "price_coin": str(price),
                "label": order.label,
            }
        )
    credit = sum(
        float(leg["price_coin"]) * float(leg["amount"]) * (1 if leg["side"] == "sell" else -1)
        for leg in legs
    ) * float(quote["index_usd"])
    position = GregPosition.objects.create(
        underlying=suggestion.underlying,
        strategy=suggestion.strategy,
        strategy_id=BOOKS[suggestion.strategy],
        run_id=f"exec-{suggestion.pk}",
        sandbox=False,
        origin=LIVE_ORIGIN,
        environment=env,
        entry_index_price=float(quote["index_usd"]),
        size_coin=Decimal(str(quote["legs"][0]["amount"])),
        credit_usd=credit,
        max_loss_usd=float(quote["max_loss_usd"]),
        margin_usd=float(quote["margin_usd"]),
        legs=legs,
    )
    labels = ", ".join(o.label for o in orders)
    position_log(position, "executed", f"Opened through the order gate: {labels}")
    return position


def suggestion_execute(
    *,
    suggestion: GregDecision,
    client: DeribitClient,
    user: str,
    confirmed: bool,
    expect_dry_run: bool | None = None,
) -> ExecutionResult:
    """Execute an OPEN suggestion behind every gate; refused ones persist no order."""
    with transaction.atomic():
        locked = GregDecision.objects.select_for_update().get(pk=suggestion.pk)
        previous = (locked.details or {}).get("execution_id")
        if previous:
            return ExecutionResult(
                record=GregDecision.objects.get(pk=previous),
                refused=f"already executed (execution #{previous}); a suggestion runs once",
            )
        quote = (locked.structures or {}).get(locked.strategy)
        refusals = []
        if locked.kind != GregDecision.Kind.SUGGESTION or locked.action != "OPEN":
            refusals.append("only OPEN suggestions can be executed")
        elif not quote or not quote.get("ok"):
            refusals.append("the suggestion has no buildable structure")
        if not confirmed:
            refusals.append("confirmation: the operator did not confirm")
        params = effective_params_load()
        row = GregSettings.load()
        refusals += greg_gates_check(
            strategy=locked.strategy, row=row, params=params, expect_dry_run=expect_dry_run
        )
        if refusals:
            reason = "; ".join(refusals)
            return ExecutionResult(record=_record(locked, "refused", reason), refused=reason)
        assert quote is not None
        request = _request(locked, quote, client, row, user, params)
        result = order_gate_run(request, client=client)
        if not result.sent:
            reason = "; ".join(result.check.refusals or result.check.verdict.reasons)
            record = _record(
                locked, "refused", f"order gate: {reason}", verdict=result.check.verdict.as_record()
            )
            return ExecutionResult(record=record, refused=f"order gate: {reason}")
        orders = result.orders
        filled = all(o.state in (Order.State.FILLED, Order.State.SIMULATED) for o in orders)
        position = (
            _position_from_fills(locked, quote, orders, params.environment.value)
            if filled
            else None
        )
        record = _record(
            locked,
            "executed" if filled else "partial",
            f"{len(orders)} order(s) through the gate ({'dry run' if params.dry_run else 'live'})",
            orders=[
                {"label": o.label, "state": o.state, "instrument": o.instrument_name}
                for o in orders
            ],
            verdict=result.check.verdict.as_record(),
            position_id=position.pk if position else None,
        )
        locked.details = {**(locked.details or {}), "execution_id": record.pk}
        locked.outcome = "executed"
        locked.save(update_fields=["details", "outcome"])
        if position is not None:
            record.position = position
            record.save(update_fields=["position"])
    return ExecutionResult(record=record, orders=orders, position=position)


# ------------------------------------------------------------------ position actions


def _book_leg(client: DeribitClient, name: str, direction: str, amount: Decimal) -> GateLeg:
    """An IOC limit at the touch (ask to buy, bid to sell), from the book now."""
    book = client.get_book_summary_by_instrument(name)
    touch = book.ask_price if direction == "buy" else book.bid_price
    price = Decimal(repr(float(touch or book.mark_price)))
    return GateLeg(instrument_name=name, direction=direction, amount=amount, limit_price=price)


def _close_legs(client: DeribitClient, position: GregPosition) -> tuple[GateLeg, ...]:
    legs = sorted(position.legs, key=lambda leg: leg["side"] != "sell")  # buy shorts back first
    return tuple(
        _book_leg(
            client,
            leg["instrument_name"],
            "buy" if leg["side"] == "sell" else "sell",
            Decimal(str(leg["amount"])),
        )
        for leg in legs
    )


def _action_record(
    position: GregPosition, action: str, outcome: str, reason: str, **details: Any
) -> GregDecision:
    return GregDecision.objects.create(
        kind=GregDecision.Kind.EXECUTION,
        underlying=position.underlying,
        strategy=position.strategy,
        position=position,
        action=action,
        outcome=outcome,
        reasoning=reason[:2000],
        environment=settings.DERIBIT_ENV,
        details=details,
    )


def _action_request(
    position: GregPosition,
    action: str,
    top: dict[str, Any],
    client: DeribitClient,
    row: GregSettings,
    user: str,
) -> tuple[OrderRequest, float]:
    """The order request of a CLOSE or HEDGE, judged as reducing risk or as a hedge trade."""
    perp = client.get_book_summary_by_instrument(f"{position.underlying}-PERPETUAL")
    index = float(perp.estimated_delivery_price or perp.mark_price)
    if action == "CLOSE":
        legs = _close_legs(client, position)
        risk = StructureRisk(
            action="GREG_CLOSE",
            underlying=position.underlying,
            legs=[(g.instrument_name, g.amount) for g in legs],
            margin_usd=0.0,
            delta_change=0.0,
            notional_usd=0.0,
            reduces_risk=True,
        )
    else:
        hedge = top["hedge"]
        amount = Decimal(str(hedge["amount_usd"]))
        direction = "buy" if amount > 0 else "sell"
        legs = (_book_leg(client, hedge["instrument_name"], direction, abs(amount)),)
        risk = StructureRisk(
            action="GREG_HEDGE",
            underlying=position.underlying,
            legs=[],
            margin_usd=float(abs(amount)) * 0.02,
            delta_change=float(amount) / index,
            notional_usd=float(abs(amount)),
        )
    rails = Guardrails(
        max_notional_position_usd=float(row.max_notional_usd_per_position),
        max_notional_underlying_usd=float(row.max_notional_usd_per_underlying),
        open_notional_underlying_usd=0.0
        if action == "CLOSE"
        else _open_notional(position.underlying),
    )
    inputs = _book(client, effective_params_load(), position.underlying, [])
    request = OrderRequest(
        origin=OrderOrigin.GREG,
        strategy_id=position.strategy_id,
        legs=legs,
        risk=lambda limits: evaluate_greg_risk(risk, inputs, limits, rails),
        requested_by=user,
        note=f"Greg position #{position.pk} {action}",
    )
    return request, index


def _action_apply(
    position: GregPosition, action: str, top: dict[str, Any], orders: list[Order], index: float
) -> GregDecision:
    """Book what the orders did: close the position, or add the hedge."""
    from greg.services.positions import position_close

    filled = all(o.state in (Order.State.FILLED, Order.State.SIMULATED) for o in orders)
    labels = ", ".join(o.label for o in orders)
    if filled and action == "CLOSE":
        position_close(position=position, reason=f"closed through the order gate ({labels})")
    elif filled:
        position.hedge_usd += Decimal(str(top["hedge"]["amount_usd"]))
        position.last_hedge_price = index
        # the advice is used up: a second click must not hedge again before the next review
        position.review = {**position.review, "top": {"action": "HOLD", "reason": "hedged"}}
        position.save(update_fields=["hedge_usd", "last_hedge_price", "review"])
        position_log(position, "hedged", f"Hedged through the order gate: {labels}")
    return _action_record(
        position,
        action,
        "executed" if filled else "partial",
        labels,
        orders=[{"label": o.label, "state": o.state} for o in orders],
    )


def position_action_execute(
    *,
    position: GregPosition,
    action: str,
    client: DeribitClient,
    user: str,
    confirmed: bool,
    expect_dry_run: bool | None = None,
) -> ExecutionResult:
    """Carry out a position's suggested CLOSE or HEDGE.

    A sandbox position closes on paper (no order exists for it). An executed position goes
    through Greg's gates and the order gate: CLOSE buys back shorts then sells wings (IOC at the
    touch), HEDGE trades the advised perpetual amount.
    """
    from greg.services.positions import position_close

    top = (position.review or {}).get("top", {})
    refusals = [] if confirmed else ["confirmation: the operator did not confirm"]
    if action not in ("CLOSE", "HEDGE") or top.get("action") != action:
        refusals.append(f"{action} is not the position's suggested action ({top.get('action')})")
    if position.status != GregPosition.Status.OPEN:
        refusals.append("the position is closed")
    if position.sandbox and not refusals:
        if action == "HEDGE":
            refusals.append("sandbox hedges are advisory only")
        else:
            position_close(
                position=position, reason=f"closed on paper by {user}: {top.get('reason')}"
            )
            return ExecutionResult(
                record=_action_record(position, action, "paper", "sandbox closed")
            )
    params = effective_params_load()
    row = GregSettings.load()
    if not position.sandbox:
        refusals += greg_gates_check(
            strategy=position.strategy, row=row, params=params, expect_dry_run=expect_dry_run
        )
    if refusals:
        reason = "; ".join(refusals)
        return ExecutionResult(
            record=_action_record(position, action, "refused", reason), refused=reason
        )
    request, index = _action_request(position, action, top, client, row, user)
    result = order_gate_run(request, client=client)
    if not result.sent:
        reason = "order gate: " + "; ".join(result.check.refusals or result.check.verdict.reasons)
        return ExecutionResult(
            record=_action_record(position, action, "refused", reason), refused=reason
        )
    record = _action_apply(position, action, top, result.orders, index)
    return ExecutionResult(record=record, orders=result.orders, position=position)

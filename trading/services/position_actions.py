"""An operator's "close now" and "roll now" on one position, through the one order gate.

The request is built exactly as the agent's own would be: a fresh state from the exchange
(`state_build`), the action validated against it like any external proposal (the call must be
held, the roll's new call must be one of this tick's ranked candidates, sizes clamped to the
rails), then `order_gate_run` with origin `manual_close` / `manual_roll` and the operator's name:
controls, kill switch, environment, dry run, risk engine, label persisted first, sent at most
once. The role check (operator) is the caller's (the dashboard view and the API action).

A paper position is closed on paper and a real one with real orders: an action whose book does
not match the current dry-run setting is refused with the reason (a real order must never
close a paper position, nor a simulated fill a real one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from trading.deribit.client import DeribitClient
from trading.domain.proposal import ActionType, DecisionSource, validate_external_proposal
from trading.exchange import exchange_client
from trading.models import Order, Position
from trading.services.controls import effective_params_load
from trading.services.order_gate import OrderOrigin, order_gate_run, order_request_from_proposal
from trading.services.state import TickState, state_build


class PositionActionRefused(Exception):
    """The action was not sent; the message says why in a sentence."""


@dataclass
class PositionActionResult:
    """What an action did: a sentence for the page or API, and the orders it persisted."""

    message: str
    orders: list[Order] = field(default_factory=list)


def _open_position(position_id: int) -> Position:
    position = Position.objects.filter(pk=position_id).first()
    if position is None:
        raise PositionActionRefused(f"Position {position_id} does not exist.")
    if position.status != Position.Status.OPEN or position.size == 0:
        raise PositionActionRefused(f"{position.instrument_name} is not open any more.")
    if position.size > 0:
        raise PositionActionRefused(
            f"{position.instrument_name} is a long position; only short covered calls can be "
            "closed or rolled here."
        )
    return position


def _book_check(position: Position, dry_run: bool) -> None:
    if position.paper and not dry_run:
        raise PositionActionRefused(
            f"{position.instrument_name} is in the paper book, and dry run is off: a real "
            "order must not close a paper position. Archive the paper book, or switch dry run "
            "on to close it on paper."
        )
    if not position.paper and dry_run:
        raise PositionActionRefused(
            f"{position.instrument_name} is a real position, and dry run is on: it can only "
            "be closed with a real order. Switch dry run off first (a deliberate step)."
        )


def _run(
    position: Position,
    build: Callable[[TickState], dict[str, Any]],
    origin: OrderOrigin,
    user: str,
    client: DeribitClient,
) -> PositionActionResult:
    params = effective_params_load()
    _book_check(position, params.dry_run)
    state = state_build(client=client, params=params)
    raw = build(state)
    outcome = validate_external_proposal(
        raw,
        candidates=state.evaluations,
        inputs=state.inputs,
        params=params,
        source=DecisionSource.RULE,
    )
    if not outcome.valid or not outcome.proposal.legs:
        raise PositionActionRefused(
            f"Nothing sent for {position.instrument_name}: " + "; ".join(outcome.issues) + "."
        )
    request = order_request_from_proposal(
        outcome.proposal,
        state.inputs,
        origin=origin,
        strategy_id=position.strategy_id,
        requested_by=user,
        note=str(raw.get("reasoning", "")),
    )
    result = order_gate_run(request, client=client)
    if not result.sent:
        reasons = result.check.refusals or result.check.verdict.reasons
        raise PositionActionRefused(
            f"The order gate refused it, nothing was sent: {'; '.join(reasons)}."
        )
    legs = "; ".join(
        f"{o.direction} {o.amount:f} {o.instrument_name} [{o.state}], fee {o.fee_coin:f} "
        f"{o.currency}"
        for o in result.orders
    )
    where = "on paper (dry run)" if params.dry_run else f"on {params.environment.value}"
    return PositionActionResult(message=f"Sent {where}: {legs}.", orders=result.orders)


def _with_client(
    client: DeribitClient | None, action: Callable[[DeribitClient], PositionActionResult]
) -> PositionActionResult:
    if client is not None:
        return action(client)
    with exchange_client() as own:
        return action(own)


def position_close_now(
    *, position_id: int, user: str, client: DeribitClient | None = None
) -> PositionActionResult:
    """Buy back one short call now at the best ask, through the order gate."""
    position = _open_position(position_id)

    def build(state: TickState) -> dict[str, Any]:
        return {
            "action": ActionType.CLOSE_COVERED_CALL.value,
            "params": {"symbol": position.instrument_name},
            "reasoning": f"close now by {user} from the cockpit",
        }

    return _with_client(client, lambda c: _run(position, build, OrderOrigin.MANUAL_CLOSE, user, c))


def position_roll_now(
    *, position_id: int, user: str, client: DeribitClient | None = None
) -> PositionActionResult:
    """Buy back one short call and sell the best-ranked other call of its underlying."""
    position = _open_position(position_id)

    def build(state: TickState) -> dict[str, Any]:
        evaluation = state.evaluations.get(position.currency)
        ranked = evaluation.ranked if evaluation else ()
        target = next((c for c in ranked if c.instrument_name != position.instrument_name), None)
        if target is None:
            raise PositionActionRefused(
                f"No {position.currency} call passed the filter to roll "
                f"{position.instrument_name} into; close it instead."
            )
        return {
            "action": ActionType.ROLL_COVERED_CALL.value,
            "params": {
                "from_symbol": position.instrument_name,
                "to_symbol": target.instrument_name,
            },
            "reasoning": f"roll now by {user} from the cockpit into the best candidate",
        }

    return _with_client(client, lambda c: _run(position, build, OrderOrigin.MANUAL_ROLL, user, c))

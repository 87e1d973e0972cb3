"""The one order gate: every path that can send an order goes through here, and only here.

A path (the tick, a reconciliation close, a manual close or roll from the dashboard or API, a
Greg suggestion executed) describes its legs and how the risk engine judges them in an
`OrderRequest`, then calls `order_gate_check` and `order_gate_submit` (or `order_gate_run` for
both). The gate, never the caller, decides:

1. **controls**, read fresh (`effective_params_load`): invalid controls send nothing;
2. **kill switch**: on means no order leaves, closes included (docs/decisions/0013);
3. **environment**: the exchange client must point where the controls say (sim, testnet,
   mainnet), and mainnet needs its second confirmation;
4. **dry run**: orders are simulated on the paper book, or, for a path that cannot trade on
   paper (a reconciliation close acts on the exchange's real positions), refused with what it
   would have sent;
5. **risk engine**: the request's judge is called with the fresh risk limits; the gate's own
   checks are folded into the same `RiskVerdict`, so a decision records one verdict;
6. **label persisted first**: one `Order` row per leg with a unique label is committed before
   anything is sent; each is then claimed and sent at most once (`order_execute`), and the kill
   switch is read again right before each send.

`tests/trading/test_order_gate.py` enumerates the paths and scans the source so that no other
module calls `place_order` or `order_execute`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from django.conf import settings
from django.db import transaction
from pydantic import ValidationError

from optionsdesk.config import MAINNET_CONFIRMATION
from trading.deribit.client import DeribitClient, new_order_label
from trading.deribit.rpc import is_mainnet_url
from trading.domain.instruments import parse_instrument
from trading.domain.params import EffectiveParams, Environment, RiskLimits
from trading.domain.proposal import Proposal
from trading.domain.risk import RiskInputs, StressTrade, evaluate_risk, evaluate_stress
from trading.domain.risk.verdict import RiskCheck, RiskVerdict
from trading.models import Decision, Order, RuntimeControl
from trading.services.controls import effective_params_load
from trading.services.execution import order_execute

logger = logging.getLogger("trading.order_gate")

_FILLED = (Order.State.FILLED, Order.State.SIMULATED)


class OrderOrigin(StrEnum):
    """Which path asked for the orders (stored on every `Order`)."""

    TICK = "tick"
    RECONCILE_CLOSE = "reconcile_close"
    MANUAL_CLOSE = "manual_close"
    MANUAL_ROLL = "manual_roll"
    GREG = "greg"


#: Order labels start with the path that asked (a trader reading the exchange sees who sent it).
LABEL_PREFIXES = {
    OrderOrigin.TICK: "od",
    OrderOrigin.RECONCILE_CLOSE: "rc",
    OrderOrigin.MANUAL_CLOSE: "mc",
    OrderOrigin.MANUAL_ROLL: "mr",
    OrderOrigin.GREG: "gg",
}


@dataclass(frozen=True)
class GateLeg:
    """One order to send: `limit_price` None means a market order (coins, coin per contract)."""

    instrument_name: str
    direction: str
    amount: Decimal
    limit_price: Decimal | None
    reduce_only: bool = False
    time_in_force: str = "immediate_or_cancel"


@dataclass(frozen=True)
class OrderRequest:
    """What a path wants sent and how the risk engine judges it.

    `risk` is called by the gate with the fresh `RiskLimits` and must return the risk engine's
    verdict on these legs (e.g. `lambda limits: evaluate_risk(proposal, inputs, limits)`).
    `paper_ok` False means that in dry run the request is refused (nothing to simulate).
    """

    origin: OrderOrigin
    strategy_id: str
    legs: tuple[GateLeg, ...]
    risk: Callable[[RiskLimits], RiskVerdict]
    paper_ok: bool = True
    requested_by: str = ""
    note: str = ""
    #: The book before the orders: when given, the gate stress-tests the book after them
    #: (`evaluate_stress`) unless the verdict already did, so every strategy's orders meet the
    #: stress limits (max worst-scenario loss, max vega).
    stress_inputs: RiskInputs | None = None


@dataclass
class GateCheck:
    """The gate's judgement of a request: approved only when every gate and risk check passed."""

    request: OrderRequest
    verdict: RiskVerdict
    params: EffectiveParams | None
    refusals: tuple[str, ...] = ()

    @property
    def approved(self) -> bool:
        """True when the request may be persisted and sent."""
        return self.verdict.approved and not self.refusals

    @property
    def dry_run(self) -> bool:
        """True when the orders are simulated (or, when refused, would have been)."""
        return self.params is None or self.params.dry_run


@dataclass
class GateResult:
    """What the gate did: its check and the orders it persisted (and sent or simulated)."""

    check: GateCheck
    orders: list[Order] = field(default_factory=list)

    @property
    def sent(self) -> bool:
        """True when at least one order was persisted."""
        return bool(self.orders)


def order_request_from_proposal(
    proposal: Proposal,
    inputs: RiskInputs,
    *,
    origin: OrderOrigin,
    strategy_id: str,
    requested_by: str = "",
    note: str = "",
) -> OrderRequest:
    """A covered-call proposal's legs (limit, immediate-or-cancel), judged by `evaluate_risk`."""
    legs = tuple(
        GateLeg(
            instrument_name=leg.instrument_name,
            direction=leg.direction,
            amount=leg.amount,
            limit_price=leg.limit_price_coin,
        )
        for leg in proposal.legs
    )
    return OrderRequest(
        origin=origin,
        strategy_id=strategy_id,
        legs=legs,
        risk=lambda limits: evaluate_risk(proposal, inputs, limits),
        requested_by=requested_by,
        note=note,
        stress_inputs=inputs,
    )


class GateRefused(RuntimeError):
    """`order_gate_submit` was called with a check that did not approve."""


def _gate_checks(
    request: OrderRequest, params: EffectiveParams, client: DeribitClient | None
) -> list[RiskCheck]:
    checks = [
        RiskCheck(
            name="gate.kill_switch",
            passed=not params.risk.kill_switch,
            detail="kill switch is on: no order is sent"
            if params.risk.kill_switch
            else "kill switch off",
        )
    ]
    base_url = str(getattr(client, "base_url", "") or "")
    client_mainnet = bool(base_url) and is_mainnet_url(base_url)
    wants_mainnet = params.environment is Environment.MAINNET
    env_ok = client is None or client_mainnet == wants_mainnet
    confirmed = not wants_mainnet or (
        str(getattr(settings.APP, "DERIBIT_MAINNET_CONFIRM", "")) == MAINNET_CONFIRMATION
    )
    if not env_ok:
        detail = f"the exchange client ({base_url}) is not the {params.environment.value} one"
    elif not confirmed:
        detail = "mainnet without its second confirmation (DERIBIT_MAINNET_CONFIRM)"
    else:
        detail = f"orders go to {params.environment.value}"
    checks.append(RiskCheck(name="gate.environment", passed=env_ok and confirmed, detail=detail))
    if params.dry_run and not request.paper_ok:
        legs = ", ".join(
            f"{leg.direction} {leg.amount} {leg.instrument_name}" for leg in request.legs
        )
        checks.append(
            RiskCheck(
                name="gate.dry_run",
                passed=False,
                detail=f"dry run: would {legs} on {params.environment.value}; nothing sent",
            )
        )
    return checks


def _stress_checks(
    request: OrderRequest, risk: RiskVerdict, limits: RiskLimits
) -> tuple[RiskCheck, ...]:
    """Stress checks of the book after the request's legs, unless not needed or already run."""
    inputs = request.stress_inputs
    # Buying (closing a short, or a long option's premium) never opens unbounded risk, and a
    # close must never be blocked by a stress limit; only requests with a sell are judged.
    sells = any(leg.direction == "sell" and not leg.reduce_only for leg in request.legs)
    already = any(c.name == "stress_loss" for c in risk.checks)
    if inputs is None or not sells or already:
        return ()
    trades = [
        StressTrade(leg.instrument_name, leg.amount if leg.direction == "buy" else -leg.amount)
        for leg in request.legs
    ]
    return evaluate_stress(trades, inputs, limits)


def order_gate_check(request: OrderRequest, *, client: DeribitClient | None) -> GateCheck:
    """Judge `request` with fresh controls: kill switch, environment, dry run, risk engine."""
    try:
        params = effective_params_load()
    except ValidationError as exc:
        problem = "; ".join(str(e.get("msg", "")) for e in exc.errors())[:300]
        check = RiskCheck(name="gate.controls", passed=False, detail=f"controls invalid: {problem}")
        verdict = RiskVerdict(action=request.origin.value, approved=False, increases_risk=False)
        verdict = verdict.model_copy(update={"checks": (check,)})
        return GateCheck(request=request, verdict=verdict, params=None, refusals=(check.detail,))
    risk = request.risk(params.risk)
    if not request.legs:
        return GateCheck(request=request, verdict=risk, params=params)
    gate = _gate_checks(request, params, client)
    checks = (*gate, *risk.checks, *_stress_checks(request, risk, params.risk))
    verdict = risk.model_copy(
        update={"checks": checks, "approved": all(c.passed for c in checks) and risk.approved}
    )
    refusals = tuple(f"{c.name}: {c.detail}" for c in gate if not c.passed)
    return GateCheck(request=request, verdict=verdict, params=params, refusals=refusals)


def order_gate_persist(check: GateCheck, *, decision: Decision | None = None) -> list[Order]:
    """Write one pending `Order` per leg with a unique label, before anything is sent."""
    if not check.approved or check.params is None:
        raise GateRefused("; ".join(check.refusals or check.verdict.reasons) or "not approved")
    request, params = check.request, check.params
    with transaction.atomic():
        return [
            Order.objects.create(
                label=new_order_label(LABEL_PREFIXES[request.origin]),
                decision=decision,
                leg_index=index,
                environment=params.environment.value,
                dry_run=params.dry_run,
                strategy_id=request.strategy_id,
                origin=request.origin.value,
                requested_by=request.requested_by[:150],
                instrument_name=leg.instrument_name,
                currency=parse_instrument(leg.instrument_name).currency,
                direction=leg.direction,
                amount=leg.amount,
                limit_price=leg.limit_price if leg.limit_price is not None else Decimal(0),
                order_type="limit" if leg.limit_price is not None else "market",
                reduce_only=leg.reduce_only,
                time_in_force=leg.time_in_force,
            )
            for index, leg in enumerate(request.legs)
        ]


def _kill_switch_now() -> bool:
    return bool(RuntimeControl.load().kill_switch)


def order_gate_send(orders: Sequence[Order], *, client: DeribitClient | None) -> list[Order]:
    """Send persisted orders in order (a roll buys back first), each at most once.

    The kill switch is read again before each leg; a leg that did not fully fill stops the
    rest, which are marked `skipped` with why.
    """
    for index, order in enumerate(orders):
        if _kill_switch_now():
            _skip(orders[index:], "not sent: the kill switch was switched on before sending")
            break
        order_execute(order=order, client=client)
        if order.state in _FILLED and order.filled_amount == order.amount:
            continue
        _skip(orders[index + 1 :], f"not sent: leg {order.label} ended {order.state}")
        break
    return list(orders)


def _skip(orders: Sequence[Order], why: str) -> None:
    for order in orders:
        if order.state != Order.State.PENDING:
            continue
        order.state = Order.State.SKIPPED
        order.error = why
        order.save(update_fields=["state", "error"])


def order_gate_submit(
    check: GateCheck, *, client: DeribitClient | None, decision: Decision | None = None
) -> list[Order]:
    """Persist the approved request's orders (labels first), then send them at most once."""
    return order_gate_send(order_gate_persist(check, decision=decision), client=client)


def order_gate_run(
    request: OrderRequest, *, client: DeribitClient | None, decision: Decision | None = None
) -> GateResult:
    """Check, persist and send in one call; a refused request persists and sends nothing."""
    check = order_gate_check(request, client=client)
    if not check.approved:
        logger.info("%s refused: %s", request.origin.value, "; ".join(check.verdict.reasons)[:500])
        return GateResult(check=check)
    return GateResult(
        check=check, orders=order_gate_submit(check, client=client, decision=decision)
    )

"""Reconciliation: our books against the exchange, with report / adopt / flag / close actions.

First it settles orders whose outcome we never learnt (a worker killed after the send, a lost
reply) by asking the exchange for their label, booking any fill. Then it compares, per
instrument, the size of our open (non-paper) positions with the exchange's and records every
difference as a `ReconciliationDiscrepancy` with what was done (positions whose option expired
are closed as expired first, `trading.services.expiry`, so they are not discrepancies):

* report: nothing changes;
* flag: our rows are flagged for a human (an unknown exchange position gets a flagged row);
* adopt: our rows take the exchange's size (unknown ones are adopted as external positions);
* close: exposure the exchange has beyond ours is closed with a labelled reduce-only market
  order (never in dry run, where it is only reported); our rows missing on the exchange close.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from trading.deribit.client import DeribitClient
from trading.deribit.errors import DeribitError
from trading.deribit.models import Position as ExchangePosition
from trading.domain.instruments import parse_instrument
from trading.domain.risk import evaluate_reduce_only
from trading.exchange import exchange_client
from trading.models import (
    Order,
    Position,
    ReconcileAction,
    ReconciliationDiscrepancy,
    ReconciliationRun,
    RuntimeControl,
)
from trading.services.execution import EXTERNAL_STRATEGY, order_resolve
from trading.services.expiry import positions_expire
from trading.services.order_gate import GateLeg, OrderOrigin, OrderRequest, order_gate_run

logger = logging.getLogger("trading.reconcile")

#: Orders claimed this long ago without an answer are resolved by label (a live tick may still
#: be waiting for younger ones).
RESOLVE_GRACE_S = 60
Kind = ReconciliationDiscrepancy.Kind


def orders_resolve_pending(*, client: DeribitClient, grace_s: float = RESOLVE_GRACE_S) -> int:
    """Resolve orders left `sending` or `unknown` (crash, lost reply) by their label."""
    cutoff = timezone.now() - timedelta(seconds=grace_s)
    stuck = Order.objects.filter(
        state__in=(Order.State.SENDING, Order.State.UNKNOWN), sent_at__lte=cutoff, dry_run=False
    )
    count = 0
    for order in stuck:
        order_resolve(order=order, client=client)
        count += 1
    return count


def _exchange_sizes(positions: list[ExchangePosition]) -> dict[str, Decimal]:
    return {p.instrument_name: p.size for p in positions if p.size != 0}


def _local_sizes() -> dict[str, Decimal]:
    sizes: dict[str, Decimal] = defaultdict(Decimal)
    for p in Position.objects.filter(status=Position.Status.OPEN, paper=False):
        sizes[p.instrument_name] += p.size
    return dict(sizes)


def reconcile_run(
    *,
    client: DeribitClient | None = None,
    action: str | None = None,
    trigger: str = "beat",
    grace_s: float = RESOLVE_GRACE_S,
) -> ReconciliationRun:
    """Compare and act (see the module docstring); returns the run with its discrepancies."""
    control = RuntimeControl.load()
    chosen = ReconcileAction(action or control.reconcile_action)
    run = ReconciliationRun.objects.create(trigger=trigger, action=chosen)
    exchange = client if client is not None else exchange_client()
    try:
        resolved = orders_resolve_pending(client=exchange, grace_s=grace_s)
        positions = exchange.get_positions("any", "option")
        now = datetime.fromtimestamp(exchange.get_time() / 1000, tz=UTC)
        expired = positions_expire(client=exchange, now=now, exchange_positions=positions)
        found = _compare(run, chosen, exchange, _exchange_sizes(positions))
        run.status = "ok"
        run.summary = (
            f"{found} discrepanc{'y' if found == 1 else 'ies'}; {resolved} order(s) resolved"
            + (f"; {len(expired)} expired position(s) closed" if expired else "")
        )
    except DeribitError as exc:
        run.status = "failed"
        run.summary = f"exchange error, nothing changed: {exc}"[:2000]
        logger.warning("reconciliation %s failed: %s", run.pk, exc)
    finally:
        if client is None:
            exchange.close()
    run.finished_at = timezone.now()
    run.save()
    return run


def _compare(
    run: ReconciliationRun,
    action: ReconcileAction,
    client: DeribitClient,
    exchange: dict[str, Decimal],
) -> int:
    local = _local_sizes()
    found = 0
    for name in sorted(set(local) | set(exchange)):
        ours, theirs = local.get(name, Decimal(0)), exchange.get(name, Decimal(0))
        if ours == theirs:
            continue
        kind = (
            Kind.UNKNOWN_ON_EXCHANGE
            if ours == 0
            else Kind.MISSING_ON_EXCHANGE
            if theirs == 0
            else Kind.SIZE_MISMATCH
        )
        taken = _act(action, kind, name, ours, theirs, client)
        ReconciliationDiscrepancy.objects.create(
            run=run,
            instrument_name=name,
            kind=kind,
            local_size=ours,
            exchange_size=theirs,
            action_taken=taken[:300],
        )
        found += 1
    return found


def _act(
    action: ReconcileAction,
    kind: str,
    name: str,
    ours: Decimal,
    theirs: Decimal,
    client: DeribitClient,
) -> str:
    if action is ReconcileAction.REPORT:
        return "reported"
    if action is ReconcileAction.FLAG:
        return _flag(name, ours, theirs)
    if action is ReconcileAction.ADOPT:
        return _adopt(name, theirs)
    return _close(name, ours, theirs, client)


def _open_rows(name: str) -> list[Position]:
    return list(
        Position.objects.filter(instrument_name=name, status=Position.Status.OPEN, paper=False)
    )


def _flag(name: str, ours: Decimal, theirs: Decimal) -> str:
    note = f"reconciliation: ours {ours}, exchange {theirs}"
    rows = _open_rows(name)
    if not rows:
        Position.objects.create(
            instrument_name=name,
            currency=parse_instrument(name).currency,
            strategy_id=EXTERNAL_STRATEGY,
            origin="reconcile",
            size=theirs,
            flagged=True,
            note=note,
        )
        return "flagged (new external row)"
    Position.objects.filter(pk__in=[r.pk for r in rows]).update(flagged=True, note=note)
    return f"flagged {len(rows)} row(s)"


def _adopt(name: str, theirs: Decimal) -> str:
    with transaction.atomic():
        rows = _open_rows(name)
        if not rows:
            Position.objects.create(
                instrument_name=name,
                currency=parse_instrument(name).currency,
                strategy_id=EXTERNAL_STRATEGY,
                origin="adopted",
                size=theirs,
                note="adopted from the exchange",
            )
            return f"adopted {theirs} as external"
        main, others = rows[0], rows[1:]
        for row in others:
            _close_row(row, "merged by reconciliation")
        if theirs == 0:
            _close_row(main, "not on the exchange: closed by reconciliation")
            return "closed our row (not on the exchange)"
        main.size = theirs
        main.note = "size adopted from the exchange"
        main.save(update_fields=["size", "note", "updated_at"])
    return f"set our size to {theirs}"


def _close_row(row: Position, note: str) -> None:
    row.status = Position.Status.CLOSED
    row.closed_at = timezone.now()
    row.note = note
    row.save(update_fields=["status", "closed_at", "note", "updated_at"])


def _close(name: str, ours: Decimal, theirs: Decimal, client: DeribitClient) -> str:
    if theirs == 0:
        for row in _open_rows(name):
            _close_row(row, "not on the exchange: closed by reconciliation")
        return "closed our row (not on the exchange)"
    excess = theirs - ours
    direction = "buy" if excess < 0 else "sell"
    amount = abs(excess)
    request = OrderRequest(
        origin=OrderOrigin.RECONCILE_CLOSE,
        strategy_id=EXTERNAL_STRATEGY,
        legs=(
            GateLeg(
                instrument_name=name,
                direction=direction,
                amount=amount,
                limit_price=None,
                reduce_only=True,
                time_in_force="good_til_cancelled",
            ),
        ),
        risk=lambda _limits: evaluate_reduce_only(
            instrument_name=name, direction=direction, amount=amount, exchange_size=theirs
        ),
        paper_ok=False,
        requested_by="reconciliation",
    )
    result = order_gate_run(request, client=client)
    if not result.orders:
        return f"not sent: {'; '.join(result.check.verdict.reasons)}"[:300]
    order = result.orders[0]
    return f"{direction} {amount} reduce-only ({order.label}: {order.state})"

"""Greg positions: sandbox batches (open, close) and the position/hedge engines over open ones.

A sandbox position is a `GregPosition` (sandbox=True, origin GREG_SANDBOX, a run id) whose legs
are also paper `trading.Position` rows in a ``greg_*`` book tagged the same way, so the
covered-call agent and reconciliation can (and do) leave them alone.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pandas as pd
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from greg.domain.position import LegState, PositionReview, PositionState, position_review
from greg.domain.spec import STRATEGY_OUTCOMES
from greg.models import SANDBOX_ORIGIN, GregDecision, GregPosition, GregPositionLog
from greg.services.evaluation import underlying_evaluate
from trading.deribit.client import DeribitClient
from trading.models import Position
from trading.services.state import chain_frame

BOOKS = {
    "STRATEGY_A_STRADDLE": "greg_straddle",
    "STRATEGY_A_STRANGLE": "greg_strangle",
    "STRATEGY_B_CALENDAR": "greg_calendar",
    "STRATEGY_C_SHORT_PUT": "greg_short_put",
    "STRATEGY_D_IRON_BUTTERFLY": "greg_iron_fly",
    "STRATEGY_F_BULL_PUT_SPREAD": "greg_bull_put",
    "STRATEGY_F_BEAR_CALL_SPREAD": "greg_bear_call",
}


@dataclass
class SandboxResult:
    """What a sandbox batch opened, and what it skipped and why."""

    run_id: str
    opened: list[GregPosition] = field(default_factory=list)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)


def position_log(
    position: GregPosition, kind: str, message: str, at: datetime | None = None, **data: Any
) -> GregPositionLog:
    """Append one event to a position's timeline (at market time when given)."""
    return GregPositionLog.objects.create(
        position=position, at=at or timezone.now(), kind=kind, message=message[:500], data=data
    )


def _legs_json(quote: dict[str, Any]) -> list[dict[str, Any]]:
    keep = ("instrument_name", "side", "option_type", "strike", "expiry", "amount", "price_coin")
    return [{k: leg[k] for k in keep} | {"iv_pct": leg["iv_pct"]} for leg in quote["legs"]]


def _book_conflict(strategy: str, legs: list[dict[str, Any]]) -> str:
    taken = Position.objects.filter(
        status=Position.Status.OPEN,
        strategy_id=BOOKS[strategy],
        sandbox=True,
        paper=True,
        instrument_name__in=[leg["instrument_name"] for leg in legs],
    ).first()
    return f"{taken.instrument_name} already open in the sandbox book" if taken else ""


def _sandbox_create(
    *, underlying: str, strategy: str, quote: dict[str, Any], run_id: str, now: datetime
) -> GregPosition:
    legs = _legs_json(quote)
    with transaction.atomic():
        position = GregPosition.objects.create(
            underlying=underlying,
            strategy=strategy,
            strategy_id=BOOKS[strategy],
            run_id=run_id,
            sandbox=True,
            origin=SANDBOX_ORIGIN,
            environment=settings.DERIBIT_ENV,
            opened_at=now,
            entry_index_price=quote["index_usd"],
            size_coin=Decimal(str(quote["legs"][0]["amount"])),
            credit_usd=quote["credit_usd"],
            max_loss_usd=quote["max_loss_usd"],
            margin_usd=quote["margin_usd"],
            legs=legs,
        )
        for leg in legs:
            amount = Decimal(str(leg["amount"]))
            row = Position.objects.create(
                instrument_name=leg["instrument_name"],
                currency=underlying,
                strategy_id=BOOKS[strategy],
                sandbox=True,
                paper=True,
                origin=SANDBOX_ORIGIN,
                size=-amount if leg["side"] == "sell" else amount,
                average_price_coin=Decimal(str(leg["price_coin"])),
                opened_at=now,
                note=f"Greg sandbox run {run_id}",
            )
            leg["trading_position_id"] = row.pk
        position.legs = legs
        position.save(update_fields=["legs"])
        position_log(
            position,
            "opened",
            f"Opened {strategy} on paper: credit {quote['credit_usd']:.2f} USD, "
            f"max loss {quote['max_loss_usd']:.2f} USD ({quote['max_loss_basis']})",
            at=now,
            quote=quote,
        )
    return position


def sandbox_open(
    *,
    client: DeribitClient,
    underlyings: list[str],
    strategies: list[str] | None = None,
    run_id: str = "",
) -> SandboxResult:
    """Open paper positions of the given strategies (default: all seven) on each underlying."""
    unknown = sorted(set(strategies or []) - set(STRATEGY_OUTCOMES))
    if unknown:
        raise ValueError(f"unknown strategy {unknown[0]!r}; choose from {STRATEGY_OUTCOMES}")
    run_id = run_id or f"sbx-{timezone.now():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
    result = SandboxResult(run_id=run_id)
    for underlying in underlyings:
        evaluation = underlying_evaluate(client=client, underlying=underlying)
        for strategy in strategies or list(STRATEGY_OUTCOMES):
            quote = evaluation.structures.get(strategy)
            if not quote or not quote["ok"]:
                reason = quote["reason"] if quote else "no option chain"
                result.skipped.append((underlying, strategy, reason))
                continue
            conflict = _book_conflict(strategy, quote["legs"])
            if conflict:
                result.skipped.append((underlying, strategy, conflict))
                continue
            result.opened.append(
                _sandbox_create(
                    underlying=underlying,
                    strategy=strategy,
                    quote=quote,
                    run_id=run_id,
                    now=evaluation.fetch.inputs.as_of,
                )
            )
    return result


def position_close(*, position: GregPosition, reason: str, now: datetime | None = None) -> None:
    """Mark a Greg position (and its paper trading rows) closed, keeping its last P&L."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = [leg.get("trading_position_id") for leg in position.legs]
        Position.objects.filter(pk__in=[i for i in ids if i], status=Position.Status.OPEN).update(
            status=Position.Status.CLOSED, closed_at=now, note=f"Greg: {reason}"[:300]
        )
        position.status = GregPosition.Status.CLOSED
        position.closed_at = now
        position.close_reason = reason[:300]
        position.save(update_fields=["status", "closed_at", "close_reason"])
        position_log(position, "closed", f"Closed: {reason} (P&L {position.pnl_usd:.2f} USD)")


def sandbox_close(*, run_id: str, client: DeribitClient | None = None) -> int:
    """Close every open sandbox position of a batch (reviewed at market first with a client)."""
    rows = list(GregPosition.objects.filter(run_id=run_id, sandbox=True, status="open"))
    if client is not None and rows:
        positions_review(client=client, positions=rows)
    for row in rows:
        row.refresh_from_db()
        position_close(position=row, reason=f"sandbox batch {run_id} closed")
    return len(rows)


# ------------------------------------------------------------------ position and hedge engines


def _leg_state(leg: dict[str, Any], chain: pd.DataFrame, index: float) -> LegState:
    expiry = datetime.fromisoformat(str(leg["expiry"])).astimezone(UTC)
    size = float(leg["amount"]) * (-1.0 if leg["side"] == "sell" else 1.0)
    rows = chain[chain["instrument_name"] == leg["instrument_name"]] if not chain.empty else chain
    if len(rows):
        row = rows.iloc[0]
        delta = float(row["delta"]) if pd.notna(row["delta"]) else 0.0
        iv = float(row["mark_iv"]) if pd.notna(row["mark_iv"]) else None
        mark = float(row["mark_price"])
    else:  # expired or delisted: intrinsic at the index
        strike = float(leg["strike"])
        itm = index - strike if leg["option_type"] == "C" else strike - index
        mark, iv = max(itm, 0.0) / index, None
        delta = (1.0 if leg["option_type"] == "C" else -1.0) if itm > 0 else 0.0
    return LegState(
        instrument_name=leg["instrument_name"],
        size=size,
        strike=float(leg["strike"]),
        option_type=leg["option_type"],
        expiry=expiry,
        mark_price_coin=mark,
        delta=delta,
        iv_pct=iv,
    )


@dataclass(frozen=True)
class _Market:
    now: datetime
    chain: pd.DataFrame
    index: float
    change_24h_pct: float | None
    funding: float | None


def _market(client: DeribitClient, underlying: str) -> _Market:
    summaries = client.get_book_summary_by_currency(underlying, "option")
    stamps = [r.creation_timestamp for r in summaries]
    now = datetime.fromtimestamp(max(stamps) / 1000, UTC) if stamps else timezone.now()
    perp = client.get_book_summary_by_instrument(f"{underlying}-PERPETUAL")
    return _Market(
        now=now,
        chain=chain_frame(summaries, now),
        index=float(perp.estimated_delivery_price or perp.mark_price),
        change_24h_pct=perp.price_change,
        funding=perp.funding_8h,
    )


def _review_store(position: GregPosition, review: PositionReview, market: _Market) -> None:
    previous = (position.review or {}).get("actions", [{}])[0].get("action")
    data = review.model_dump(mode="json")
    data["top"] = review.top.model_dump(mode="json")
    position.review = data
    position.pnl_usd = review.pnl_usd
    position.reviewed_at = market.now
    position.save(update_fields=["review", "pnl_usd", "reviewed_at"])
    if review.top.action != previous:
        position_log(
            position,
            "suggestion" if review.top.action != "HOLD" else "review",
            f"{review.top.action}: {review.top.reason}",
            at=market.now,
            pnl_usd=review.pnl_usd,
            dte_days=review.dte_days,
            net_delta=review.net_delta,
        )
        if review.top.action != "HOLD":
            GregDecision.objects.create(
                kind=GregDecision.Kind.SUGGESTION,
                underlying=position.underlying,
                strategy=position.strategy,
                position=position,
                action=review.top.action,
                outcome="advised",
                reasoning=review.top.reason,
                environment=position.environment,
                index_price=market.index,
                details=data,
            )


def positions_review(
    *, client: DeribitClient, positions: list[GregPosition] | None = None
) -> list[tuple[GregPosition, PositionReview]]:
    """Run the position and hedge engines on open Greg positions (one chain per underlying)."""
    rows = positions if positions is not None else list(GregPosition.objects.filter(status="open"))
    by_underlying: dict[str, list[GregPosition]] = defaultdict(list)
    for row in rows:
        by_underlying[row.underlying].append(row)
    reviewed: list[tuple[GregPosition, PositionReview]] = []
    for underlying, group in sorted(by_underlying.items()):
        market = _market(client, underlying)
        for position in group:
            state = PositionState(
                strategy=position.strategy,
                underlying=underlying,
                now=market.now,
                index_price=market.index,
                credit_usd=position.credit_usd,
                legs=tuple(_leg_state(leg, market.chain, market.index) for leg in position.legs),
                perp_delta=float(position.hedge_usd) / market.index,
                last_hedge_price=position.last_hedge_price or position.entry_index_price,
                market_change_24h_pct=market.change_24h_pct,
                predicted_funding=market.funding,
            )
            review = position_review(state)
            _review_store(position, review, market)
            reviewed.append((position, review))
    return reviewed

"""The what-if report: every OPEN suggestion in greg_decision_log valued at today's marks."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from django.utils import timezone

from greg.domain.whatif import whatif_value
from greg.models import GregDecision
from trading.deribit.client import DeribitClient


def _marks(client: DeribitClient, underlying: str) -> tuple[dict[str, float], float]:
    rows = client.get_book_summary_by_currency(underlying, "option")
    perp = client.get_book_summary_by_instrument(f"{underlying}-PERPETUAL")
    index = float(perp.estimated_delivery_price or perp.mark_price)
    return {r.instrument_name: float(r.mark_price) for r in rows}, index


def whatif_report(*, client: DeribitClient, since: datetime | None = None) -> dict[str, Any]:
    """Value each advised OPEN suggestion as if it had been followed; totals per strategy."""
    suggestions = GregDecision.objects.filter(
        kind=GregDecision.Kind.SUGGESTION, action="OPEN", outcome="advised"
    ).order_by("created_at", "id")
    if since is not None:
        suggestions = suggestions.filter(created_at__gte=since)
    markets: dict[str, tuple[dict[str, float], float]] = {}
    items: list[dict[str, Any]] = []
    totals: dict[str, dict[str, float]] = defaultdict(lambda: {"count": 0, "pnl_usd": 0.0})
    for row in suggestions:
        quote = row.structures.get(row.strategy) or {}
        entry = quote.get("index_usd") or quote.get("forward_usd")
        legs = [{**leg, "entry_index_usd": entry} for leg in quote.get("legs", [])]
        if not legs:
            continue
        if row.underlying not in markets:
            markets[row.underlying] = _marks(client, row.underlying)
        marks, index = markets[row.underlying]
        result = whatif_value(legs, marks=marks, index_price=index)
        items.append(
            {
                "id": row.pk,
                "created_at": row.created_at.isoformat(),
                "underlying": row.underlying,
                "strategy": row.strategy,
                **result.model_dump(),
            }
        )
        total = totals[row.strategy]
        total["count"] += 1
        total["pnl_usd"] += result.pnl_usd
    return {"as_of": timezone.now().isoformat(), "items": items, "totals": dict(totals)}

"""Greg's periodic work: evaluate each underlying, then review open positions."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from greg.models import GregSettings
from greg.services import exchange
from greg.services.evaluation import greg_evaluate
from greg.services.positions import positions_review
from trading.deribit.client import DeribitClient


def greg_tick(*, client: DeribitClient | None = None) -> dict[str, Any]:
    """One beat: evaluations logged, engines run on open positions; a summary dict."""
    if not GregSettings.load().evaluation_enabled:
        return {"skipped": "evaluation disabled"}
    underlyings = list(getattr(settings, "GREG_UNDERLYINGS", ("BTC", "ETH")))
    if client is None:
        with exchange.greg_client() as own:
            return greg_tick(client=own)
    rows = greg_evaluate(client=client, underlyings=underlyings)
    reviews = positions_review(client=client)
    return {
        "evaluations": {r.underlying: r.strategy for r in rows},
        "reviewed": len(reviews),
        "requests": client.request_count,
    }

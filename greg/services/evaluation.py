"""Evaluate underlyings: sensors -> waterfall -> the seven structures, logged to
greg_decision_log (an evaluation row, plus a suggestion row when a strategy is chosen)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction

from greg.domain.legs import StructureQuote, structures_build
from greg.domain.sensors import SensorSet, sensors_compute
from greg.domain.waterfall import EntryDecision, entry_decide
from greg.models import GregDecision, GregSettings
from greg.selectors import thresholds_current
from greg.services.market import MarketFetch, market_fetch, spec_lookup
from trading.deribit.client import DeribitClient

DEFAULT_SIZE_COIN = {"BTC": Decimal("0.1"), "ETH": Decimal("1")}


@dataclass(frozen=True)
class Evaluation:
    """One underlying's evaluation, in memory (the row is `decision` when stored)."""

    underlying: str
    sensors: SensorSet
    decision: EntryDecision
    structures: dict[str, Any]
    fetch: MarketFetch
    requests: int
    duration_ms: float
    row: GregDecision | None = None


def structure_size(underlying: str, row: GregSettings | None = None) -> Decimal:
    """Coins per structure for an underlying (settings' sandbox size, else 0.1 BTC / 1 ETH)."""
    sizes = (row or GregSettings.load()).sandbox_size_coin or {}
    if underlying in sizes:
        return Decimal(str(sizes[underlying]))
    return DEFAULT_SIZE_COIN.get(underlying, Decimal("1"))


def _structures_json(quotes: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for strategy, quote in quotes.items():
        if isinstance(quote, StructureQuote):
            result[strategy] = {"ok": True, **quote.model_dump(mode="json")}
        else:
            result[strategy] = {"ok": False, "reason": quote.reason}
    return result


def underlying_evaluate(
    *, client: DeribitClient, underlying: str, size: Decimal | None = None
) -> Evaluation:
    """Fetch, compute the sensors, run the waterfall and build every structure (no writes)."""
    started = time.perf_counter()
    before = client.request_count
    fetch = market_fetch(client=client, underlying=underlying)
    sensors = sensors_compute(fetch.inputs)
    version, thresholds = thresholds_current()
    decision = entry_decide(sensors.values(), thresholds=thresholds, calibration_version=version)
    structures: dict[str, Any] = {}
    chain = fetch.inputs.chain
    if chain is not None:
        quotes = structures_build(
            chain,
            amount=size or structure_size(underlying),
            now=fetch.inputs.as_of,
            spec_of=spec_lookup(fetch.specs),
            index_price=fetch.inputs.index_price,
        )
        structures = _structures_json(quotes)
    return Evaluation(
        underlying=underlying,
        sensors=sensors,
        decision=decision,
        structures=structures,
        fetch=fetch,
        requests=client.request_count - before,
        duration_ms=(time.perf_counter() - started) * 1000.0,
    )


def evaluation_record(evaluation: Evaluation) -> GregDecision:
    """Store an evaluation (and the suggestion it makes, if any) in greg_decision_log."""
    decision = evaluation.decision
    common = {
        "underlying": evaluation.underlying,
        "strategy": decision.strategy,
        "step": decision.step,
        "rule_key": decision.rule_key,
        "reasoning": decision.reasoning,
        "engine_version": decision.engine_version,
        "calibration_version": decision.calibration_version,
        "environment": settings.DERIBIT_ENV,
        "index_price": evaluation.fetch.inputs.index_price,
    }
    with transaction.atomic():
        row = GregDecision.objects.create(
            kind=GregDecision.Kind.EVALUATION,
            sensors=[r.model_dump(mode="json") for r in evaluation.sensors.readings],
            rules=[r.model_dump(mode="json") for r in decision.rules],
            structures=evaluation.structures,
            requests_count=evaluation.requests,
            duration_ms=evaluation.duration_ms,
            **common,
        )
        chosen = evaluation.structures.get(decision.strategy)
        if chosen is not None:
            GregDecision.objects.create(
                kind=GregDecision.Kind.SUGGESTION,
                action="OPEN",
                outcome="advised" if chosen["ok"] else "unbuildable",
                structures={decision.strategy: chosen},
                details={"evaluation_id": row.pk},
                **common,
            )
    return row


def greg_evaluate(*, client: DeribitClient, underlyings: list[str]) -> list[GregDecision]:
    """Evaluate and log each underlying (the beat task's work)."""
    return [
        evaluation_record(underlying_evaluate(client=client, underlying=u)) for u in underlyings
    ]

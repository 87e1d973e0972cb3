"""factory-boy factories for rows the view tests need, instead of running real ticks.

A `DecisionFactory` row has the shape the tick writes (a valid proposal and verdict, so the
typed read side accepts it); `OrderFactory` and `PositionFactory` give its legs and books.
"""

from __future__ import annotations

from decimal import Decimal

import factory
from django.utils import timezone

from trading.models import Decision, Order, Position

CALL = "BTC-26DEC25-100000-C"


def _proposal(action: str, underlying: str | None, legs: list[dict[str, str]]) -> dict:
    return {
        "action": action,
        "underlying": underlying,
        "legs": legs,
        "reason": "factory",
        "source": "rule_based",
        "mode": "research",
        "policy_version": "rb_v1_explore",
        "explored": False,
        "explore_rank": None,
        "candidate_score": None,
        "triggers": [],
    }


class DecisionFactory(factory.django.DjangoModelFactory):
    """A DO_NOTHING decision by default; `open_call=True` makes an approved OPEN of `CALL`."""

    class Meta:
        model = Decision

    class Params:
        open_call = factory.Trait(
            action="OPEN_COVERED_CALL",
            underlying="BTC",
            verdict_code="approved",
            proposal=factory.LazyFunction(
                lambda: _proposal(
                    "OPEN_COVERED_CALL",
                    "BTC",
                    [
                        {
                            "instrument_name": CALL,
                            "direction": "sell",
                            "amount": "0.1",
                            "limit_price_coin": "0.02",
                        }
                    ],
                )
            ),
            risk_verdict=factory.LazyFunction(
                lambda: {
                    "action": "OPEN_COVERED_CALL",
                    "approved": True,
                    "increases_risk": True,
                    "checks": [],
                    "code": "approved",
                    "reasons": [],
                }
            ),
        )

    decided_at = factory.LazyFunction(timezone.now)
    market_time = factory.LazyFunction(timezone.now)
    environment = "sim"
    mode = "research"
    policy_version = "rb_v1_explore"
    params_hash = "0123456789ab"
    decision_mode = "rule_only"
    decision_source = "rule_based"
    dry_run = True
    action = "DO_NOTHING"
    underlying = ""
    reason = factory.Sequence(lambda n: f"decision {n}: nothing to do")
    verdict_code = "no_action"
    risk_verdict = factory.LazyFunction(
        lambda: {
            "action": "DO_NOTHING",
            "approved": True,
            "increases_risk": False,
            "checks": [],
            "code": "no_action",
            "reasons": [],
        }
    )
    proposal = factory.LazyFunction(lambda: _proposal("DO_NOTHING", None, []))


class OrderFactory(factory.django.DjangoModelFactory):
    """A simulated (dry-run) sell leg of `CALL` for a decision."""

    class Meta:
        model = Order

    label = factory.Sequence(lambda n: f"od-test-{n:06d}")
    decision = factory.SubFactory(DecisionFactory, open_call=True)
    environment = "sim"
    dry_run = True
    instrument_name = CALL
    currency = "BTC"
    direction = "sell"
    amount = Decimal("0.1")
    limit_price = Decimal("0.02")
    state = Order.State.SIMULATED
    filled_amount = Decimal("0.1")
    average_price = Decimal("0.02")


class PositionFactory(factory.django.DjangoModelFactory):
    """An open paper short of `CALL`."""

    class Meta:
        model = Position

    instrument_name = CALL
    currency = "BTC"
    paper = True
    size = Decimal("-0.1")
    average_price_coin = Decimal("0.02")

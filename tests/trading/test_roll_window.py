"""No roll churn in the live rule policy (issue 12).

Research mode accepts calls from `dte_min_days` = 1.0 and rolls below `roll_dte_min_days` = 1.0:
a daily sold at 08:00 with 1.000 days left used to be rolled at the next five-minute tick. The
replay below runs the rule policy every five minutes over four days of daily expiries (calls
quoted at a 0.30 delta, one position at a time, every proposal applied as if filled) and
checks no call is bought back by the roll rules within an hour of its sale; with the roll-window
guard switched off the same replay churns.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from tests.builders import EXPLOIT, RESEARCH, make_inputs, make_portfolio, make_quote, short
from trading.domain import policy
from trading.domain.candidates import CandidateChain, evaluate_candidates
from trading.domain.instruments import dte_days, format_instrument
from trading.domain.policy import PolicyInput, decide_rule_based, outside_roll_window
from trading.domain.proposal import ActionType

START = datetime(2025, 12, 10, 7, 32, tzinfo=UTC)  # ticks at :57 and :02 straddle 08:00
TICK = timedelta(minutes=5)


def _quotes(now: datetime) -> list:
    first = (now - timedelta(hours=8)).date() + timedelta(days=1)
    expiries = [
        datetime(first.year, first.month, first.day, 8, tzinfo=UTC) + timedelta(days=k)
        for k in range(4)
    ]
    return [
        make_quote(format_instrument("BTC", expiry, 100_000.0, "C"), delta=0.30)
        for expiry in expiries
        if expiry > now
    ]


def _evaluation(quotes: list, now: datetime):
    chain = CandidateChain.build(
        instrument_name=[q.instrument_name for q in quotes],
        strike=[100_000.0] * len(quotes),
        underlying_usd=[q.index_price_usd for q in quotes],
        dte_days=[dte_days(q.expiry, now) for q in quotes],
        delta=[q.delta for q in quotes],
        iv=0.6,
        premium_usd=[float(q.usd(q.best_bid_coin)) for q in quotes],
        spread_pct=[(q.spread_pct or 0) / 100 for q in quotes],
        open_interest=[q.open_interest for q in quotes],
    )
    return evaluate_candidates(chain, RESEARCH.strategy, rv=0.4)


def _replay(days: float = 4.0) -> list[tuple[str, float, str]]:
    """(instrument, hours held, how it ended) of every call bought back during the replay."""
    held: tuple[str, datetime] | None = None
    ended = []
    now = START
    while now < START + timedelta(days=days):
        quotes = _quotes(now)
        names = {q.instrument_name for q in quotes}
        if held is not None and held[0] not in names:
            held = None  # expired
        positions = (
            () if held is None else (short(held[0], "0.1", average_price_coin=Decimal("0.0100")),)
        )
        inputs = make_inputs(portfolio=make_portfolio(positions=positions), quotes=quotes, now=now)
        state = PolicyInput(risk=inputs, evaluations={"BTC": _evaluation(quotes, now)})
        proposal = decide_rule_based(state, RESEARCH, EXPLOIT)
        if proposal.action in (ActionType.ROLL_COVERED_CALL, ActionType.CLOSE_COVERED_CALL):
            assert held is not None
            hours = (now - held[1]).total_seconds() / 3600
            ended.append((held[0], hours, proposal.action.value))
            held = None
        if proposal.open_leg is not None:
            held = (proposal.open_leg.instrument_name, now)
        now += TICK
    return ended


def test_no_call_is_rolled_within_an_hour_of_its_sale() -> None:
    ended = _replay()

    quick = [item for item in ended if item[1] < 1.0]
    assert len(ended) >= 3, ended
    assert quick == []


def test_without_the_roll_window_guard_the_replay_churns(monkeypatch) -> None:
    monkeypatch.setattr(policy, "outside_roll_window", lambda dte, delta, rules: True)

    ended = _replay(days=2.0)

    assert any(hours < 1.0 for _, hours, _ in ended), ended


@pytest.mark.parametrize(
    ("dte", "delta", "clear"),
    [
        (1.0, 0.3, False),
        (1.04, 0.3, False),
        (1.05, 0.3, True),
        (2.03, 0.6, False),
        (2.5, 0.6, True),
        (2.1, 0.3, True),
    ],
)
def test_outside_roll_window_needs_an_hour_of_margin(dte: float, delta: float, clear: bool) -> None:
    assert outside_roll_window(dte, delta, RESEARCH.roll) is clear
    assert np.isfinite(dte)

"""Builders the tests share: plain values and functions (no fixtures, which live in conftest.py).

Test modules import builders from here (or from the area modules beside them: the live agent's
simulator in tests/trading/agent_helpers.py, hand-built backtest panels in
tests/backtests/helpers.py, real Celery processes in tests/workers.py, factory-boy rows in
tests/factories.py), never from another test module. Pure: no Django, no network.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pandas as pd

from trading.deribit.client import DeribitClient
from trading.deribit.models import Instrument, Ticker
from trading.domain import black76
from trading.domain.candidates import CandidateChain, CandidateEvaluation, evaluate_candidates
from trading.domain.instruments import default_spec, dte_days
from trading.domain.params import EffectiveParams, Environment, RiskLimits, resolve_effective_params
from trading.domain.policy import PolicyInput
from trading.domain.proposal import ActionType, OrderLeg, Proposal
from trading.domain.risk import (
    DrawdownState,
    OptionPosition,
    OptionQuote,
    PortfolioState,
    RiskInputs,
    evaluate_risk,
)

# ------------------------------------------------------------------------------ risk engine inputs

NOW = datetime(2025, 12, 10, 12, 0, tzinfo=UTC)
CALL = "BTC-19DEC25-100000-C"
CALL_2 = "BTC-26DEC25-105000-C"
ETH_CALL = "ETH-19DEC25-3400-C"


def make_quote(name: str = CALL, **overrides: Any) -> OptionQuote:
    """A liquid out-of-the-money call: ~4.9% spread, OI 800, 5 coins at the bid."""
    eth = name.startswith("ETH")
    values: dict[str, Any] = {
        "instrument_name": name,
        "spec": default_spec(name),
        "index_price_usd": 3100.0 if eth else 92000.0,
        "best_bid_coin": Decimal("0.0200") if eth else Decimal("0.0100"),
        "best_ask_coin": Decimal("0.0205") if eth else Decimal("0.0105"),
        "best_bid_amount": Decimal("50") if eth else Decimal("5"),
        "best_ask_amount": Decimal("50") if eth else Decimal("5"),
        "mark_price_coin": Decimal("0.0202") if eth else Decimal("0.0102"),
        "delta": 0.22,
        "open_interest": 800.0,
    }
    return OptionQuote(**(values | overrides))


def make_portfolio(**overrides: Any) -> PortfolioState:
    """200k USD equity, 2.5% margin used, 1 BTC and 10 ETH held, no option positions."""
    values: dict[str, Any] = {
        "equity_usd": Decimal("200000"),
        "initial_margin_usd": Decimal("5000"),
        "holdings_coin": {"BTC": Decimal("1"), "ETH": Decimal("10")},
        "net_delta": {"BTC": 1.0, "ETH": 10.0},
        "positions": (),
    }
    return PortfolioState(**(values | overrides))


def short(name: str, size: str, **kw: Any) -> OptionPosition:
    return OptionPosition(instrument_name=name, size=-Decimal(size), **kw)


def make_inputs(
    *,
    portfolio: PortfolioState | None = None,
    quotes: list[OptionQuote] | None = None,
    now: datetime = NOW,
    environment: Environment = Environment.TESTNET,
    drawdown: DrawdownState | None = None,
) -> RiskInputs:
    return RiskInputs.build(
        portfolio=portfolio or make_portfolio(),
        quotes=quotes if quotes is not None else [make_quote(), make_quote(CALL_2)],
        now=now,
        environment=environment,
        drawdown=drawdown,
    )


def sell(name: str = CALL, amount: str = "0.1", price: str = "0.0100") -> OrderLeg:
    return OrderLeg(
        instrument_name=name,
        direction="sell",
        amount=Decimal(amount),
        limit_price_coin=Decimal(price),
    )


def buy(name: str = CALL, amount: str = "0.1", price: str = "0.0105") -> OrderLeg:
    return OrderLeg(
        instrument_name=name,
        direction="buy",
        amount=Decimal(amount),
        limit_price_coin=Decimal(price),
    )


def open_call(leg: OrderLeg | None = None) -> Proposal:
    return Proposal(action=ActionType.OPEN_COVERED_CALL, underlying="BTC", legs=(leg or sell(),))


def close_call(leg: OrderLeg | None = None) -> Proposal:
    return Proposal(action=ActionType.CLOSE_COVERED_CALL, underlying="BTC", legs=(leg or buy(),))


def roll_call(close: OrderLeg, open_: OrderLeg) -> Proposal:
    return Proposal(action=ActionType.ROLL_COVERED_CALL, underlying="BTC", legs=(close, open_))


LIMITS = RiskLimits()


def latched_drawdown() -> DrawdownState:
    """A daily drawdown stop that latched at 09:30 UTC on 5 Dec 2026, 12% below its peak."""
    return DrawdownState(
        day=datetime(2026, 12, 5, tzinfo=UTC).date(),
        peak_equity_usd=Decimal("100000"),
        halted=True,
        halted_at=datetime(2026, 12, 5, 9, 30, tzinfo=UTC),
        reason="daily drawdown 12.00% >= limit 10.00% (peak 100000 USD)",
    )


def failed_names(proposal: Proposal, inputs: RiskInputs, limits: RiskLimits = LIMITS) -> set[str]:
    return {c.name for c in evaluate_risk(proposal, inputs, limits).failed}


# -------------------------------------------------------------------------------------- rule policy

RESEARCH = resolve_effective_params(environment="testnet")


class FixedDraw:
    """A stand-in RNG whose uniform draw is fixed (0.9: exploit; 0.1: explore)."""

    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


EXPLOIT: Any = FixedDraw(0.9)
EXPLORE: Any = FixedDraw(0.1)


def evaluation_for(
    quotes: list[OptionQuote], params: EffectiveParams, *, iv: float = 0.60, rv: float = 0.40
) -> CandidateEvaluation:
    """Screen the quotes with the candidate filter of `params` (IV/RV 1.5 by default)."""
    chain = CandidateChain.build(
        instrument_name=[q.instrument_name for q in quotes],
        strike=[float(q.strike_usd or 0) for q in quotes],
        underlying_usd=[q.index_price_usd for q in quotes],
        dte_days=[dte_days(q.expiry, NOW) for q in quotes if q.expiry is not None],
        # None (unknown) becomes NaN under dtype=float64; ArrayLike does not model that.
        delta=[q.delta for q in quotes],  # type: ignore[arg-type]
        iv=iv,
        premium_usd=[float(q.usd(q.best_bid_coin or Decimal(0))) for q in quotes],
        spread_pct=[(q.spread_pct or 0) / 100 for q in quotes],
        open_interest=[q.open_interest for q in quotes],  # type: ignore[arg-type]
    )
    return evaluate_candidates(chain, params.strategy, rv=rv)


def state_for(
    inputs: RiskInputs, params: EffectiveParams = RESEARCH, candidates: list[str] | None = None
) -> PolicyInput:
    names = [CALL, CALL_2] if candidates is None else candidates
    quotes = [inputs.quotes[n] for n in names if n in inputs.quotes]
    return PolicyInput(risk=inputs, evaluations={"BTC": evaluation_for(quotes, params)})


# --------------------------------------------------------------- chains in the first harvest schema

HARVEST = pd.Timestamp("2025-12-10 08:00:00", tz="UTC")
EXPIRY_TS = pd.Timestamp("2026-03-27 08:00:00", tz="UTC").timestamp()


def old_schema_chain(vol: float = 0.5) -> pd.DataFrame:
    """Rows in the first harvest schema: no strike, expiry or type columns."""
    forward = 92_000.0
    t = (EXPIRY_TS - HARVEST.timestamp()) / (365 * 86400)
    names, marks = [], []
    for strike in (60_000, 80_000, 92_000, 100_000, 140_000):
        for cp in ("C", "P"):
            names.append(f"BTC-27MAR26-{strike}-{cp}")
            marks.append(float(black76.price(forward, strike, t, vol, cp == "C")) / forward)
    n = len(names)
    return pd.DataFrame(
        {
            "harvest_time": [HARVEST] * n,
            "instrument_name": names,
            "mark_price": marks,
            "underlying_price": [forward] * n,
            "underlying_index": ["BTC-27MAR26"] * n,
            "open_interest": [1.0] * n,
            "volume": [0.0] * n,
            "mark_iv": [100 * vol] * n,
        }
    )


# ---------------------------------------------------------------------------- the simulator's chain


def pick_call(sim_client: DeribitClient) -> tuple[Instrument, Ticker]:
    """The 19DEC25 call nearest 0.15 delta whose top bid shows less than 9 BTC."""
    calls = [
        i
        for i in sim_client.get_instruments("BTC")
        if i.option_type == "call" and i.expiry == datetime(2025, 12, 19, 8, tzinfo=UTC)
    ]
    best: tuple[float, Instrument, Ticker] | None = None
    for instrument in calls:
        ticker = sim_client.ticker(instrument.instrument_name)
        assert ticker.greeks is not None
        amount = ticker.best_bid_amount or 0
        if ticker.best_bid_price and 0 < amount < 9:
            score = abs(ticker.greeks.delta - 0.15)
            if best is None or score < best[0]:
                best = (score, instrument, ticker)
    assert best is not None, "no suitable call on the simulated chain"
    return best[1], best[2]


# ----------------------------------------------------------------------------------- Greg's sensors

#: Reaches the default step: every rule's conditions miss.
NEUTRAL = {
    "vrp_30d": 5.0,
    "vrp_7d": 0.0,
    "front_rv_iv_ratio": 0.9,
    "chop_factor_7d": 0.7,
    "iv_rank_6m": 0.5,
    "term_structure_spread": 0.0,
    "skew_25d": 0.0,
    "adx_14d": 25.0,
    "rsi_14d": 50.0,
    "price_vs_ma200": 100.0,
    "predicted_funding_rate": 0.0001,
}

"""Leg builders: turn a chosen strategy into concrete, priced, quantised legs.

Each structure follows the spec's DTE windows (the expiry nearest the target window's middle;
else the allowed one nearest the target; none in the allowed range: not buildable) and
strike targets (ATM: strike nearest the forward; delta: the OTM option whose forward delta is
nearest the target, inside ``delta_min..delta_max`` when the spec gives a band). Sells are
priced at the best bid and buys at the best ask (coin, on the tick grid); amounts are rounded
down to the instrument's amount step. Money is reported in USD at the forward.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from greg.domain.spec import DteWindow, GregSpec, LegSpec, StructureSpec, load_spec
from trading.domain import black76
from trading.domain.chain import enrich_chain
from trading.domain.fees import option_fee_coin
from trading.domain.instruments import (
    BelowMinimumAmountError,
    ContractSpec,
    default_spec,
    quantize_amount,
    quantize_price,
)

SpecLookup = Callable[[str], ContractSpec]
STRESS_SIGMAS: Final[float] = 3.0
MIN_IM_FRACTION: Final[float] = 0.10
BASE_IM_FRACTION: Final[float] = 0.15


class Leg(BaseModel):
    """One priced leg; ``amount`` in contracts (coin), signed greeks are the leg's exposure."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    instrument_name: str
    side: str
    option_type: str
    strike: float
    expiry: datetime
    dte_days: float
    amount: Decimal
    price_coin: Decimal
    mark_price_coin: float
    iv_pct: float
    delta: float
    gamma: float
    vega_usd: float
    theta_usd: float


class StructureQuote(BaseModel):
    """A strategy's legs with premium, fees, max loss, margin and net greeks (USD, coins)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: str
    underlying: str
    forward_usd: float
    index_usd: float
    legs: tuple[Leg, ...]
    credit_usd: float
    fees_usd: float
    max_loss_usd: float
    max_loss_basis: str
    margin_usd: float
    net_delta: float
    net_gamma: float
    net_vega_usd: float
    net_theta_usd: float
    notional_usd: float
    dte_note: str = ""


class BuildFailure(BaseModel):
    """Why a structure could not be built (no expiry in window, no bid to sell into, ...)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: str
    reason: str


BOOK_COLUMNS: Final[tuple[str, ...]] = (
    "instrument_name", "underlying", "option_type", "strike", "underlying_price",
    "expiry_timestamp", "t_years", "delta", "iv", "mark_iv", "mark_price",
    "best_bid_price", "best_ask_price",
)  # fmt: skip


@dataclass(frozen=True)
class Book:
    """A chain prepared once for the leg builders: days per expiry and rows per expiry."""

    days: pd.Series
    groups: dict[float, pd.DataFrame]
    underlying: str

    @classmethod
    def of(cls, chain: pd.DataFrame) -> Book:
        """Enrich (when needed), keep the columns the builders read, group by expiry."""
        df = chain if "delta" in chain.columns else enrich_chain(chain)
        df = df.loc[:, [c for c in BOOK_COLUMNS if c in df.columns]]
        groups = {float(k): g for k, g in df.groupby("expiry_timestamp", sort=True)}
        days = pd.Series({k: float(g["t_years"].median()) * 365.0 for k, g in groups.items()})
        underlying = str(df["underlying"].iloc[0]) if len(df) else ""
        return cls(days=days, groups=groups, underlying=underlying)


def _pick_expiry(per_expiry: pd.Series, window: DteWindow) -> tuple[float, str] | None:
    """The expiry nearest the target window's middle; else the allowed one nearest the target.

    Outside the allowed range nothing is picked (None): the rules' window is honoured, never
    replaced by a nearer listed expiry. A pick outside the target is said in the note.
    """
    keys = per_expiry.index.to_numpy(dtype=np.float64)
    days = per_expiry.to_numpy(dtype=np.float64)
    allowed = (days >= window.allowed_min) & (days <= window.allowed_max)
    if not allowed.any():
        return None
    low, high = window.target_min, window.target_max
    inside = allowed & (days >= low) & (days <= high)
    if inside.any():
        best = int(np.argmin(np.where(inside, np.abs(days - (low + high) / 2.0), np.inf)))
        return float(keys[best]), ""
    nearest = int(np.argmin(np.where(allowed, np.maximum(low - days, days - high), np.inf)))
    note = f"no expiry in the target {low:g}-{high:g} DTE; {days[nearest]:.1f} DTE is inside"
    return float(keys[nearest]), f"{note} the allowed {window.allowed_min:g}-{window.allowed_max:g}"


def _no_expiry(kind: str, window: DteWindow, per_expiry: pd.Series) -> str:
    listed = ", ".join(f"{d:.1f}" for d in sorted(per_expiry.tolist())) or "none"
    return f"not buildable: no listed {kind}expiry within {window.text()}; listed DTE: {listed}"


def _pick_row(group: pd.DataFrame, leg: LegSpec) -> pd.Series | None:
    """The row of the leg's strike: nearest the forward (ATM) or the OTM delta target."""
    kind = group["option_type"].to_numpy(dtype=object) == leg.kind
    strike = group["strike"].to_numpy(dtype=np.float64)
    forward = group["underlying_price"].to_numpy(dtype=np.float64)
    if not kind.any():
        return None
    if leg.target == "atm":
        distance = np.where(kind, np.abs(strike - forward), np.inf)
        return group.iloc[int(np.argmin(distance))]
    delta = np.abs(group["delta"].to_numpy(dtype=np.float64))
    otm = strike > forward if leg.kind == "C" else strike < forward
    usable = kind & otm & np.isfinite(delta)
    if leg.delta_min is not None and leg.delta_max is not None:
        band = usable & (delta >= leg.delta_min) & (delta <= leg.delta_max)
        usable = band if band.any() else usable
    if not usable.any():
        return None
    target = leg.delta or 0.25
    return group.iloc[int(np.argmin(np.where(usable, np.abs(delta - target), np.inf)))]


def _book_price(row: pd.Series, side: str, spec: ContractSpec) -> Decimal | None:
    raw = row["best_bid_price"] if side == "sell" else row["best_ask_price"]
    if raw is None or not math.isfinite(float(raw)) or float(raw) <= 0:
        return None
    return quantize_price(Decimal(repr(float(raw))), spec, "nearest")


def _leg(row: pd.Series, leg: LegSpec, amount: Decimal, price: Decimal, now: datetime) -> Leg:
    sign = -1.0 if leg.side == "sell" else 1.0
    size = float(amount) * sign
    iv = float(row["iv"]) if math.isfinite(float(row["iv"])) else float(row["mark_iv"]) / 100.0
    g = black76.greeks(
        float(row["underlying_price"]), float(row["strike"]), float(row["t_years"]), iv,
        leg.kind == "C",
    )  # fmt: skip
    expiry = datetime.fromtimestamp(float(row["expiry_timestamp"]), tz=UTC)
    return Leg(
        instrument_name=str(row["instrument_name"]),
        side=leg.side,
        option_type=leg.kind,
        strike=float(row["strike"]),
        expiry=expiry,
        dte_days=(expiry - now).total_seconds() / 86400.0,
        amount=amount,
        price_coin=price,
        mark_price_coin=float(row["mark_price"]),
        iv_pct=iv * 100.0,
        delta=float(g.delta) * size,
        gamma=float(g.gamma) * size,
        vega_usd=float(g.vega) * size,
        theta_usd=float(g.theta) * size,
    )


def _short_margin_usd(leg: Leg, forward: float) -> float:
    """Deribit-style initial margin of a short inverse option, per the leg (USD)."""
    otm = (
        max(leg.strike - forward, 0.0) if leg.option_type == "C" else max(forward - leg.strike, 0.0)
    )
    fraction = max(BASE_IM_FRACTION - otm / forward, MIN_IM_FRACTION) + float(leg.price_coin)
    return fraction * forward * float(leg.amount)


def _risk(
    strategy: str, legs: tuple[Leg, ...], forward: float, credit: float
) -> tuple[float, str, float]:
    """(max loss USD, how it was found, margin estimate USD) of a structure."""
    amount = float(legs[0].amount)
    shorts = [leg for leg in legs if leg.side == "sell"]
    longs = [leg for leg in legs if leg.side == "buy"]
    if strategy == "STRATEGY_B_CALENDAR":
        debit = -credit
        return debit, "debit paid (long back month covers the short front)", debit
    if strategy == "STRATEGY_C_SHORT_PUT":
        loss = shorts[0].strike * amount - credit
        return loss, "put assigned at a zero price, less the credit", shorts[0].strike * amount
    if longs:
        widths = []
        for short in shorts:
            wing = [x for x in longs if x.option_type == short.option_type]
            if wing:
                widths.append(abs(wing[0].strike - short.strike))
        loss = max(widths) * amount - credit
        return loss, "widest wing minus credit (defined risk)", loss
    iv = max(leg.iv_pct for leg in legs) / 100.0
    t_years = max(leg.dte_days for leg in legs) / 365.0
    move = forward * iv * math.sqrt(t_years) * STRESS_SIGMAS
    loss = (
        max(
            sum(max(forward + move - s.strike, 0.0) for s in shorts if s.option_type == "C"),
            sum(max(s.strike - (forward - move), 0.0) for s in shorts if s.option_type == "P"),
        )
        * amount
        - credit
    )
    margin = sum(_short_margin_usd(s, forward) for s in shorts)
    return loss, f"undefined risk: loss at a {STRESS_SIGMAS:g}-sigma move to expiry", margin


def structure_build(
    strategy: str,
    chain: pd.DataFrame | Book,
    *,
    amount: Decimal,
    now: datetime,
    spec_of: SpecLookup = default_spec,
    spec: GregSpec | None = None,
    index_price: float | None = None,
) -> StructureQuote | BuildFailure:
    """Build one strategy's legs from an option chain (enriched or not).

    Coin premiums are converted to USD at ``index_price`` (the spot index, as the exchange
    does); without it, at the structure's forward.
    """
    spec = spec or load_spec()
    structure = spec.strategies[strategy]
    book = chain if isinstance(chain, Book) else Book.of(chain)
    if not book.groups:
        return BuildFailure(strategy=strategy, reason="empty option chain")
    picked = _expiries(book.days, structure)
    if isinstance(picked, str):
        return BuildFailure(strategy=strategy, reason=picked)
    expiries, dte_note = picked
    legs: list[Leg] = []
    forward = 0.0
    for leg_spec in structure.legs:
        row = _pick_row(book.groups[expiries[leg_spec.expiry]], leg_spec)
        if row is None:
            return BuildFailure(strategy=strategy, reason=f"no {leg_spec.kind} for {leg_spec}")
        forward = forward or float(row["underlying_price"])
        contract = spec_of(str(row["instrument_name"]))
        try:
            size = quantize_amount(amount, contract)
        except BelowMinimumAmountError as exc:
            return BuildFailure(strategy=strategy, reason=str(exc))
        price = _book_price(row, leg_spec.side, contract)
        if price is None:
            side = "bid" if leg_spec.side == "sell" else "ask"
            return BuildFailure(strategy=strategy, reason=f"no {side} on {row['instrument_name']}")
        legs.append(_leg(row, leg_spec, size, price, now))
    if len({leg.instrument_name for leg in legs}) < len(legs):
        return BuildFailure(strategy=strategy, reason="legs collapse onto the same instrument")
    quote = _quote(strategy, book.underlying, tuple(legs), forward, index_price)
    return quote.model_copy(update={"dte_note": dte_note})


def _expiries(df: pd.Series, structure: StructureSpec) -> tuple[dict[str, float], str] | str:
    front = _pick_expiry(df, structure.front_window)
    if front is None:
        return _no_expiry("", structure.front_window, df)
    result, notes = {"front": front[0], "back": front[0]}, [front[1]]
    back_window = structure.back_window
    if back_window is not None:
        back = _pick_expiry(df, back_window)
        if back is None:
            return _no_expiry("back ", back_window, df)
        result["back"], notes = back[0], [*notes, back[1]]
    return result, "; ".join(n for n in notes if n)


def _quote(
    strategy: str,
    underlying: str,
    legs: tuple[Leg, ...],
    forward: float,
    index_price: float | None,
) -> StructureQuote:
    index = index_price or forward
    credit_coin = sum(
        float(leg.price_coin) * float(leg.amount) * (1 if leg.side == "sell" else -1)
        for leg in legs
    )
    fees_coin = sum(float(option_fee_coin(leg.amount, leg.price_coin)) for leg in legs)
    credit = credit_coin * index
    max_loss, basis, margin = _risk(strategy, legs, forward, credit)
    return StructureQuote(
        strategy=strategy,
        underlying=underlying,
        forward_usd=forward,
        index_usd=index,
        legs=legs,
        credit_usd=credit,
        fees_usd=fees_coin * index,
        max_loss_usd=max_loss,
        max_loss_basis=basis,
        margin_usd=margin,
        net_delta=sum(leg.delta for leg in legs),
        net_gamma=sum(leg.gamma for leg in legs),
        net_vega_usd=sum(leg.vega_usd for leg in legs),
        net_theta_usd=sum(leg.theta_usd for leg in legs),
        notional_usd=max(float(leg.amount) for leg in legs) * index,
    )


def structures_build(
    chain: pd.DataFrame,
    *,
    amount: Decimal | Mapping[str, Decimal],
    now: datetime,
    spec_of: SpecLookup = default_spec,
    index_price: float | None = None,
) -> dict[str, StructureQuote | BuildFailure]:
    """All seven structures on one chain (enriched once)."""
    spec = load_spec()
    book = Book.of(chain)
    result: dict[str, StructureQuote | BuildFailure] = {}
    for strategy in spec.strategies:
        size = amount if isinstance(amount, Decimal) else amount[strategy]
        result[strategy] = structure_build(
            strategy,
            book,
            amount=size,
            now=now,
            spec_of=spec_of,
            spec=spec,
            index_price=index_price,
        )
    return result

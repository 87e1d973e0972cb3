"""State builder: the market and the portfolio as one tick sees them, from a few bulk requests.

Per tick and underlying: one `get_book_summary_by_currency` (the whole option chain) and one
`get_account_summary`; one `get_positions(any)` for all; greeks are computed locally (Black-76 on
the marks, `trading.domain.chain.enrich_chain`), never one ticker per instrument. The market
context (hourly perpetual closes, 35 days) is cached for an hour, so steady ticks cost
2 x underlyings + 1 requests. Positions whose option expired are closed first
(`trading.services.expiry`; one `get_delivery_prices` per index and tick, only when one has).

Given a `StreamSnapshot` (`trading.services.stream_state`: the chain from tickers, the index,
the portfolio, positions and open orders, fresh and complete), the same state is built from it
with no request at all; `TickState.source` says which it was (`stream` with its age, or `rest`
with the reason the stream was not used).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.cache import cache

from trading.deribit.client import DeribitClient
from trading.deribit.models import AccountSummary, BookSummary
from trading.deribit.models import Position as ExchangePosition
from trading.domain.candidates import CandidateChain, CandidateEvaluation, evaluate_candidates
from trading.domain.chain import enrich_chain
from trading.domain.context import MarketContext, market_context
from trading.domain.instruments import default_spec, parse_instrument
from trading.domain.params import EffectiveParams
from trading.domain.risk import (
    OptionPosition,
    OptionQuote,
    PortfolioState,
    RiskInputs,
    order_delta_coin,
    paper_delta_coin,
)
from trading.models import Order, Position
from trading.services.chain_fetch import ChainQuotes, chain_quotes, market_time, quotes_chain
from trading.services.execution import EXTERNAL_STRATEGY
from trading.services.expiry import Expired, positions_expire
from trading.services.stream_state import StreamSnapshot

CONTEXT_CACHE_S = 3600
CONTEXT_HISTORY_DAYS = 35


@dataclass(frozen=True)
class StateSource:
    """Where a tick's state came from: the stream (and how old it was) or REST (and why)."""

    source: Literal["stream", "rest"] = "rest"
    age_s: float | None = None
    reason: str = ""
    open_orders: int | None = None  # the stream's count of our open orders (REST: not read)

    def as_record(self) -> dict[str, Any]:
        """The decision log's `state_source` member."""
        return {
            "source": self.source,
            "age_s": None if self.age_s is None else round(self.age_s, 3),
            "reason": self.reason,
            "open_orders": self.open_orders,
        }


@dataclass(frozen=True)
class TickState:
    """Everything the policy and the risk engine need, built once per tick."""

    now: datetime
    inputs: RiskInputs
    evaluations: dict[str, CandidateEvaluation]
    contexts: dict[str, MarketContext]
    index_usd: dict[str, float]
    exchange_positions: tuple[ExchangePosition, ...]
    chains: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    expired: tuple[Expired, ...] = ()  # positions this tick closed because their option expired
    source: StateSource = field(default_factory=StateSource)

    def spot_summary(self) -> dict[str, float]:
        """Index price per underlying (the dashboard's spot line)."""
        return dict(self.index_usd)


def chain_frame(rows: Sequence[BookSummary] | ChainQuotes, now: datetime) -> pd.DataFrame:
    """Option quotes (book summaries, or `ChainQuotes` from either source) as the project's
    chain shape, enriched with Black-76 greeks."""
    chain = quotes_chain(rows if isinstance(rows, ChainQuotes) else chain_quotes(rows), now)
    return chain if chain.empty else enrich_chain(chain)


def candidate_chain(frame: pd.DataFrame, index_usd: float) -> CandidateChain:
    """The candidate filter's columns: premium is the best bid in USD, spread a fraction of mid."""
    bid = frame["best_bid_price"].to_numpy(dtype=float)
    ask = frame["best_ask_price"].to_numpy(dtype=float)
    mid = (bid + ask) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = np.where(mid > 0, (ask - bid) / mid, np.nan)
    return CandidateChain.build(
        instrument_name=frame["instrument_name"].to_numpy(dtype=object),
        strike=frame["strike"].to_numpy(dtype=float),
        underlying_usd=frame["underlying_price"].to_numpy(dtype=float),
        dte_days=frame["t_years"].to_numpy(dtype=float) * 365.0,
        delta=frame["delta"].to_numpy(dtype=float),
        iv=frame["iv"].to_numpy(dtype=float),
        premium_usd=bid * index_usd,
        is_call=(frame["option_type"] == "C").to_numpy(),
        spread_pct=spread,
        open_interest=frame["open_interest"].to_numpy(dtype=float),
    )


def _dec(value: object) -> Decimal | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    if not np.isfinite(number) or number <= 0:
        return None
    return Decimal(repr(number))


def _positive(value: object) -> float | None:
    """A finite positive float, else None (the stress check's IV and forward)."""
    number = _dec(value)
    return None if number is None else float(number)


def _rows_named(frame: pd.DataFrame, wanted: set[str], columns: tuple[str, ...]) -> list[Any]:
    """The named rows' `columns` as plain tuples, in the frame's order (a Python scan of the
    names and one take per column: `isin` and `itertuples` cost ~20x more on every tick)."""
    names = frame["instrument_name"].to_numpy(dtype=object)
    at = [i for i, name in enumerate(names) if name in wanted]
    if not at:
        return []
    return list(zip(*(frame[c].to_numpy()[at].tolist() for c in columns), strict=True))


_QUOTE_COLUMNS = (
    "instrument_name",
    "delta",
    "open_interest",
    "underlying_price",
    "best_bid_price",
    "best_ask_price",
    "mark_price",
    "iv",
)


def quotes_for(frame: pd.DataFrame, names: Iterable[str], index_usd: float) -> list[OptionQuote]:
    """OptionQuotes for the named calls of a chain (candidates and the calls we hold)."""
    wanted = set(names)
    if frame.empty or not wanted:
        return []
    quotes = []
    for name, delta, open_interest, forward, bid, ask, mark, iv in _rows_named(
        frame, wanted, _QUOTE_COLUMNS
    ):
        quotes.append(
            OptionQuote(
                instrument_name=str(name),
                spec=default_spec(str(name)),
                index_price_usd=index_usd,
                forward_usd=forward if np.isfinite(forward) and forward > 0 else None,
                best_bid_coin=_dec(bid),
                best_ask_coin=_dec(ask),
                mark_price_coin=_dec(mark),
                delta=delta if np.isfinite(delta) else None,
                open_interest=open_interest if np.isfinite(open_interest) else None,
                mark_iv=_positive(iv),
                underlying_price_usd=_positive(forward),
            )
        )
    return quotes


_MARK_COLUMNS = {
    "mark": "mark_price",
    "bid": "best_bid_price",
    "ask": "best_ask_price",
    "iv": "iv",
    "delta": "delta",
    "gamma": "gamma",
    "vega": "vega",
    "theta": "theta",
    "underlying_usd": "underlying_price",
}


def position_marks(
    chains: dict[str, pd.DataFrame], names: Iterable[str], now: datetime
) -> dict[str, dict[str, float | None]]:
    """The last quote of each named instrument: mark, bid, ask (coin), IV and greeks per coin.

    The Live Agent tab's positions and the books' unrealised P&L read these from the tick's
    published status (`marks`), so a page load makes no exchange request.
    """
    wanted = set(names)
    marks: dict[str, dict[str, float | None]] = {}
    columns = ("instrument_name", *_MARK_COLUMNS.values())
    for frame in chains.values():
        if frame.empty or not wanted:
            continue
        for name, *values in _rows_named(frame, wanted, columns):
            mark: dict[str, float | None] = {
                key: float(value) if np.isfinite(value) else None
                for key, value in zip(_MARK_COLUMNS, values, strict=True)
            }
            marks[str(name)] = {**mark, "at": now.timestamp()}
    return marks


def context_load(client: DeribitClient, currency: str, now: datetime) -> MarketContext | None:
    """Market context from hourly perpetual closes, cached for an hour (None if unavailable)."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    key = f"trading:context:{client.base_url}:{currency}:{hour.isoformat()}"
    cached = cache.get(key)
    if cached is not None:
        return MarketContext.model_validate(cached)
    end_ms = int(now.timestamp() * 1000)
    start_ms = int((now - timedelta(days=CONTEXT_HISTORY_DAYS)).timestamp() * 1000)
    chart = client.get_tradingview_chart_data(f"{currency}-PERPETUAL", start_ms, end_ms, "60")
    if chart.status != "ok" or len(chart.close) < 3:
        return None
    # Candles are labelled by their open time: a close belongs to the end of its hour (the
    # candle still open closes "now").
    close_ms = np.minimum(np.asarray(chart.ticks, dtype=np.int64) + 3_600_000, end_ms)
    closes = pd.Series(chart.close, index=pd.to_datetime(close_ms, unit="ms", utc=True))
    context = market_context(closes, underlying=currency, as_of=now)
    cache.set(key, context.model_dump(mode="json"), CONTEXT_CACHE_S)
    return context


def _tracked_books() -> dict[str, Position]:
    return {
        p.instrument_name: p
        for p in Position.objects.filter(status=Position.Status.OPEN, paper=False)
    }


def _live_fills(orders: Iterable[Order]) -> dict[str, tuple[Decimal, Decimal]]:
    """Signed coins and average price filled on the exchange per instrument (dry run: none)."""
    fills: dict[str, tuple[Decimal, Decimal]] = {}
    for order in orders:
        if order.dry_run or order.filled_amount <= 0:
            continue
        size, _ = fills.get(order.instrument_name, (Decimal(0), Decimal(0)))
        signed = order.filled_amount if order.direction == "buy" else -order.filled_amount
        fills[order.instrument_name] = (size + signed, order.average_price)
    return fills


def _exchange_sizes(
    exchange_positions: Iterable[ExchangePosition], orders: Iterable[Order]
) -> dict[str, tuple[Decimal, Decimal]]:
    """Option size and average price per instrument, with the live fills of `orders` added."""
    sizes = {
        p.instrument_name: (p.size, p.average_price)
        for p in exchange_positions
        if p.kind == "option"
    }
    for name, (filled, price) in _live_fills(orders).items():
        size, average = sizes.get(name, (Decimal(0), price))
        sizes[name] = (size + filled, average if size else price)
    return sizes


def portfolio_positions(
    exchange_positions: Iterable[ExchangePosition],
    *,
    dry_run: bool,
    orders: Iterable[Order] = (),
) -> tuple[OptionPosition, ...]:
    """Positions the risk engine sees: the exchange's (tagged with our books), plus paper ones.

    An exchange position we never opened keeps strategy "external": it counts against the
    holdings, but the policy does not manage it. Sandbox paper rows count only with the
    setting `RISK_INCLUDE_SANDBOX`. `orders` sent since `exchange_positions` were read add
    their live fills (a dry-run fill is already a paper row), so the book after a tick's
    order needs no second `get_positions`.
    """
    books = _tracked_books()
    result: list[OptionPosition] = []
    for name, (size, average) in _exchange_sizes(exchange_positions, orders).items():
        if size == 0:
            continue
        book = books.get(name)
        result.append(
            OptionPosition(
                instrument_name=name,
                size=size,
                average_price_coin=average,
                strategy_id=book.strategy_id if book else EXTERNAL_STRATEGY,
                sandbox=book.sandbox if book else False,
            )
        )
    # Sandbox paper rows (Greg's GREG_SANDBOX batches) are experiments, not exposure.
    sandbox = bool(getattr(settings, "RISK_INCLUDE_SANDBOX", False))
    if dry_run or sandbox:
        papers = Position.objects.filter(status=Position.Status.OPEN, paper=True)
        if not sandbox:
            papers = papers.filter(sandbox=False)
        elif not dry_run:
            papers = papers.filter(sandbox=True)
        for paper in papers:
            result.append(
                OptionPosition(
                    instrument_name=paper.instrument_name,
                    size=paper.size,
                    average_price_coin=paper.average_price_coin,
                    strategy_id=paper.strategy_id,
                    sandbox=paper.sandbox,
                    paper=True,
                )
            )
    return tuple(result)


def perpetuals_usd(held: Iterable[ExchangePosition]) -> dict[str, Decimal]:
    """Signed USD size of the perpetual per currency (Deribit reports futures in USD)."""
    sizes: dict[str, Decimal] = {}
    for p in held:
        if p.kind == "future" and p.instrument_name.endswith("-PERPETUAL") and p.size:
            currency = p.instrument_name.split("-")[0]
            sizes[currency] = sizes.get(currency, Decimal(0)) + p.size
    return sizes


def _net_delta_plus(
    net_delta: Mapping[str, float], *moves: Mapping[str, float]
) -> dict[str, float]:
    """`net_delta` with each of `moves` added, per currency."""
    total = dict(net_delta)
    for move in moves:
        for currency, change in move.items():
            total[currency] = total.get(currency, 0.0) + change
    return total


def _portfolio(
    accounts: dict[str, AccountSummary],
    index_usd: dict[str, float],
    positions: tuple[OptionPosition, ...],
    quotes: Mapping[str, OptionQuote],
) -> PortfolioState:
    """The accounts as the risk engine sees them, with `positions` (and the paper ones' delta)."""

    def usd(ccy: str, coins: Decimal) -> Decimal:
        return coins * Decimal(repr(index_usd.get(ccy, 0.0)))

    return PortfolioState(
        equity_usd=sum((usd(c, a.equity) for c, a in accounts.items()), Decimal(0)),
        initial_margin_usd=sum((usd(c, a.initial_margin) for c, a in accounts.items()), Decimal(0)),
        maintenance_margin_usd=sum(
            (usd(c, a.maintenance_margin) for c, a in accounts.items()), Decimal(0)
        ),
        holdings_coin={c: a.equity for c, a in accounts.items()},
        # USD delta in coins, coins held included (PortfolioState.net_delta's convention); the
        # paper rows among the positions are in no account: their delta is added.
        net_delta=_net_delta_plus(
            {c: float(a.equity) + a.delta_total for c, a in accounts.items()},
            paper_delta_coin(positions, quotes),
        ),
        positions=positions,
    )


@dataclass(frozen=True)
class _Reads:
    chains: dict[str, ChainQuotes]
    accounts: dict[str, AccountSummary]
    every_position: tuple[ExchangePosition, ...]
    index_usd: dict[str, float]
    source: StateSource


def _market_reads(
    client: DeribitClient, params: EffectiveParams, stream: StreamSnapshot | None, why: str
) -> _Reads:
    """The chain, accounts, positions and index: from the stream's snapshot, else by REST."""
    if stream is not None:
        return _Reads(
            chains=stream.chains,
            accounts=stream.accounts,
            every_position=stream.positions,
            index_usd=dict(stream.index_usd),
            source=StateSource("stream", stream.age_s, open_orders=len(stream.open_orders)),
        )
    summaries = {c: client.get_book_summary_by_currency(c, "option") for c in params.underlyings}
    accounts = {c: client.get_account_summary(c) for c in params.underlyings}
    # One request for every kind: options for the book, perpetuals for the risk report.
    every_position = tuple(client.get_positions("any"))
    index_usd = {
        c: float(rows[0].estimated_delivery_price or 0.0) for c, rows in summaries.items() if rows
    }
    chains = {c: chain_quotes(rows) for c, rows in summaries.items()}
    return _Reads(chains, accounts, every_position, index_usd, StateSource("rest", reason=why))


def held_quotes(
    held: Iterable[OptionPosition],
    chains: dict[str, pd.DataFrame],
    index_usd: dict[str, float],
    quotes: Iterable[OptionQuote] = (),
) -> dict[str, OptionQuote]:
    """`quotes` by name, plus a quote from `chains` for each held option they lack."""
    found = {q.instrument_name: q for q in quotes}
    held = tuple(held)
    for currency, frame in chains.items():
        names = {p.instrument_name for p in held if p.currency == currency} - set(found)
        index = index_usd.get(currency, 0.0)
        if frame.empty or index <= 0 or not names:
            continue
        found |= {q.instrument_name: q for q in quotes_for(frame, names, index)}
    return found


def book_inputs(
    *,
    accounts: dict[str, AccountSummary],
    every_position: Sequence[ExchangePosition],
    chains: dict[str, pd.DataFrame],
    index_usd: dict[str, float],
    now: datetime,
    params: EffectiveParams,
    positions: tuple[OptionPosition, ...] | None = None,
    quotes: Iterable[OptionQuote] = (),
) -> RiskInputs:
    """The whole book a trade is judged against, the same for every strategy (the tick, Greg).

    Coins, equity and margins of every underlying; every open option position of every
    strategy (`portfolio_positions`: covered calls, Greg's, external ones; paper rows in dry
    run; sandbox rows only with `RISK_INCLUDE_SANDBOX`); the perpetuals; a quote from `chains`
    for each option held (plus `quotes`); net delta is the accounts' plus the paper rows'
    (`paper_delta_coin`, at those quotes). The stress check revalues this book with the trade's
    legs added (`trading.domain.risk.stress_report`).
    """
    options = tuple(p for p in every_position if p.kind == "option")
    held = (
        positions if positions is not None else portfolio_positions(options, dry_run=params.dry_run)
    )
    found = held_quotes(held, chains, index_usd, quotes)
    portfolio = _portfolio(accounts, index_usd, held, found).model_copy(
        update={"perpetuals_usd": perpetuals_usd(every_position)}
    )
    return RiskInputs.build(
        portfolio=portfolio, quotes=found, now=now, environment=params.environment
    )


def inputs_after_orders(
    state: TickState, inputs: RiskInputs, orders: Sequence[Order], *, dry_run: bool
) -> RiskInputs:
    """`inputs` with the book after `orders` (this tick's, already sent), with no request.

    Why: the Live Agent tab's risk report and portfolio line are published after the tick's
    order; from the inputs read before it they would show the new call only a tick later.
    The positions are rebuilt the one way (`portfolio_positions`: the exchange's as read plus
    the live fills, and the paper rows, which hold a dry-run fill); quotes come from the
    tick's chains. Net delta (`PortfolioState.net_delta`) moves by each live fill's
    premium-adjusted delta (`order_delta_coin`, the risk engine's own estimate) and by the
    change of the paper rows' delta (`paper_delta_coin`, as the next state build counts them:
    a dry-run fill moves it once); equity and coins stay as read (the next tick reads the
    fill's premium and fee from the account).
    """
    if not any(o.filled_amount > 0 for o in orders):
        return inputs
    held = portfolio_positions(state.exchange_positions, dry_run=dry_run, orders=orders)
    quotes = held_quotes(held, state.chains, state.index_usd, inputs.quotes.values())
    live: dict[str, float] = {}
    for name, (filled, _) in _live_fills(orders).items():
        quote = quotes.get(name)
        if quote is None or quote.delta is None:
            continue
        change = order_delta_coin(quote, abs(filled), sell=filled < 0)
        live[quote.currency] = live.get(quote.currency, 0.0) + change
    paper_before = paper_delta_coin(inputs.portfolio.positions, inputs.quotes)
    net_delta = _net_delta_plus(
        inputs.portfolio.net_delta,
        live,
        {c: -change for c, change in paper_before.items()},
        paper_delta_coin(held, quotes),
    )
    portfolio = inputs.portfolio.model_copy(update={"positions": held, "net_delta": net_delta})
    return inputs.model_copy(update={"portfolio": portfolio, "quotes": quotes})


def state_build(
    *,
    client: DeribitClient,
    params: EffectiveParams,
    expire: bool = True,
    stream: StreamSnapshot | None = None,
    stream_why: str = "",
) -> TickState:
    """Fetch and assemble one tick's state (raises the client's typed errors on failure).

    `expire=False` (the healthcheck's dry run) leaves expired positions alone: nothing is
    written. `stream` (fresh and complete) replaces the REST reads; `stream_why` is recorded
    when there is none (why the stream was not used)."""
    reads = _market_reads(client, params, stream, stream_why)
    quotes_of, accounts, index_usd = reads.chains, reads.accounts, reads.index_usd
    every_position = reads.every_position
    exchange_positions = tuple(p for p in every_position if p.kind == "option")
    now = market_time(max((q.newest_ms for q in quotes_of.values()), default=0))
    # Before the portfolio is assembled: an expired call must not count as held.
    expired = (
        positions_expire(client=client, now=now, exchange_positions=exchange_positions)
        if expire
        else []
    )
    positions = portfolio_positions(exchange_positions, dry_run=params.dry_run)
    evaluations: dict[str, CandidateEvaluation] = {}
    contexts: dict[str, MarketContext] = {}
    quotes: list[OptionQuote] = []
    chains: dict[str, pd.DataFrame] = {}
    for currency in params.underlyings:
        frame = chain_frame(quotes_of.get(currency, []), now)
        chains[currency] = frame
        index = index_usd.get(currency, 0.0)
        if frame.empty or index <= 0:
            evaluations[currency] = CandidateEvaluation(ranked=(), rejected=())
            continue
        context = context_load(client, currency, now)
        if context is not None:
            contexts[currency] = context
        rv = _rv_for(context)
        evaluation = evaluate_candidates(candidate_chain(frame, index), params.strategy, rv=rv)
        evaluations[currency] = evaluation
        held = {p.instrument_name for p in positions if p.currency == currency}
        names = {c.instrument_name for c in evaluation.ranked} | held
        quotes.extend(quotes_for(frame, names, index))
    inputs = book_inputs(
        accounts=accounts,
        every_position=every_position,
        chains=chains,
        index_usd=index_usd,
        now=now,
        params=params,
        positions=positions,
        quotes=quotes,
    )
    return TickState(
        now,
        inputs,
        evaluations,
        contexts,
        index_usd,
        exchange_positions,
        chains,
        tuple(expired),
        reads.source,
    )


def _rv_for(context: MarketContext | None) -> float:
    if context is None:
        return float("nan")
    value = context.rv_30d if context.rv_30d is not None else context.rv_7d
    return float("nan") if value is None else value


def instrument_currency(name: str) -> str:
    """Underlying coin of an instrument name."""
    return parse_instrument(name).currency

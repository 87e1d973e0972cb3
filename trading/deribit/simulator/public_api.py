"""Public JSON-RPC methods of the simulated exchange (market data, auth, time)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from trading.deribit.errors import InvalidParamsError
from trading.deribit.simulator.accounts import Account
from trading.deribit.simulator.encoding import EncodedResult
from trading.deribit.simulator.exchange import SimulatedExchange
from trading.deribit.simulator.listing import Valuation, currency_of
from trading.deribit.simulator.matching import book_side, price_band
from trading.deribit.simulator.orders import BookLevel
from trading.deribit.simulator.params import Params
from trading.domain.instruments import format_expiry_code

Handler = Callable[[SimulatedExchange, Params, Account | None], Any]
DAY_MS = 86_400_000
KINDS = ("future", "option", "spot", "future_combo", "option_combo", "combo", "any")
DVOL_RESOLUTIONS = {"1": 1, "60": 60, "3600": 3600, "43200": 43200, "1D": 86400}
CHART_RESOLUTIONS = {
    **{str(m): m for m in (1, 3, 5, 10, 15, 30, 60, 120, 180, 360, 720)},
    "1D": 1440,
}
MAX_CANDLES = 1000


def _num(value: float | None, digits: int = 8) -> float | None:
    """JSON number or null (NaN never reaches the wire)."""
    if value is None or value != value or math.isinf(value):
        return None
    return round(float(value), digits)


def _currencies(ex: SimulatedExchange, params: Params) -> list[str]:
    currency = params.text("currency")
    if currency == "any":
        return ex.market.currencies
    if currency not in ex.market.currencies:
        if currency in ("USDC", "USDT", "EURR"):
            return []
        raise InvalidParamsError(data={"param": "currency", "reason": "unsupported currency"})
    return [currency]


def _underlying_index(expiry_ms: int) -> str:
    return format_expiry_code(datetime.fromtimestamp(expiry_ms / 1000, tz=UTC))


# ------------------------------------------------------------------ time, auth, status


def get_time(ex: SimulatedExchange, params: Params, account: Account | None) -> int:
    """`public/get_time`: exchange time in ms (simulated time)."""
    return ex.now_ms()


def test(ex: SimulatedExchange, params: Params, account: Account | None) -> dict[str, Any]:
    """`public/test`: the API version, or an error when asked for one."""
    if params.text("expected_result", "") == "exception":
        raise InvalidParamsError("exception", code=10001)
    return {"version": "1.2.26"}


def status(ex: SimulatedExchange, params: Params, account: Account | None) -> dict[str, Any]:
    """`public/status`: the platform lock state (`locked` is a string, as on Deribit)."""
    return {"locked": "false", "locked_indices": []}


def auth(ex: SimulatedExchange, params: Params, account: Account | None) -> dict[str, Any]:
    """`public/auth`."""
    return ex.authenticate(params)


# ------------------------------------------------------------------ instruments


def get_instruments(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> list[dict[str, Any]]:
    """`public/get_instruments`: listed (or recently expired) options and perpetuals.

    Without `currency` (or with `any`) every currency's instruments, as on Deribit.
    """
    kind = params.choice("kind", KINDS, None)
    expired = params.flag("expired", False)
    rows: list[dict[str, Any]] = []
    currencies = _currencies(ex, Params({**params.raw, "currency": params.text("currency", "any")}))
    for currency in currencies:
        if expired:
            specs = [s for s in ex.listing.expired_specs if s.currency == currency]
            rows.extend(
                {**s.to_json(), "is_active": False} for s in specs if kind in (None, "option")
            )
            continue
        if kind in (None, "any", "future"):
            rows.append(ex.spec(f"{currency}-PERPETUAL").to_json())
        if kind in (None, "any", "option"):
            quotes = ex.option_quotes(currency)
            rows.extend(ex.spec(n).to_json() for n in quotes.listing.instrument_name)
    return rows


def get_instrument(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> dict[str, Any]:
    """`public/get_instrument`."""
    return ex.spec(params.text("instrument_name")).to_json()


# ------------------------------------------------------------------ book summaries


def _trade_stats(ex: SimulatedExchange, currency: str) -> dict[str, tuple[float, float, float]]:
    """(last, high, low) of each instrument traded in the last 24 h."""
    return ex.books.trade_stats(currency, ex.now_ms() - DAY_MS)


def _nullable(values: np.ndarray, digits: int) -> list[float | None]:
    """Rounded floats with NaN as None (JSON null), vectorised."""
    rounded = np.round(values.astype(np.float64), digits)
    out = rounded.astype(object)
    out[np.isnan(rounded)] = None
    return list(out.tolist())


def _option_summaries(ex: SimulatedExchange, currency: str) -> list[dict[str, Any]]:
    q = ex.option_quotes(currency)
    stats = _trade_stats(ex, currency)
    index = q.index_price
    bid, ask = q.best_bid_price, q.best_ask_price
    mid = np.where(np.isnan(bid) | np.isnan(ask), np.nan, (bid + ask) / 2)
    names = {
        int(e): f"SYN.{currency}-{_underlying_index(int(e))}"
        for e in np.unique(q.listing.expiry_ms)
    }
    volume_usd = np.round(q.volume * q.mark_price * index, 2).tolist()
    columns = zip(
        q.listing.instrument_name,
        q.listing.expiry_ms.tolist(),
        _nullable(bid, 8),
        _nullable(ask, 8),
        _nullable(mid, 8),
        q.mark_price.tolist(),
        q.mark_iv.tolist(),
        np.round(q.underlying_price, 4).tolist(),
        q.open_interest.tolist(),
        q.volume.tolist(),
        volume_usd,
        strict=True,
    )
    delivery = round(index, 2)
    no_trades = (None, None, None)
    return [
        {
            "instrument_name": name,
            "base_currency": currency,
            "quote_currency": currency,
            "bid_price": b,
            "ask_price": a,
            "mid_price": m,
            "mark_price": mark,
            "last": stats.get(name, no_trades)[0],
            "high": stats.get(name, no_trades)[1],
            "low": stats.get(name, no_trades)[2],
            "price_change": None,
            "volume": vol,
            "volume_usd": vusd,
            "open_interest": oi,
            "creation_timestamp": q.timestamp_ms,
            "estimated_delivery_price": delivery,
            "mark_iv": iv,
            "interest_rate": 0.0,
            "underlying_index": names[expiry],
            "underlying_price": und,
        }
        for name, expiry, b, a, m, mark, iv, und, oi, vol, vusd in columns
    ]


def _perp_summary(ex: SimulatedExchange, currency: str) -> dict[str, Any]:
    v = ex.valuation(f"{currency}-PERPETUAL")
    stats = _trade_stats(ex, currency).get(v.spec.instrument_name, (None, None, None))
    return {
        "instrument_name": v.spec.instrument_name,
        "base_currency": currency,
        "quote_currency": "USD",
        "bid_price": v.best_bid_price,
        "ask_price": v.best_ask_price,
        "mid_price": _num(((v.best_bid_price or 0) + (v.best_ask_price or 0)) / 2, 4),
        "mark_price": v.mark_price,
        "last": stats[0],
        "high": stats[1],
        "low": stats[2],
        "price_change": None,
        "volume": round(v.volume / v.mark_price, 4),
        "volume_usd": v.volume,
        "volume_notional": v.volume,
        "open_interest": v.open_interest,
        "creation_timestamp": ex.now_ms(),
        "estimated_delivery_price": round(v.index_price, 2),
        "current_funding": _num((v.funding_8h or 0.0) / 8, 10),
        "funding_8h": _num(v.funding_8h, 10),
    }


def get_book_summary_by_currency(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> EncodedResult:
    """`public/get_book_summary_by_currency`: the whole chain (and the perpetual) in one list.

    Cached, already encoded, until the market steps or a trade prints.
    """
    kind = params.choice("kind", KINDS, None)
    currencies = _currencies(ex, params)
    key = (
        tuple(currencies),
        kind,
        ex.market.now_ms,
        tuple(len(ex.books.trades_of(c)) for c in currencies),
        ex.listing.listing_version,
    )
    cached = ex.reply_cache.get(key)
    if cached is None:
        cached = EncodedResult(_book_summaries(ex, currencies, kind))
        if len(ex.reply_cache) > 16:
            ex.reply_cache.clear()
        ex.reply_cache[key] = cached
    return cached


def _book_summaries(
    ex: SimulatedExchange, currencies: list[str], kind: str | None
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for currency in currencies:
        if kind in (None, "any", "future"):
            rows.append(_perp_summary(ex, currency))
        if kind in (None, "any", "option"):
            rows.extend(_option_summaries(ex, currency))
    return rows


def get_book_summary_by_instrument(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> list[dict[str, Any]]:
    """`public/get_book_summary_by_instrument`: a one-element list."""
    spec = ex.spec(params.text("instrument_name"))
    if not spec.is_option:
        return [_perp_summary(ex, spec.currency)]
    rows = _option_summaries(ex, spec.currency)
    return [r for r in rows if r["instrument_name"] == spec.instrument_name]


# ------------------------------------------------------------------ ticker and book


def ticker_json(ex: SimulatedExchange, value: Valuation) -> dict[str, Any]:
    """Deribit's ticker object of one instrument."""
    spec = value.spec
    low, high = price_band(value)
    last, day_high, day_low = _trade_stats(ex, spec.currency).get(
        spec.instrument_name, (None, None, None)
    )
    venue = ex.venue()
    bids = book_side(venue, value, bids=True)
    asks = book_side(venue, value, bids=False)
    data: dict[str, Any] = {
        "instrument_name": spec.instrument_name,
        "timestamp": ex.now_ms(),
        "state": "open",
        "best_bid_price": float(bids[0].price) if bids else 0.0,
        "best_bid_amount": float(bids[0].amount) if bids else 0.0,
        "best_ask_price": float(asks[0].price) if asks else 0.0,
        "best_ask_amount": float(asks[0].amount) if asks else 0.0,
        "mark_price": value.mark_price,
        "last_price": last,
        "index_price": round(value.index_price, 2),
        "estimated_delivery_price": round(value.index_price, 2),
        "min_price": float(low),
        "max_price": float(high),
        "open_interest": value.open_interest,
        "interest_rate": 0.0,
        "stats": {
            "volume": value.volume,
            "volume_usd": round(value.volume * value.mark_price * value.index_price, 2)
            if spec.is_option
            else value.volume,
            "high": day_high,
            "low": day_low,
            "price_change": None,
        },
    }
    if value.settlement_price is not None:
        data["settlement_price"] = value.settlement_price
    if spec.is_option:
        data.update(
            {
                "underlying_price": round(value.underlying_price, 4),
                "underlying_index": f"SYN.{spec.currency}-{_underlying_index(spec.expiry_ms)}",
                "mark_iv": value.mark_iv,
                "bid_iv": value.bid_iv if bids and value.bid_iv is not None else 0.0,
                "ask_iv": value.ask_iv if asks and value.ask_iv is not None else 0.0,
                "greeks": {
                    "delta": value.delta,
                    "gamma": value.gamma,
                    "vega": value.vega,
                    "theta": value.theta,
                    "rho": value.rho,
                },
            }
        )
    else:
        data.update(
            {
                "current_funding": _num((value.funding_8h or 0.0) / 8, 10),
                "funding_8h": _num(value.funding_8h, 10),
                "interest_value": 0.0,
            }
        )
    return data


def ticker(ex: SimulatedExchange, params: Params, account: Account | None) -> dict[str, Any]:
    """`public/ticker`."""
    return ticker_json(ex, ex.valuation(params.text("instrument_name")))


def _with_user_orders(
    ex: SimulatedExchange, name: str, levels: list[BookLevel], *, bids: bool
) -> list[list[float]]:
    merged: dict[Decimal, Decimal] = {lv.price: lv.amount for lv in levels}
    for order in ex.books.resting():
        if order.spec.instrument_name == name and (order.direction == "buy") == bids:
            merged[order.price] = merged.get(order.price, Decimal(0)) + order.remaining
    ordered = sorted(merged.items(), reverse=bids)
    return [[float(p), float(a)] for p, a in ordered]


def get_order_book(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> dict[str, Any]:
    """`public/get_order_book`: ticker fields plus price levels (yours included)."""
    depth = params.integer("depth", 5)
    if depth not in (1, 5, 10, 20, 50, 100, 1000, 10000):
        raise InvalidParamsError(data={"param": "depth", "reason": "unsupported depth"})
    value = ex.valuation(params.text("instrument_name"))
    data = ticker_json(ex, value)
    name = value.spec.instrument_name
    venue = ex.venue()
    bids, asks = book_side(venue, value, bids=True), book_side(venue, value, bids=False)
    data["bids"] = _with_user_orders(ex, name, bids, bids=True)[:depth]
    data["asks"] = _with_user_orders(ex, name, asks, bids=False)[:depth]
    if data["bids"]:
        data["best_bid_price"], data["best_bid_amount"] = data["bids"][0]
    if data["asks"]:
        data["best_ask_price"], data["best_ask_amount"] = data["asks"][0]
    data["change_id"] = ex.now_ms() // 1000
    return data


# ------------------------------------------------------------------ indices and history


def get_index_price(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> dict[str, Any]:
    """`public/get_index_price` for btc_usd / eth_usd."""
    index_name = params.text("index_name")
    currency = index_name.split("_", 1)[0].upper()
    if currency not in ex.market.currencies or not index_name.endswith("_usd"):
        raise InvalidParamsError(data={"param": "index_name", "reason": "unknown index"})
    price = round(ex.market.index_price(currency), 2)
    return {"index_price": price, "estimated_delivery_price": price}


def _history(ex: SimulatedExchange, currency: str) -> pd.DataFrame:
    frame = ex.market.history(currency)
    now = pd.DataFrame(
        {
            "timestamp_ms": [ex.now_ms()],
            "spot_usd": [ex.market.index_price(currency)],
            "atm_iv": [frame["atm_iv"].iloc[-1] if len(frame) else math.nan],
            "funding_8h": [ex.market.perpetual(currency).funding_8h],
        }
    )
    combined = pd.concat([frame, now], ignore_index=True) if len(frame) else now
    return combined.drop_duplicates("timestamp_ms", keep="last").sort_values("timestamp_ms")


def get_historical_volatility(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> list[list[float]]:
    """`public/get_historical_volatility`: `[ts, realized vol %]` pairs, hourly, ~16 days."""
    currency = _currencies(ex, params)[0]
    hist = ex.market.history(currency)
    log_spot = np.log(hist["spot_usd"].to_numpy())
    returns = pd.Series(np.diff(log_spot, prepend=np.nan))
    window = 15 * 24
    rv = returns.rolling(window, min_periods=24).std() * math.sqrt(365 * 24) * 100
    pairs = [
        [int(ts), round(float(v), 6)]
        for ts, v in zip(hist["timestamp_ms"], rv, strict=True)
        if v == v
    ]
    return pairs[-384:]


def _candles(
    timestamps: np.ndarray, values: np.ndarray, start_ms: int, end_ms: int, bucket_ms: int
) -> list[tuple[int, float, float, float, float]]:
    """OHLC candles labelled by their open time, as Deribit labels them.

    The model's history is sampled on the hour; the point at s closes the candle (s - bucket, s],
    so the candle labelled t closes at the value of t + bucket, as a real candle's last trade
    does.
    """
    label = -(-timestamps // bucket_ms) * bucket_ms - bucket_ms
    mask = (label >= start_ms) & (label <= end_ms) & np.isfinite(values)
    frame = pd.DataFrame({"bucket": label[mask], "v": values[mask]})
    if frame.empty:
        return []
    grouped = frame.groupby("bucket")["v"]
    ohlc = pd.DataFrame(
        {"o": grouped.first(), "h": grouped.max(), "l": grouped.min(), "c": grouped.last()}
    )
    return [(int(ts), float(r.o), float(r.h), float(r.l), float(r.c)) for ts, r in ohlc.iterrows()]


def get_volatility_index_data(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> dict[str, Any]:
    """`public/get_volatility_index_data`: DVOL (30-day ATM IV in vol points) candles."""
    currency = _currencies(ex, params)[0]
    resolution = params.choice("resolution", tuple(DVOL_RESOLUTIONS))
    start, end = params.integer("start_timestamp"), params.integer("end_timestamp")
    hist = _history(ex, currency)
    candles = _candles(
        hist["timestamp_ms"].to_numpy(),
        hist["atm_iv"].to_numpy() * 100,
        start,
        end,
        DVOL_RESOLUTIONS[resolution] * 1000,
    )
    continuation = None
    if len(candles) > MAX_CANDLES:
        candles = candles[-MAX_CANDLES:]
        continuation = candles[0][0] - 1
    data = [
        [ts, round(o, 4), round(h, 4), round(lo, 4), round(c, 4)] for ts, o, h, lo, c in candles
    ]
    return {"data": data, "continuation": continuation}


def _trade_points(
    ex: SimulatedExchange, name: str, *, perpetual: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(timestamps, prices, volume in coin, cost in quote) of the instrument's simulated fills.

    Each fill is counted once (the taker's side when both sides are simulated accounts would
    be two rows: only the taker row, or the maker row when no taker row exists, is used).
    """
    rows: dict[str, tuple[int, float, float, float]] = {}
    for trade in ex.books.trades_of(currency_of(name)):
        if trade.order.spec.instrument_name != name:
            continue
        price, amount = float(trade.price), float(trade.amount)
        volume, cost = (amount / price, amount) if perpetual else (amount, amount * price)
        key = f"{trade.trade_seq}"
        if key not in rows or trade.liquidity == "T":
            rows[key] = (trade.timestamp, price, volume, cost)
    if not rows:
        empty = np.array([], dtype=np.float64)
        return np.array([], dtype=np.int64), empty, empty, empty
    ts, prices, volumes, costs = zip(*sorted(rows.values()), strict=True)
    return (
        np.array(ts, dtype=np.int64),
        np.array(prices, dtype=np.float64),
        np.array(volumes, dtype=np.float64),
        np.array(costs, dtype=np.float64),
    )


def chart_candles(
    points: tuple[np.ndarray, np.ndarray],
    trades: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    start_ms: int,
    end_ms: int,
    bucket_ms: int,
) -> pd.DataFrame:
    """OHLCV candles from price observations and fills, labelled by their open time.

    An observation or fill at s falls in the candle (s - bucket, s] (a history point on the
    hour closes the hour before it). A candle opens at the previous candle's close, so its range
    spans the move from the last price before it to every price seen inside it, fills
    included; volume and cost are the fills' sums.
    """
    ts = np.concatenate([points[0].astype(np.int64), trades[0]])
    price = np.concatenate([points[1].astype(np.float64), trades[1]])
    volume = np.concatenate([np.zeros(len(points[0])), trades[2]])
    cost = np.concatenate([np.zeros(len(points[0])), trades[3]])
    keep = np.isfinite(price)
    frame = pd.DataFrame(
        {"ts": ts[keep], "p": price[keep], "v": volume[keep], "c": cost[keep]}
    ).sort_values("ts", kind="stable")
    if frame.empty:
        return frame
    frame["bucket"] = -(-frame["ts"] // bucket_ms) * bucket_ms - bucket_ms
    grouped = frame.groupby("bucket")
    candles = pd.DataFrame(
        {
            "close": grouped["p"].last(),
            "high": grouped["p"].max(),
            "low": grouped["p"].min(),
            "first": grouped["p"].first(),
            "volume": grouped["v"].sum(),
            "cost": grouped["c"].sum(),
        }
    )
    previous_close = candles["close"].shift(1)
    candles["open"] = previous_close.fillna(candles["first"])
    candles["high"] = candles[["high", "open"]].max(axis=1)
    candles["low"] = candles[["low", "open"]].min(axis=1)
    return candles[(candles.index >= start_ms) & (candles.index <= end_ms)]


def get_tradingview_chart_data(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> dict[str, Any]:
    """`public/get_tradingview_chart_data`: OHLCV of the perpetual or an option.

    Prices come from the market's hourly history, the perpetual marks the exchange saw at each
    step, and the simulated fills; volume and cost from those fills (volume in coin; cost in
    USD for the perpetual, in coin for options).
    """
    spec = ex.spec(params.text("instrument_name"))
    resolution = params.choice("resolution", tuple(CHART_RESOLUTIONS))
    start, end = params.integer("start_timestamp"), params.integer("end_timestamp")
    hist = _history(ex, spec.currency)
    ts = hist["timestamp_ms"].to_numpy()
    if spec.is_option:
        alive = ts < spec.expiry_ms
        ts = ts[alive]
        marks = ex.market.option_mark_history(spec.instrument_name, ts)
        values = np.full(len(ts), np.nan) if marks is None else np.round(marks, 6)
    else:
        values = hist["spot_usd"].to_numpy() * (1 + hist["funding_8h"].to_numpy())
        tape = ex.tape.get(spec.currency, [])
        if tape:
            ts = np.concatenate([ts, np.array([t for t, _ in tape], dtype=np.int64)])
            values = np.concatenate([values, np.array([m for _, m in tape])])
    trades = _trade_points(ex, spec.instrument_name, perpetual=not spec.is_option)
    bucket_ms = CHART_RESOLUTIONS[resolution] * 60_000
    candles = chart_candles((ts, values), trades, start, end, bucket_ms)
    if candles.empty:
        empty: list[Any] = []
        return {
            "status": "no_data",
            "ticks": empty,
            "open": empty,
            "high": empty,
            "low": empty,
            "close": empty,
            "volume": empty,
            "cost": empty,
        }
    candles = candles.iloc[-MAX_CANDLES * 5 :]
    digits = 6 if spec.is_option else 2
    return {
        "status": "ok",
        "ticks": [int(t) for t in candles.index],
        "open": np.round(candles["open"].to_numpy(), digits).tolist(),
        "high": np.round(candles["high"].to_numpy(), digits).tolist(),
        "low": np.round(candles["low"].to_numpy(), digits).tolist(),
        "close": np.round(candles["close"].to_numpy(), digits).tolist(),
        "volume": np.round(candles["volume"].to_numpy(), 8).tolist(),
        "cost": np.round(candles["cost"].to_numpy(), 8).tolist(),
    }


# ------------------------------------------------------------------ trades, deliveries, funding


def get_last_trades_by_currency_and_time(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> dict[str, Any]:
    """`public/get_last_trades_by_currency_and_time` (trades of the simulated accounts)."""
    currency = _currencies(ex, params)[0]
    kind = params.choice("kind", KINDS, "any")
    start = params.integer("start_timestamp", 0)
    end = params.integer("end_timestamp", ex.now_ms())
    count = params.integer("count", 10)
    if not 1 <= count <= 1000:
        raise InvalidParamsError(data={"param": "count", "reason": "must be 1..1000"})
    sorting = params.choice("sorting", ("asc", "desc", "default"), "default")
    trades = [
        t
        for t in ex.books.trades_of(currency)
        if start <= t.timestamp <= end and kind in ("any", t.order.spec.kind)
    ]
    trades.sort(key=lambda t: (t.timestamp, t.trade_seq), reverse=sorting != "asc")
    return {"trades": [t.public_json() for t in trades[:count]], "has_more": len(trades) > count}


def _history_deliveries(ex: SimulatedExchange, currency: str) -> list[tuple[str, float]]:
    """The 08:00 index of the market's hourly history: no minute path exists to average."""
    hist = ex.market.history(currency)
    moments = pd.to_datetime(hist["timestamp_ms"], unit="ms", utc=True)
    at_eight = hist[(moments.dt.hour == 8).to_numpy()]
    days = pd.to_datetime(at_eight["timestamp_ms"], unit="ms", utc=True).dt.strftime("%Y-%m-%d")
    return [(d, round(float(p), 2)) for d, p in zip(days, at_eight["spot_usd"], strict=True)]


def get_delivery_prices(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> dict[str, Any]:
    """`public/get_delivery_prices`: daily 08:00 UTC delivery prices, newest first.

    Days the exchange settled show the delivery price it fixed (the 30-minute TWAP); days
    before it started show the 08:00 index of the market's hourly history.
    """
    index_name = params.text("index_name")
    currency = index_name.split("_", 1)[0].upper()
    if currency not in ex.market.currencies:
        raise InvalidParamsError(data={"param": "index_name", "reason": "unknown index"})
    offset, count = params.integer("offset", 0), params.integer("count", 10)
    if not 1 <= count <= 1000:
        raise InvalidParamsError(data={"param": "count", "reason": "must be 1..1000"})
    merged = dict(_history_deliveries(ex, currency))
    merged.update(dict(ex.deliveries.delivery_prices.get(index_name, [])))
    ordered = sorted(merged.items(), reverse=True)
    page = ordered[offset : offset + count]
    return {
        "data": [{"date": d, "delivery_price": p} for d, p in page],
        "records_total": len(ordered),
    }


def get_funding_rate_history(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> list[dict[str, Any]]:
    """`public/get_funding_rate_history`: hourly funding of a perpetual."""
    spec = ex.spec(params.text("instrument_name"))
    if spec.is_option:
        raise InvalidParamsError(data={"param": "instrument_name", "reason": "not a perpetual"})
    start, end = params.integer("start_timestamp"), params.integer("end_timestamp")
    hist = ex.market.history(spec.currency)
    rows = []
    previous = None
    for ts, spot, funding in zip(
        hist["timestamp_ms"], hist["spot_usd"], hist["funding_8h"], strict=True
    ):
        if start <= ts <= end:
            rows.append(
                {
                    "timestamp": int(ts),
                    "index_price": round(float(spot), 2),
                    "prev_index_price": round(float(previous if previous is not None else spot), 2),
                    "interest_8h": float(funding),
                    "interest_1h": float(funding) / 8,
                }
            )
        previous = spot
    return rows


PUBLIC_METHODS: dict[str, Handler] = {
    "public/auth": auth,
    "public/get_time": get_time,
    "public/test": test,
    "public/status": status,
    "public/get_instruments": get_instruments,
    "public/get_instrument": get_instrument,
    "public/get_book_summary_by_currency": get_book_summary_by_currency,
    "public/get_book_summary_by_instrument": get_book_summary_by_instrument,
    "public/ticker": ticker,
    "public/get_order_book": get_order_book,
    "public/get_index_price": get_index_price,
    "public/get_historical_volatility": get_historical_volatility,
    "public/get_volatility_index_data": get_volatility_index_data,
    "public/get_tradingview_chart_data": get_tradingview_chart_data,
    "public/get_last_trades_by_currency_and_time": get_last_trades_by_currency_and_time,
    "public/get_last_trades_by_currency": get_last_trades_by_currency_and_time,
    "public/get_delivery_prices": get_delivery_prices,
    "public/get_funding_rate_history": get_funding_rate_history,
}

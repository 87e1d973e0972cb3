"""What the simulated exchange trades against: a synthetic market or a replay of real snapshots.

Both implement `MarketView`: quotes of every listed option (`OptionQuotes`), the index, the
perpetual, hourly history, and the next option expiry. The exchange never prices anything
itself; it asks the view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from trading.deribit.simulator.settlement import SETTLEMENT_SAMPLE_S
from trading.domain import black76
from trading.domain.chain import read_snapshot
from trading.domain.instruments import parse_instrument
from trading.domain.market_model import (
    MS_PER_YEAR,
    FloatArray,
    MarketModel,
    MarketModelParams,
    OptionListing,
    OptionQuotes,
    default_currency_params,
    quote_bid_ask,
    quote_sizes,
    rounded,
    smile_iv,
    stable_instrument_id,
)


@dataclass(frozen=True)
class PerpetualQuote:
    """The perpetual of a currency: prices in USD, funding as fractions."""

    instrument_name: str
    mark_price: float
    index_price: float
    best_bid_price: float
    best_ask_price: float
    best_bid_amount: float
    best_ask_amount: float
    funding_8h: float

    @property
    def current_funding(self) -> float:
        """Funding for the current hour (Deribit's `current_funding`)."""
        return self.funding_8h / 8


class MarketView(Protocol):
    """The market the simulated exchange trades against."""

    @property
    def currencies(self) -> list[str]:
        """Currencies with options, e.g. ['BTC', 'ETH']."""
        ...

    @property
    def now_ms(self) -> int:
        """Time of the market data, ms."""
        ...

    @property
    def start_ms(self) -> int:
        """Where the market's time begins (ms)."""
        ...

    def advance_to(self, timestamp_ms: int) -> None:
        """Move the market forward to `timestamp_ms` (never backwards)."""

    def next_expiry_ms(self) -> int | None:
        """Earliest option expiry after now."""

    def quotes(self, currency: str) -> OptionQuotes:
        """Every listed option of `currency` now."""

    def index_price(self, currency: str) -> float:
        """Index price (USD)."""

    def perpetual(self, currency: str) -> PerpetualQuote:
        """The perpetual's quote now."""

    def history(self, currency: str) -> pd.DataFrame:
        """Hourly history: timestamp_ms, spot_usd, atm_iv (decimal), funding_8h."""

    def option_mark_history(
        self, instrument_name: str, timestamps_ms: np.ndarray
    ) -> FloatArray | None:
        """Mark prices (coin) of an option at past times, or None when unknown."""

    def min_trade_amount(self, currency: str) -> float:
        """Option amount step in coin."""


def _perp_quote(currency: str, mark: float, index: float, funding_8h: float) -> PerpetualQuote:
    tick = 0.5 if currency == "BTC" else 0.05
    half = max(tick, round(mark * 0.00005 / tick) * tick)
    bid = math.floor((mark - half) / tick) * tick
    ask = math.ceil((mark + half) / tick) * tick
    size = 250_000.0 if currency == "BTC" else 100_000.0
    return PerpetualQuote(
        instrument_name=f"{currency}-PERPETUAL",
        mark_price=round(mark, 2),
        index_price=round(index, 2),
        best_bid_price=round(bid, 2),
        best_ask_price=round(ask, 2),
        best_bid_amount=size,
        best_ask_amount=size,
        funding_8h=funding_8h,
    )


class SyntheticMarket:
    """`MarketView` over the project's synthetic `MarketModel`.

    The model's grid must divide `SETTLEMENT_SAMPLE_S`: the exchange reads the index once a
    minute through each settlement window, and a coarser grid would hold it still there.
    """

    def __init__(self, model: MarketModel) -> None:
        if SETTLEMENT_SAMPLE_S % model.params.step_seconds:
            raise ValueError(
                f"step_seconds={model.params.step_seconds}: the simulated exchange needs a grid "
                f"that divides {SETTLEMENT_SAMPLE_S} s to average the index before 08:00 UTC"
            )
        self.model = model
        self._start_ms = model.now_ms

    @classmethod
    def create(
        cls, *, seed: int, start: datetime, params: MarketModelParams | None = None
    ) -> SyntheticMarket:
        """A fresh synthetic market starting at `start`."""
        return cls(MarketModel(params, seed=seed, start=start))

    @property
    def currencies(self) -> list[str]:
        """Currencies simulated."""
        return self.model.currencies

    @property
    def now_ms(self) -> int:
        """Model time."""
        return self.model.now_ms

    @property
    def start_ms(self) -> int:
        """Model start."""
        return self._start_ms

    def advance_to(self, timestamp_ms: int) -> None:
        """Advance the model on its grid."""
        self.model.advance_to(timestamp_ms)

    def next_expiry_ms(self) -> int | None:
        """Earliest listed expiry after now."""
        return self.model.next_expiry_ms()

    def quotes(self, currency: str) -> OptionQuotes:
        """Model quotes."""
        return self.model.quotes(currency)

    def index_price(self, currency: str) -> float:
        """Model spot."""
        return self.model.spot(currency)

    def perpetual(self, currency: str) -> PerpetualQuote:
        """Perpetual priced from spot and funding."""
        return _perp_quote(
            currency,
            self.model.perpetual_mark(currency),
            self.model.spot(currency),
            self.model.funding_8h(currency),
        )

    def history(self, currency: str) -> pd.DataFrame:
        """Model hourly history."""
        return self.model.history(currency)

    def option_mark_history(
        self, instrument_name: str, timestamps_ms: np.ndarray
    ) -> FloatArray | None:
        """Reprice an option on the model's past spot and ATM IV (hourly)."""
        parsed = parse_option_name(instrument_name)
        if parsed is None:
            return None
        currency, expiry_ms, strike, is_call = parsed
        if currency not in self.model.currencies:
            return None
        hist = self.model.history(currency)
        cp = self.model.params.currencies[currency]
        ts = np.asarray(timestamps_ms, dtype=np.int64)
        spot = np.interp(ts, hist["timestamp_ms"], hist["spot_usd"])
        atm = np.interp(ts, hist["timestamp_ms"], hist["atm_iv"])
        t_years = np.maximum((expiry_ms - ts) / MS_PER_YEAR, 1e-9)
        forward = spot * np.exp(cp.basis_per_year * t_years)
        sigma = smile_iv(atm, cp, np.full(len(ts), strike), t_years, forward)
        usd = black76.price(forward, strike, t_years, sigma, is_call)
        return np.asarray(usd / forward)

    def min_trade_amount(self, currency: str) -> float:
        """Option amount step."""
        return self.model.params.currencies[currency].min_trade_amount


def parse_option_name(name: str) -> tuple[str, int, float, bool] | None:
    """(currency, expiry_ms, strike, is_call) of an inverse option name, None otherwise."""
    try:
        parsed = parse_instrument(name)
    except ValueError:
        return None
    if not parsed.is_option or parsed.expiry is None or parsed.strike is None:
        return None
    return (
        parsed.currency,
        int(parsed.expiry.timestamp() * 1000),
        float(parsed.strike),
        parsed.is_call,
    )


class ReplayMarket:
    """`MarketView` stepping through a directory of real chain snapshots.

    Layout as in ../shared/data/deribit/snapshots: `<dir>/<CCY>/<date>/<CCY>_<date>_<HHMM>.parquet`.
    At time t each currency shows its latest snapshot taken at or before t; both schema
    versions are read (old files carry no strike/expiry/bid/ask: those are parsed from the
    name or quoted with the synthetic spread model). Snapshots with fewer than `min_rows` rows
    (partial harvests) are skipped.
    """

    def __init__(self, directory: Path, *, seed: int = 42, min_rows: int = 50) -> None:
        self.directory = Path(directory)
        self.seed = seed
        self.min_rows = min_rows
        self._files: dict[str, list[tuple[int, Path]]] = {}
        for currency_dir in sorted(p for p in self.directory.iterdir() if p.is_dir()):
            files = sorted(currency_dir.glob("*/*.parquet"))
            stamped = [(_file_time_ms(f), f) for f in files]
            if stamped:
                self._files[currency_dir.name] = sorted(stamped)
        if not self._files:
            raise FileNotFoundError(f"no snapshots under {self.directory}")
        self._params = default_currency_params()
        self._start_ms = min(files[0][0] for files in self._files.values())
        self._now_ms = self._start_ms
        self._cache: dict[str, tuple[Path, OptionQuotes]] = {}
        self._history: dict[str, list[tuple[int, float, float]]] = {c: [] for c in self._files}
        self._row_counts: dict[Path, int] = {}

    @property
    def currencies(self) -> list[str]:
        """Currencies present in the replay directory."""
        return sorted(self._files)

    @property
    def now_ms(self) -> int:
        """Replay time."""
        return self._now_ms

    @property
    def start_ms(self) -> int:
        """Time of the first snapshot."""
        return self._start_ms

    @property
    def end_ms(self) -> int:
        """Time of the last snapshot."""
        return max(files[-1][0] for files in self._files.values())

    def advance_to(self, timestamp_ms: int) -> None:
        """Move replay time forward; the visible snapshot changes when a newer one is due."""
        self._now_ms = max(self._now_ms, timestamp_ms)

    def next_expiry_ms(self) -> int | None:
        """Earliest expiry after now among the visible snapshots."""
        upcoming = [
            int(e)
            for c in self.currencies
            for e in np.unique(self.quotes(c).listing.expiry_ms)
            if e > self._now_ms
        ]
        return min(upcoming) if upcoming else None

    def _current_file(self, currency: str) -> Path:
        files = self._files[currency]
        stamps = [t for t, _ in files]
        index = max(int(np.searchsorted(stamps, self._now_ms, side="right")) - 1, 0)
        while index > 0 and self._row_count(files[index][1]) < self.min_rows:
            index -= 1
        return files[index][1]

    def _row_count(self, path: Path) -> int:
        import pyarrow.parquet as pq

        count = self._row_counts.get(path)
        if count is None:
            count = self._row_counts[path] = int(pq.ParquetFile(path).metadata.num_rows)
        return count

    def quotes(self, currency: str) -> OptionQuotes:
        """Quotes of the visible snapshot, with greeks, sizes and (if absent) bid/ask added."""
        path = self._current_file(currency)
        cached = self._cache.get(currency)
        if cached is not None and cached[0] == path:
            return cached[1]
        quotes = self._load(currency, path)
        self._cache[currency] = (path, quotes)
        history = self._history[currency]
        if not history or history[-1][0] < quotes.timestamp_ms:
            history.append((quotes.timestamp_ms, quotes.index_price, _atm_iv(quotes)))
        return quotes

    def _load(self, currency: str, path: Path) -> OptionQuotes:
        chain = read_snapshot(path)
        stamp_ms = int(chain["harvest_time"].iloc[0].timestamp() * 1000)
        expiry_ms = np.round(chain["expiry_timestamp"].to_numpy() * 1000).astype(np.int64)
        chain = chain[expiry_ms > stamp_ms].reset_index(drop=True)
        expiry_ms = expiry_ms[expiry_ms > stamp_ms]
        names = chain["instrument_name"].astype(str).tolist()
        strike = chain["strike"].to_numpy(dtype=np.float64)
        is_call = chain["option_type"].to_numpy() == "C"
        listing = OptionListing(
            instrument_name=names,
            instrument_id=np.array([stable_instrument_id(n) for n in names], dtype=np.int64),
            expiry_ms=expiry_ms,
            strike=strike,
            is_call=is_call,
            creation_ms=np.full(len(names), self._start_ms, dtype=np.int64),
        )
        cp = self._params.get(currency, self._params["BTC"])
        forward = chain["underlying_price"].to_numpy(dtype=np.float64)
        t_years = np.maximum((expiry_ms - stamp_ms) / MS_PER_YEAR, 1e-9)
        sigma = chain["mark_iv"].to_numpy(dtype=np.float64) / 100
        mark = chain["mark_price"].to_numpy(dtype=np.float64)
        g = black76.greeks(forward, strike, t_years, sigma, is_call)
        z = np.abs(np.log(strike / forward) / (sigma * np.sqrt(t_years)))
        bid = chain["best_bid_price"].to_numpy(dtype=np.float64)
        ask = chain["best_ask_price"].to_numpy(dtype=np.float64)
        if np.isnan(bid).all() and np.isnan(ask).all():  # first schema: no quotes harvested
            bid, ask = quote_bid_ask(mark, np.asarray(g.vega) / forward, z, t_years * 365, cp)
        bid = np.where(bid > 0, bid, np.nan)
        ask = np.where(ask > 0, ask, np.nan)
        step_index = stamp_ms // 60_000
        bid_amount, ask_amount, _, _ = quote_sizes(cp, listing, z, step_index, self.seed)
        index_price = float(forward[int(np.argmin(t_years))]) if len(forward) else math.nan
        return OptionQuotes(
            timestamp_ms=stamp_ms,
            listing=listing,
            index_price=index_price,
            underlying_price=forward,
            t_years=t_years,
            mark_price=mark,
            mark_iv=rounded(sigma * 100, 2),
            best_bid_price=bid,
            best_ask_price=ask,
            best_bid_amount=np.where(np.isnan(bid), 0.0, bid_amount),
            best_ask_amount=np.where(np.isnan(ask), 0.0, ask_amount),
            bid_iv=_iv_percent(bid, forward, strike, t_years, is_call),
            ask_iv=_iv_percent(ask, forward, strike, t_years, is_call),
            delta=rounded(g.delta, 5),
            gamma=rounded(g.gamma, 8),
            vega=rounded(g.vega, 5),
            theta=rounded(black76.deribit_theta(g.theta, t_years), 5),
            rho=rounded(g.rho, 5),
            open_interest=np.nan_to_num(chain["open_interest"].to_numpy(dtype=np.float64)),
            volume=np.nan_to_num(chain["volume"].to_numpy(dtype=np.float64)),
        )

    def index_price(self, currency: str) -> float:
        """Forward of the nearest expiry of the visible snapshot (the index is not harvested)."""
        return self.quotes(currency).index_price

    def perpetual(self, currency: str) -> PerpetualQuote:
        """A perpetual at the index with the prior funding rate."""
        index = self.index_price(currency)
        funding = self._params.get(currency, self._params["BTC"]).funding_8h_mean
        return _perp_quote(currency, index * (1 + funding), index, funding)

    def history(self, currency: str) -> pd.DataFrame:
        """Index and ATM IV at each snapshot seen so far."""
        self.quotes(currency)
        rows = self._history[currency]
        return pd.DataFrame(
            {
                "timestamp_ms": np.array([r[0] for r in rows], dtype=np.int64),
                "spot_usd": [r[1] for r in rows],
                "atm_iv": [r[2] for r in rows],
                "funding_8h": [self.perpetual(currency).funding_8h] * len(rows),
            }
        )

    def option_mark_history(
        self, instrument_name: str, timestamps_ms: np.ndarray
    ) -> FloatArray | None:
        """Not kept in replay mode."""
        return None

    def min_trade_amount(self, currency: str) -> float:
        """Deribit's option amount step (BTC 0.1, ETH 1)."""
        return self._params.get(currency, self._params["BTC"]).min_trade_amount


def _file_time_ms(path: Path) -> int:
    stem = path.stem  # BTC_2025-12-10_0105
    _, day, hhmm = stem.split("_")
    moment = datetime.strptime(f"{day} {hhmm}", "%Y-%m-%d %H%M").replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _iv_percent(
    price_coin: FloatArray,
    forward: FloatArray,
    strike: FloatArray,
    t_years: FloatArray,
    is_call: np.ndarray,
) -> FloatArray:
    result = black76.implied_vol(price_coin * forward, forward, strike, t_years, is_call)
    return np.asarray(np.round(np.asarray(result.iv) * 100, 2))


def _atm_iv(quotes: OptionQuotes) -> float:
    """IV (decimal) of the option closest to 30 days and at the money."""
    if not len(quotes.mark_iv):
        return math.nan
    distance = np.abs(np.log(quotes.t_years * 365 / 30)) + 5 * np.abs(
        np.log(quotes.listing.strike / quotes.underlying_price)
    )
    return float(quotes.mark_iv[int(np.argmin(distance))]) / 100


__all__ = [
    "MarketView",
    "PerpetualQuote",
    "ReplayMarket",
    "SyntheticMarket",
    "parse_option_name",
]

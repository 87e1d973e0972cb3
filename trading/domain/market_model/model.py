"""`MarketModel`: the seeded market's clock, listings and reads (spot, forward, IV, quotes, chain).

The forward of an expiry is `spot * exp(basis_per_year * T)`.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pandas as pd

from trading.domain import black76
from trading.domain.chain import CHAIN_COLUMNS
from trading.domain.instruments import listed_expiries
from trading.domain.market_model.dynamics import (
    _CurrencyState,
    backfill_history,
    evolve_currencies,
)
from trading.domain.market_model.listing import (
    OptionListing,
    OptionQuotes,
    build_listing,
    strike_grid,
)
from trading.domain.market_model.params import MarketModelParams
from trading.domain.market_model.quoting import (
    _quote_iv,
    quote_bid_ask,
    quote_sizes,
    rounded,
    smile_iv,
)
from trading.domain.market_model.units import MS_PER_YEAR, FloatArray

# Columns of `MarketModel.chain`: the project's chain shape (`trading.domain.chain.CHAIN_COLUMNS`,
# the harvested snapshot format of ../shared/data/deribit) followed by the quote IVs and greeks
# newer harvests carry.
EXTRA_CHAIN_COLUMNS: tuple[str, ...] = (
    "bid_iv",
    "ask_iv",
    "greek_delta",
    "greek_gamma",
    "greek_theta",
    "greek_vega",
)
MODEL_CHAIN_COLUMNS: tuple[str, ...] = CHAIN_COLUMNS + EXTRA_CHAIN_COLUMNS


class MarketModel:
    """Seeded synthetic BTC/ETH market; advance it with `step` or `advance_to`, then read it."""

    def __init__(
        self,
        params: MarketModelParams | None = None,
        seed: int = 42,
        start: datetime | None = None,
    ) -> None:
        self.params = params or MarketModelParams()
        self.seed = seed
        start = start or datetime(2025, 12, 10, 8, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("start must be an aware UTC datetime")
        grid_ms = self.params.step_seconds * 1000
        self._now_ms = int(start.timestamp() * 1000) // grid_ms * grid_ms
        self._market_rng = np.random.default_rng([seed, 0])
        self._next_instrument_id = 100_000
        self._quotes_cache: dict[str, OptionQuotes] = {}
        self._listing_cache: dict[str, OptionListing] = {}
        self._states: dict[str, _CurrencyState] = {}
        for index, (currency, cp) in enumerate(sorted(self.params.currencies.items()), start=1):
            state = _CurrencyState(
                params=cp,
                rng=np.random.default_rng([seed, index]),
                log_spot=math.log(cp.spot_usd),
                atm_iv=cp.atm_iv_initial or cp.atm_iv_mean,
                funding_8h=cp.funding_8h_mean,
            )
            self._states[currency] = state
            backfill_history(
                state,
                np.random.default_rng([seed, index, 99]),
                history_days=self.params.history_days,
                now_ms=self._now_ms,
            )
        self._refresh_listings()

    # ------------------------------------------------------------------ time

    @property
    def now_ms(self) -> int:
        """Model time, ms since the epoch."""
        return self._now_ms

    @property
    def now(self) -> datetime:
        """Model time as an aware UTC datetime."""
        return datetime.fromtimestamp(self._now_ms / 1000, tz=UTC)

    @property
    def currencies(self) -> list[str]:
        """Currencies simulated, e.g. ['BTC', 'ETH']."""
        return sorted(self._states)

    def step(self, dt_seconds: float) -> None:
        """Advance the market by `dt_seconds` in one draw (any size; finer steps, finer paths)."""
        if dt_seconds <= 0:
            raise ValueError("dt_seconds must be positive")
        self._evolve(dt_seconds)
        self._now_ms += round(dt_seconds * 1000)
        self._after_move()

    def advance_to(self, timestamp_ms: int) -> None:
        """Advance on the fixed `step_seconds` grid up to the last grid point <= timestamp_ms.

        The path is a function of the seed and the grid only, so it does not depend on how
        often the simulator happens to look at the market.
        """
        grid_ms = self.params.step_seconds * 1000
        target = timestamp_ms // grid_ms * grid_ms
        if self._now_ms >= target:
            return
        while self._now_ms < target:
            self._evolve(self.params.step_seconds)
            self._now_ms += grid_ms
            self._after_move(refresh=False)
        self._refresh_listings()

    def _after_move(self, *, refresh: bool = True) -> None:
        self._quotes_cache.clear()
        hour_ms = 3_600_000
        for state in self._states.values():
            if self._now_ms // hour_ms > (
                state.history_ms[-1] // hour_ms if state.history_ms else 0
            ):
                state.history_ms.append(self._now_ms // hour_ms * hour_ms)
                state.history_spot.append(math.exp(state.log_spot))
                state.history_iv.append(state.atm_iv)
                state.history_funding.append(state.funding_8h)
        if refresh:
            self._refresh_listings()

    def _evolve(self, dt_seconds: float) -> None:
        evolve_currencies(
            self._states.values(),
            self._market_rng,
            cross_correlation=self.params.cross_correlation,
            dt_seconds=dt_seconds,
        )

    # ------------------------------------------------------------------ listings

    def _refresh_listings(self) -> None:
        now = self.now
        expiries = listed_expiries(
            now,
            dailies=self.params.dailies,
            weeklies=self.params.weeklies,
            monthlies=self.params.monthlies,
            quarterlies=self.params.quarterlies,
        )
        alive = {int(e.timestamp() * 1000) for e in expiries}
        for state in self._states.values():
            for expiry_ms in list(state.expiries):
                if expiry_ms <= self._now_ms:
                    del state.expiries[expiry_ms]
                    self._listing_cache.clear()
            for expiry_ms in sorted(alive):
                self._list_or_extend(state, expiry_ms)

    def _list_or_extend(self, state: _CurrencyState, expiry_ms: int) -> None:
        cp = state.params
        spot = math.exp(state.log_spot)
        t_years = (expiry_ms - self._now_ms) / MS_PER_YEAR
        fresh = strike_grid(
            spot, state.atm_iv, t_years, count=cp.strikes_per_expiry, range_sd=cp.strike_range_sd
        )
        listed = state.expiries.get(expiry_ms)
        if listed is None:
            state.expiries[expiry_ms] = (fresh, self._now_ms)
            self._listing_cache.clear()
            self._quotes_cache.clear()
            return
        strikes, created = listed
        step = float(np.min(np.diff(strikes))) if len(strikes) > 1 else float(fresh[0])
        # Deribit adds strikes as the market moves; existing ones are never removed.
        low = np.arange(strikes[0] - step, fresh[0] - step / 2, -step)
        high = np.arange(strikes[-1] + step, fresh[-1] + step / 2, step)
        if len(low) or len(high):
            merged = np.concatenate([low[::-1], strikes, high])
            state.expiries[expiry_ms] = (merged[merged > 0], created)
            self._listing_cache.clear()
            self._quotes_cache.clear()

    def listing(self, currency: str) -> OptionListing:
        """Options listed now for a currency."""
        return self.quotes(currency).listing

    # ------------------------------------------------------------------ reads

    def spot(self, currency: str) -> float:
        """Index price (USD) of a currency, e.g. btc_usd."""
        return math.exp(self._states[currency].log_spot)

    def atm_iv(self, currency: str) -> float:
        """Current 30-day ATM implied vol (decimal)."""
        return self._states[currency].atm_iv

    def funding_8h(self, currency: str) -> float:
        """Perpetual funding rate per 8 hours (fraction)."""
        return self._states[currency].funding_8h

    def perpetual_mark(self, currency: str) -> float:
        """Mark price (USD) of the currency's perpetual: spot plus a funding-linked premium."""
        state = self._states[currency]
        return self.spot(currency) * (1 + state.params.perp_premium_per_funding * state.funding_8h)

    def forward(self, currency: str, expiry_ms: int | npt.NDArray[np.int64]) -> FloatArray:
        """Forward (USD) of an expiry: spot * exp(basis * T)."""
        state = self._states[currency]
        t_years = np.maximum((np.asarray(expiry_ms) - self._now_ms) / MS_PER_YEAR, 0.0)
        return np.asarray(self.spot(currency) * np.exp(state.params.basis_per_year * t_years))

    def implied_vol(
        self, currency: str, strike: FloatArray, t_years: FloatArray, forward: FloatArray
    ) -> FloatArray:
        """Model IV (decimal) of strikes/expiries given their forwards."""
        cp = self._states[currency].params
        return smile_iv(self._states[currency].atm_iv, cp, strike, t_years, forward)

    def history(self, currency: str) -> pd.DataFrame:
        """Hourly history: timestamp_ms, spot_usd, atm_iv (decimal), funding_8h."""
        state = self._states[currency]
        return pd.DataFrame(
            {
                "timestamp_ms": np.array(state.history_ms, dtype=np.int64),
                "spot_usd": state.history_spot,
                "atm_iv": state.history_iv,
                "funding_8h": state.history_funding,
            }
        )

    def next_expiry_ms(self) -> int | None:
        """Earliest listed option expiry after now (ms), if any."""
        upcoming = [e for s in self._states.values() for e in s.expiries if e > self._now_ms]
        return min(upcoming) if upcoming else None

    def quotes(self, currency: str) -> OptionQuotes:
        """Every listed option's quote now (cached until the market moves)."""
        cached = self._quotes_cache.get(currency)
        if cached is not None:
            return cached
        listing = self._listing_cache.get(currency)
        if listing is None:
            listing = self._listing_cache[currency] = build_listing(
                currency, self._states[currency].expiries
            )
        quotes = self._price(currency, listing)
        self._quotes_cache[currency] = quotes
        return quotes

    def _price(self, currency: str, listing: OptionListing) -> OptionQuotes:
        state = self._states[currency]
        cp = state.params
        t_years = np.maximum((listing.expiry_ms - self._now_ms) / MS_PER_YEAR, 1e-9)
        forward = self.forward(currency, listing.expiry_ms)
        sigma = smile_iv(state.atm_iv, cp, listing.strike, t_years, forward)
        g = black76.greeks(forward, listing.strike, t_years, sigma, listing.is_call)
        mark = np.maximum(np.asarray(g.price) / forward, 0.0)
        z = np.abs(np.log(listing.strike / forward) / (sigma * np.sqrt(t_years)))
        bid, ask = quote_bid_ask(
            mark, np.asarray(g.vega) / forward, z, np.maximum(t_years * 365.0, 1 / 24), cp
        )
        step_index = self._now_ms // (self.params.step_seconds * 1000)
        bid_amount, ask_amount, oi, volume = quote_sizes(cp, listing, z, step_index, self.seed)
        bid_iv = _quote_iv(bid, forward, listing, t_years)
        ask_iv = _quote_iv(ask, forward, listing, t_years)
        return OptionQuotes(
            timestamp_ms=self._now_ms,
            listing=listing,
            index_price=self.spot(currency),
            underlying_price=forward,
            t_years=t_years,
            mark_price=rounded(mark, 8),
            mark_iv=np.round(sigma * 100, 2),
            best_bid_price=bid,
            best_ask_price=ask,
            best_bid_amount=np.where(np.isnan(bid), 0.0, bid_amount),
            best_ask_amount=ask_amount,
            bid_iv=np.round(bid_iv * 100, 2),
            ask_iv=np.round(ask_iv * 100, 2),
            delta=rounded(g.delta, 5),
            gamma=rounded(g.gamma, 8),
            vega=rounded(g.vega, 5),
            theta=rounded(black76.deribit_theta(g.theta, t_years), 5),
            rho=rounded(g.rho, 5),
            open_interest=oi,
            volume=volume,
        )

    def chain(self, currency: str, now: datetime | None = None) -> pd.DataFrame:
        """The option chain: `CHAIN_COLUMNS` (the project's chain shape) then the extra columns.

        `now`, when given, first advances the model on its grid to that time.
        """
        if now is not None:
            self.advance_to(int(now.timestamp() * 1000))
        q = self.quotes(currency)
        n = len(q.listing.instrument_name)
        expiry_dt = pd.to_datetime(q.listing.expiry_ms, unit="ms", utc=True)
        return pd.DataFrame(
            {
                "harvest_time": pd.Series(
                    pd.Timestamp(q.timestamp_ms, unit="ms", tz="UTC"), index=range(n)
                ).dt.as_unit("us"),
                "instrument_name": q.listing.instrument_name,
                "underlying": currency,
                "expiry": expiry_dt.strftime("%Y-%m-%d"),
                "expiry_timestamp": q.listing.expiry_ms / 1000.0,
                "option_type": np.where(q.listing.is_call, "C", "P"),
                "strike": q.listing.strike,
                "underlying_price": q.underlying_price,
                "mark_price": q.mark_price,
                "best_bid_price": q.best_bid_price,
                "best_ask_price": q.best_ask_price,
                "bid_iv": q.bid_iv,
                "ask_iv": q.ask_iv,
                "mark_iv": q.mark_iv,
                "open_interest": q.open_interest,
                "volume": q.volume,
                "greek_delta": q.delta,
                "greek_gamma": q.gamma,
                "greek_theta": q.theta,
                "greek_vega": q.vega,
            },
            columns=list(MODEL_CHAIN_COLUMNS),
        )

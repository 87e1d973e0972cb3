"""What the simulated exchange lists and what each instrument is worth now.

`SimListing` turns the market (`MarketView`) into instruments: it registers the option specs of
each listing the market shows, keeps the perpetuals, the options expired at the last
settlements, the marks fixed at the last 08:00 (`settlement_price`) and each option's last
known market (an option that stopped quoting still values at it). `valuation` reads one
instrument's market now as a `Valuation`.
"""

from __future__ import annotations

from dataclasses import dataclass

from trading.deribit.errors import InvalidParamsError, NotFoundError
from trading.deribit.simulator.instruments import InstrumentSpec, option_spec, perpetual_spec
from trading.deribit.simulator.market import MarketView
from trading.domain.market_model import OptionQuotes

KEPT_EXPIRED = 2000  # expired specs `public/get_instruments?expired=true` can list


@dataclass(frozen=True)
class Valuation:
    """An instrument's market now: prices in coin (options) or USD (perpetual)."""

    spec: InstrumentSpec
    mark_price: float
    index_price: float
    underlying_price: float
    mark_iv: float | None
    best_bid_price: float | None
    best_ask_price: float | None
    best_bid_amount: float
    best_ask_amount: float
    bid_iv: float | None
    ask_iv: float | None
    delta: float
    gamma: float
    vega: float
    theta: float
    rho: float
    open_interest: float
    volume: float
    funding_8h: float | None = None
    settlement_price: float | None = None  # mark at the last 08:00 settlement it lived through


def _finite(value: float) -> float | None:
    return None if value != value else float(value)


def currency_of(instrument_name: str) -> str:
    """Currency prefix of an instrument name (BTC-...)."""
    return instrument_name.split("-", 1)[0].split("_", 1)[0]


class SimListing:
    """Instrument specs and valuations over a market; `started_ms` dates the perpetuals."""

    def __init__(self, market: MarketView, *, started_ms: int) -> None:
        self.market = market
        self.started_ms = started_ms
        self._specs: dict[str, InstrumentSpec] = {}
        self._specs_listing_id: dict[str, int] = {}
        self._last_valuation: dict[str, Valuation] = {}
        self.expired_specs: list[InstrumentSpec] = []
        self.settlement_marks: dict[str, float] = {}
        #: Bumped whenever a new option listing is registered (reply caches key on it).
        self.listing_version = 0

    def option_quotes(self, currency: str) -> OptionQuotes:
        """Quotes of a currency's options, registering their specs."""
        if currency not in self.market.currencies:
            raise InvalidParamsError(data={"param": "currency", "reason": "unsupported"})
        quotes = self.market.quotes(currency)
        if self._specs_listing_id.get(currency) != id(quotes.listing):
            listing = quotes.listing
            for i, name in enumerate(listing.instrument_name):
                if name not in self._specs:
                    self._specs[name] = option_spec(
                        instrument_name=name,
                        currency=currency,
                        instrument_id=int(listing.instrument_id[i]),
                        expiry_ms=int(listing.expiry_ms[i]),
                        creation_ms=int(listing.creation_ms[i]),
                        strike=float(listing.strike[i]),
                        is_call=bool(listing.is_call[i]),
                    )
            self._specs_listing_id[currency] = id(quotes.listing)
            self.listing_version += 1
        return quotes

    def spec(self, instrument_name: str, *, code: int = 13020) -> InstrumentSpec:
        """Specification of a listed (or held) instrument; `code` error when unknown."""
        currency = currency_of(instrument_name)
        if currency in self.market.currencies:
            if instrument_name == f"{currency}-PERPETUAL":
                return self._specs.setdefault(
                    instrument_name, perpetual_spec(currency, self.started_ms)
                )
            self.option_quotes(currency)
        found = self._specs.get(instrument_name)
        if found is None:
            message = "not_found" if code == 13020 else "invalid_or_unsupported_instrument"
            raise NotFoundError(message, code=code)
        return found

    def held_options(self, names: set[str]) -> list[InstrumentSpec]:
        """The listed options among `names` (instruments someone holds or bids for)."""
        return [self._specs[n] for n in names if n in self._specs and self._specs[n].is_option]

    def valuation(self, instrument_name: str) -> Valuation:
        """Market of one instrument now (or its last known market after it stopped quoting)."""
        spec = self.spec(instrument_name)
        if not spec.is_option:
            return self._perp_valuation(spec)
        quotes = self.option_quotes(spec.currency)
        try:
            i = quotes.index_of(instrument_name)
        except KeyError:
            last = self._last_valuation.get(instrument_name)
            if last is None:
                raise NotFoundError() from None
            return last
        value = Valuation(
            spec=spec,
            mark_price=float(quotes.mark_price[i]),
            index_price=float(quotes.index_price),
            underlying_price=float(quotes.underlying_price[i]),
            mark_iv=_finite(float(quotes.mark_iv[i])),
            best_bid_price=_finite(float(quotes.best_bid_price[i])),
            best_ask_price=_finite(float(quotes.best_ask_price[i])),
            best_bid_amount=float(quotes.best_bid_amount[i]),
            best_ask_amount=float(quotes.best_ask_amount[i]),
            bid_iv=_finite(float(quotes.bid_iv[i])),
            ask_iv=_finite(float(quotes.ask_iv[i])),
            delta=float(quotes.delta[i]),
            gamma=float(quotes.gamma[i]),
            vega=float(quotes.vega[i]),
            theta=float(quotes.theta[i]),
            rho=float(quotes.rho[i]),
            open_interest=float(quotes.open_interest[i]),
            volume=float(quotes.volume[i]),
            settlement_price=self.settlement_marks.get(instrument_name),
        )
        self._last_valuation[instrument_name] = value
        return value

    def _perp_valuation(self, spec: InstrumentSpec) -> Valuation:
        perp = self.market.perpetual(spec.currency)
        return Valuation(
            spec=spec,
            mark_price=perp.mark_price,
            index_price=perp.index_price,
            underlying_price=perp.index_price,
            mark_iv=None,
            best_bid_price=perp.best_bid_price,
            best_ask_price=perp.best_ask_price,
            best_bid_amount=perp.best_bid_amount,
            best_ask_amount=perp.best_ask_amount,
            bid_iv=None,
            ask_iv=None,
            delta=1.0,
            gamma=0.0,
            vega=0.0,
            theta=0.0,
            rho=0.0,
            open_interest=5.0e8 if spec.currency == "BTC" else 1.5e8,
            volume=10_000.0,
            funding_8h=perp.funding_8h,
            settlement_price=self.settlement_marks.get(spec.instrument_name),
        )

    # ------------------------------------------------------------------ settlement

    def record_settlement_marks(self, event_ms: int) -> None:
        """Each live instrument's mark at this 08:00 (its `settlement_price` until the next)."""
        marks: dict[str, float] = {}
        for currency in self.market.currencies:
            quotes = self.market.quotes(currency)
            listing = quotes.listing
            marks.update(
                (name, mark)
                for name, expiry_ms, mark in zip(
                    listing.instrument_name,
                    listing.expiry_ms.tolist(),
                    quotes.mark_price.tolist(),
                    strict=True,
                )
                if expiry_ms > event_ms
            )
            marks[f"{currency}-PERPETUAL"] = self.market.perpetual(currency).mark_price
        self.settlement_marks = marks

    def delist_expired(self, event_ms: int) -> None:
        """Move the options expired by `event_ms` to the expired list (the newest kept)."""
        expired = [s for s in self._specs.values() if s.is_option and s.expiry_ms <= event_ms]
        for spec in expired:
            del self._specs[spec.instrument_name]
            self._last_valuation.pop(spec.instrument_name, None)
        self.expired_specs = (self.expired_specs + expired)[-KEPT_EXPIRED:]
        self._specs_listing_id.clear()

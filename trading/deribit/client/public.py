"""Public market data: instruments, chain summaries, tickers, books, index, volatility, trades."""

from __future__ import annotations

from typing import Any

from trading.deribit.client.session import RpcSession
from trading.deribit.models import (
    BookSummary,
    DeliveryPrices,
    FundingRate,
    IndexPrice,
    Instrument,
    OrderBook,
    Ticker,
    TradesPage,
    TradingViewChartData,
    VolatilityIndexData,
    VolatilityPoint,
)
from trading.deribit.rpc import (
    _BOOK_SUMMARIES,
    _CHART,
    _DELIVERY,
    _DVOL,
    _FUNDING,
    _INDEX_PRICE,
    _INSTRUMENTS,
    _ORDER_BOOK,
    _TICKER,
    _TRADES_PAGE,
    _VOL_POINTS,
)


class PublicReads(RpcSession):
    """The `public/*` reads: no token needed, retried like every read."""

    def get_time(self) -> int:
        """Exchange time in ms since the epoch."""
        return int(self.call("public/get_time"))

    def get_instruments(
        self, currency: str, kind: str | None = "option", *, expired: bool = False
    ) -> list[Instrument]:
        """Instruments of a currency; cached for `instruments_ttl_s` (own limit: 1 per 10 s)."""
        key = (currency, kind or "", expired)
        cached = self._instruments_cache.get(key)
        if cached is not None and self._clock() - cached[0] < self.instruments_ttl_s:
            return cached[1]
        params: dict[str, Any] = {"currency": currency, "kind": kind, "expired": expired}
        instruments = self._typed(_INSTRUMENTS, "public/get_instruments", params)
        self._instruments_cache[key] = (self._clock(), instruments)
        return instruments

    def get_book_summary_by_currency(
        self, currency: str, kind: str | None = "option"
    ) -> list[BookSummary]:
        """Book summary of every instrument of a currency (the whole option chain in one call)."""
        params = {"currency": currency, "kind": kind}
        return self._typed(_BOOK_SUMMARIES, "public/get_book_summary_by_currency", params)

    def get_book_summary_by_instrument(self, instrument_name: str) -> BookSummary:
        """Book summary of one instrument (Deribit returns a one-element list)."""
        rows = self._typed(
            _BOOK_SUMMARIES,
            "public/get_book_summary_by_instrument",
            {"instrument_name": instrument_name},
        )
        return rows[0]

    def ticker(self, instrument_name: str) -> Ticker:
        """Ticker of one instrument: top of book, mark, IVs and greeks."""
        return self._typed(_TICKER, "public/ticker", {"instrument_name": instrument_name})

    def get_order_book(self, instrument_name: str, depth: int = 5) -> OrderBook:
        """Order book levels (bids descending, asks ascending) plus ticker fields."""
        params = {"instrument_name": instrument_name, "depth": depth}
        return self._typed(_ORDER_BOOK, "public/get_order_book", params)

    def get_index_price(self, index_name: str) -> IndexPrice:
        """Index price in USD, e.g. `btc_usd`."""
        return self._typed(_INDEX_PRICE, "public/get_index_price", {"index_name": index_name})

    def get_historical_volatility(self, currency: str) -> list[VolatilityPoint]:
        """Hourly realized volatility (percent) of a currency."""
        params = {"currency": currency}
        return self._typed(_VOL_POINTS, "public/get_historical_volatility", params)

    def get_volatility_index_data(
        self, currency: str, start_timestamp: int, end_timestamp: int, resolution: str = "3600"
    ) -> VolatilityIndexData:
        """DVOL candles between two ms timestamps; page backwards with `continuation`."""
        params = {
            "currency": currency,
            "start_timestamp": start_timestamp,
            "end_timestamp": end_timestamp,
            "resolution": resolution,
        }
        return self._typed(_DVOL, "public/get_volatility_index_data", params)

    def get_tradingview_chart_data(
        self, instrument_name: str, start_timestamp: int, end_timestamp: int, resolution: str = "60"
    ) -> TradingViewChartData:
        """OHLCV candles of an instrument (resolution in minutes or `1D`)."""
        params = {
            "instrument_name": instrument_name,
            "start_timestamp": start_timestamp,
            "end_timestamp": end_timestamp,
            "resolution": resolution,
        }
        return self._typed(_CHART, "public/get_tradingview_chart_data", params)

    def get_last_trades_by_currency_and_time(
        self,
        currency: str,
        start_timestamp: int,
        end_timestamp: int,
        *,
        kind: str | None = "option",
        count: int = 10,
        sorting: str = "default",
    ) -> TradesPage:
        """Public trades of a currency between two ms timestamps."""
        params = {
            "currency": currency,
            "kind": kind,
            "start_timestamp": start_timestamp,
            "end_timestamp": end_timestamp,
            "count": count,
            "sorting": sorting,
        }
        return self._typed(_TRADES_PAGE, "public/get_last_trades_by_currency_and_time", params)

    def get_delivery_prices(
        self, index_name: str, *, offset: int = 0, count: int = 10
    ) -> DeliveryPrices:
        """Daily delivery prices of an index, newest first."""
        params = {"index_name": index_name, "offset": offset, "count": count}
        return self._typed(_DELIVERY, "public/get_delivery_prices", params)

    def get_funding_rate_history(
        self, instrument_name: str, start_timestamp: int, end_timestamp: int
    ) -> list[FundingRate]:
        """Hourly funding of a perpetual between two ms timestamps."""
        params = {
            "instrument_name": instrument_name,
            "start_timestamp": start_timestamp,
            "end_timestamp": end_timestamp,
        }
        return self._typed(_FUNDING, "public/get_funding_rate_history", params)

"""Pydantic models of Deribit API v2 results, with Deribit's exact field names and units.

Units follow the exchange: option prices, premiums, fees and P&L in the coin (BTC/ETH) for
inverse options, strikes and index prices in USD, IVs in percent, timestamps in ms since the
epoch (UTC), option amounts in coin. Everything on the order path (orders, trades, positions,
account money, margins, contract specs) is `Decimal`; bulk market data stays `float` because it
feeds numpy. Unknown extra fields are ignored: Deribit adds fields without notice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Direction = Literal["buy", "sell"]
OrderState = Literal["open", "filled", "rejected", "cancelled", "untriggered", "triggered"]
TimeInForce = Literal["good_til_cancelled", "good_til_day", "fill_or_kill", "immediate_or_cancel"]
OrderType = Literal["limit", "market"]


def ms_to_datetime(timestamp_ms: int) -> datetime:
    """A Deribit millisecond timestamp as an aware UTC datetime."""
    return datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)


class DeribitModel(BaseModel):
    """Base: immutable, ignores fields Deribit adds later."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class AuthResult(DeribitModel):
    """Result of `public/auth`: an opaque bearer token valid for `expires_in` seconds."""

    access_token: str = Field(repr=False)
    token_type: str = "bearer"
    expires_in: int
    refresh_token: str = Field(repr=False)
    scope: str
    enabled_features: list[str] = []
    sid: str | None = None
    state: str | None = None


class TickSizeStep(DeribitModel):
    """A coarser tick that applies at and above `above_price` (coin)."""

    above_price: Decimal
    tick_size: Decimal


class Instrument(DeribitModel):
    """One row of `public/get_instruments`: the contract specification of an instrument."""

    instrument_name: str
    kind: str
    base_currency: str
    quote_currency: str
    counter_currency: str | None = None
    settlement_currency: str | None = None
    instrument_id: int | None = None
    is_active: bool
    settlement_period: str
    creation_timestamp: int
    expiration_timestamp: int
    tick_size: Decimal
    tick_size_steps: list[TickSizeStep] = []
    min_trade_amount: Decimal
    contract_size: Decimal
    option_type: Literal["call", "put"] | None = None
    strike: float | None = None
    instrument_type: str | None = None
    future_type: str | None = None
    price_index: str
    maker_commission: Decimal | None = None
    taker_commission: Decimal | None = None
    block_trade_commission: Decimal | None = None
    block_trade_min_trade_amount: Decimal | None = None
    block_trade_tick_size: Decimal | None = None
    max_leverage: int | None = None
    max_liquidation_commission: Decimal | None = None
    rfq: bool | None = None

    @property
    def expiry(self) -> datetime:
        """Expiry as an aware UTC datetime (08:00 UTC for options)."""
        return ms_to_datetime(self.expiration_timestamp)

    def tick_for(self, price: Decimal) -> Decimal:
        """The tick size that applies to a price, honouring `tick_size_steps`."""
        tick = self.tick_size
        for step in sorted(self.tick_size_steps, key=lambda s: s.above_price):
            if price >= step.above_price:
                tick = step.tick_size
        return tick


class BookSummary(DeribitModel):
    """One row of `public/get_book_summary_by_*`: a snapshot of an instrument's market."""

    instrument_name: str
    base_currency: str
    quote_currency: str
    bid_price: float | None = None
    ask_price: float | None = None
    mid_price: float | None = None
    mark_price: float
    last: float | None = None
    high: float | None = None
    low: float | None = None
    volume: float | None = None
    volume_usd: float | None = None
    volume_notional: float | None = None
    open_interest: float | None = None
    price_change: float | None = None
    creation_timestamp: int
    estimated_delivery_price: float | None = None
    mark_iv: float | None = None
    interest_rate: float | None = None
    underlying_index: str | None = None
    underlying_price: float | None = None
    current_funding: float | None = None
    funding_8h: float | None = None


class TickerStats(DeribitModel):
    """24-hour statistics of a ticker."""

    volume: float | None = None
    volume_usd: float | None = None
    high: float | None = None
    low: float | None = None
    price_change: float | None = None


class Greeks(DeribitModel):
    """Exchange greeks: delta unitless, gamma per USD, vega USD per vol point, theta USD/day."""

    delta: float
    gamma: float
    vega: float
    theta: float
    rho: float


class Ticker(DeribitModel):
    """Result of `public/ticker`: top of book, mark, IVs (percent) and greeks of one instrument."""

    instrument_name: str
    timestamp: int
    state: str
    best_bid_price: float | None = None
    best_bid_amount: float | None = None
    best_ask_price: float | None = None
    best_ask_amount: float | None = None
    bid_iv: float | None = None
    ask_iv: float | None = None
    mark_iv: float | None = None
    mark_price: float
    last_price: float | None = None
    index_price: float
    underlying_price: float | None = None
    underlying_index: str | None = None
    estimated_delivery_price: float | None = None
    interest_rate: float | None = None
    settlement_price: float | None = None
    delivery_price: float | None = None
    min_price: float | None = None
    max_price: float | None = None
    open_interest: float | None = None
    stats: TickerStats = TickerStats()
    greeks: Greeks | None = None
    current_funding: float | None = None
    funding_8h: float | None = None
    interest_value: float | None = None


class OrderBook(Ticker):
    """Result of `public/get_order_book`: ticker fields plus `[price, amount]` levels."""

    bids: list[tuple[float, float]] = []
    asks: list[tuple[float, float]] = []
    change_id: int | None = None


class IndexPrice(DeribitModel):
    """Result of `public/get_index_price` (USD)."""

    index_price: float
    estimated_delivery_price: float


class VolatilityPoint(DeribitModel):
    """One `[timestamp_ms, value]` pair of `public/get_historical_volatility` (percent)."""

    timestamp: int
    value: float

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, raw: Any) -> Any:
        if isinstance(raw, list | tuple) and len(raw) == 2:
            return {"timestamp": raw[0], "value": raw[1]}
        return raw


class VolatilityIndexData(DeribitModel):
    """Result of `public/get_volatility_index_data`: DVOL candles `[ts, open, high, low, close]`."""

    data: list[tuple[int, float, float, float, float]]
    continuation: int | None = None


class TradingViewChartData(DeribitModel):
    """Result of `public/get_tradingview_chart_data`: OHLCV as parallel arrays."""

    status: Literal["ok", "no_data"]
    ticks: list[int]
    open: list[float]
    high: list[float]
    low: list[float]
    close: list[float]
    volume: list[float]
    cost: list[float]


class PublicTrade(DeribitModel):
    """A public trade; `direction` is the taker's side, `iv` in percent."""

    trade_id: str
    trade_seq: int
    instrument_name: str
    timestamp: int
    direction: Direction
    price: Decimal
    amount: Decimal
    contracts: Decimal | None = None
    index_price: float
    mark_price: float
    tick_direction: int
    iv: float | None = None
    liquidation: str | None = None
    block_trade_id: str | None = None


class TradesPage(DeribitModel):
    """`{trades, has_more}` page of public trades."""

    trades: list[PublicTrade]
    has_more: bool


class DeliveryPrice(DeribitModel):
    """A daily delivery (settlement) price in USD."""

    date: str
    delivery_price: float


class DeliveryPrices(DeribitModel):
    """Result of `public/get_delivery_prices`, newest first."""

    data: list[DeliveryPrice]
    records_total: int


class FundingRate(DeribitModel):
    """One hourly row of `public/get_funding_rate_history` (rates as fractions)."""

    timestamp: int
    index_price: float
    prev_index_price: float
    interest_1h: float
    interest_8h: float


class AccountSummary(DeribitModel):
    """Result of `private/get_account_summary`; money in `currency`, greeks USD-style."""

    currency: str
    balance: Decimal
    equity: Decimal
    margin_balance: Decimal | None = None
    available_funds: Decimal
    available_withdrawal_funds: Decimal
    initial_margin: Decimal
    maintenance_margin: Decimal
    projected_initial_margin: Decimal | None = None
    projected_maintenance_margin: Decimal | None = None
    delta_total: float
    projected_delta_total: float | None = None
    delta_total_map: dict[str, float] = {}
    options_delta: float
    options_gamma: float
    options_vega: float
    options_theta: float
    options_value: Decimal
    options_pl: Decimal
    options_session_rpl: Decimal
    options_session_upl: Decimal
    futures_pl: Decimal
    futures_session_rpl: Decimal
    futures_session_upl: Decimal
    session_rpl: Decimal
    session_upl: Decimal
    total_pl: Decimal
    fee_balance: Decimal | None = None
    margin_model: str | None = None
    portfolio_margining_enabled: bool | None = None
    cross_collateral_enabled: bool | None = None
    estimated_liquidation_ratio: float | None = None
    options_gamma_map: dict[str, float] = {}
    options_vega_map: dict[str, float] = {}
    options_theta_map: dict[str, float] = {}
    limits: dict[str, Any] | None = None


class Position(DeribitModel):
    """One row of `private/get_positions`; `size` is signed (negative when short), in coin."""

    instrument_name: str
    kind: str
    direction: Literal["buy", "sell", "zero"]
    size: Decimal
    size_currency: Decimal | None = None
    average_price: Decimal
    average_price_usd: Decimal | None = None
    mark_price: Decimal
    index_price: float
    settlement_price: Decimal | None = None
    delta: float
    gamma: float | None = None
    vega: float | None = None
    theta: float | None = None
    floating_profit_loss: Decimal
    floating_profit_loss_usd: Decimal | None = None
    realized_profit_loss: Decimal
    total_profit_loss: Decimal
    initial_margin: Decimal
    maintenance_margin: Decimal
    open_orders_margin: Decimal | None = None
    leverage: int | None = None
    estimated_liquidation_price: Decimal | None = None
    realized_funding: Decimal | None = None
    interest_value: float | None = None


class Order(DeribitModel):
    """An order as returned by buy/sell/edit/cancel/get_order_state (amounts in coin)."""

    order_id: str
    order_state: OrderState
    order_type: str
    time_in_force: str
    instrument_name: str
    direction: Direction
    price: Decimal | None = None
    amount: Decimal | None = None
    contracts: Decimal | None = None
    filled_amount: Decimal = Decimal(0)
    average_price: Decimal = Decimal(0)
    label: str = ""
    post_only: bool = False
    reject_post_only: bool | None = None
    reduce_only: bool = False
    api: bool = True
    web: bool | None = None
    replaced: bool | None = None
    is_liquidation: bool | None = None
    risk_reducing: bool | None = None
    mmp: bool | None = None
    max_show: Decimal | None = None
    creation_timestamp: int
    last_update_timestamp: int
    cancel_reason: str | None = None
    advanced: str | None = None
    implv: float | None = None
    usd: float | None = None
    triggered: bool | None = None
    trigger: str | None = None
    trigger_price: Decimal | None = None

    @field_validator("price", mode="before")
    @classmethod
    def _market_price_is_none(cls, raw: Any) -> Any:
        # Open trigger-market orders carry the string "market_price" instead of a number.
        return None if raw == "market_price" else raw

    @property
    def is_open(self) -> bool:
        """True while the order can still fill."""
        return self.order_state in ("open", "untriggered")

    @property
    def remaining_amount(self) -> Decimal:
        """Unfilled amount in coin."""
        return (self.amount or Decimal(0)) - self.filled_amount


class UserTrade(DeribitModel):
    """One of your fills: price and fee in coin, `liquidity` M (maker) or T (taker)."""

    trade_id: str
    trade_seq: int
    instrument_name: str
    timestamp: int
    direction: Direction
    price: Decimal
    amount: Decimal
    contracts: Decimal | None = None
    index_price: float
    mark_price: float
    underlying_price: float | None = None
    iv: float | None = None
    tick_direction: int
    order_id: str
    order_type: str | None = None
    state: str
    label: str = ""
    liquidity: Literal["M", "T"] | None = None
    fee: Decimal
    fee_currency: str
    profit_loss: Decimal | None = None
    matching_id: str | None = None
    api: bool | None = None
    post_only: bool | None = None
    reduce_only: bool | None = None
    mmp: bool | None = None
    risk_reducing: bool | None = None
    self_trade: bool | None = None


class OrderResult(DeribitModel):
    """`{order, trades}` returned by buy, sell, edit and close_position."""

    order: Order
    trades: list[UserTrade]


class UserTradesPage(DeribitModel):
    """`{trades, has_more}` page of your own fills."""

    trades: list[UserTrade]
    has_more: bool


class Margins(DeribitModel):
    """Result of `private/get_margins`: margin (coin) to buy or sell, and the price band."""

    buy: Decimal
    sell: Decimal
    min_price: Decimal
    max_price: Decimal

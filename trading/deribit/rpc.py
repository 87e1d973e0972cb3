"""JSON-RPC plumbing of the Deribit client: reply envelopes, retry policy, URLs and redaction."""

from __future__ import annotations

import random
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from trading.deribit.limiter import MATCHING_ENGINE_METHODS
from trading.deribit.models import (
    AccountSummary,
    BookSummary,
    DeliveryPrices,
    FundingRate,
    IndexPrice,
    Instrument,
    Margins,
    Order,
    OrderBook,
    OrderResult,
    Position,
    Ticker,
    TradesPage,
    TradingViewChartData,
    UserTradesPage,
    VolatilityIndexData,
    VolatilityPoint,
)

T = TypeVar("T")

MAINNET_HOSTS: frozenset[str] = frozenset({"www.deribit.com", "deribit.com"})
TESTNET_BASE_URL = "https://test.deribit.com/api/v2"
MAINNET_BASE_URL = "https://www.deribit.com/api/v2"
SECRET_PARAM_NAMES: frozenset[str] = frozenset(
    {"client_secret", "refresh_token", "access_token", "signature"}
)
#: Calls that create or change an order: sent once, never retried after the request left.
ORDER_CHANGING_METHODS: frozenset[str] = MATCHING_ENGINE_METHODS


class RetryPolicy(BaseModel):
    """Back-off for reads: attempt n waits uniform(0, min(cap, base * 2**n)) seconds."""

    model_config = ConfigDict(frozen=True)

    max_attempts: int = Field(default=4, ge=1)
    base_delay_s: float = Field(default=0.2, ge=0)
    max_delay_s: float = Field(default=2.0, ge=0)

    def delay_s(self, attempt: int, rng: random.Random) -> float:
        """Full-jitter delay before retry number `attempt` (0-based)."""
        ceiling = min(self.max_delay_s, self.base_delay_s * (2**attempt))
        return rng.uniform(0.0, ceiling)


def redact_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Copy of request params safe to log: secrets replaced by '***'."""
    return {k: ("***" if k in SECRET_PARAM_NAMES else v) for k, v in params.items()}


def is_mainnet_url(base_url: str) -> bool:
    """True when the URL points at Deribit's production (real-money) exchange."""
    host = (urlsplit(base_url).hostname or "").lower()
    return host in MAINNET_HOSTS


def to_wire(value: Any) -> Any:
    # JSON has no Decimal; Deribit prices/amounts have <= 15 significant digits so the float
    # repr round-trips exactly.
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)


class RpcError(BaseModel):
    """The `error` member of a JSON-RPC reply."""

    model_config = ConfigDict(extra="ignore")

    code: int
    message: str = "error"
    data: Any = None


class RpcReply(BaseModel, Generic[T]):
    """A JSON-RPC reply whose `result` is a T (the envelope's other fields are ignored)."""

    model_config = ConfigDict(extra="ignore")

    result: T | None = None
    error: RpcError | None = None


class Reply(Generic[T]):
    """A validator of `RpcReply[T]` that remembers T for the type checker."""

    def __init__(self, result_type: Any) -> None:
        self.adapter: TypeAdapter[Any] = TypeAdapter(RpcReply[result_type])


_INSTRUMENTS: Reply[list[Instrument]] = Reply(list[Instrument])
_BOOK_SUMMARIES: Reply[list[BookSummary]] = Reply(list[BookSummary])
_TICKER: Reply[Ticker] = Reply(Ticker)
_ORDER_BOOK: Reply[OrderBook] = Reply(OrderBook)
_INDEX_PRICE: Reply[IndexPrice] = Reply(IndexPrice)
_VOL_POINTS: Reply[list[VolatilityPoint]] = Reply(list[VolatilityPoint])
_DVOL: Reply[VolatilityIndexData] = Reply(VolatilityIndexData)
_CHART: Reply[TradingViewChartData] = Reply(TradingViewChartData)
_TRADES_PAGE: Reply[TradesPage] = Reply(TradesPage)
_DELIVERY: Reply[DeliveryPrices] = Reply(DeliveryPrices)
_FUNDING: Reply[list[FundingRate]] = Reply(list[FundingRate])
_ACCOUNT: Reply[AccountSummary] = Reply(AccountSummary)
_POSITIONS: Reply[list[Position]] = Reply(list[Position])
_ORDERS: Reply[list[Order]] = Reply(list[Order])
_ORDER: Reply[Order] = Reply(Order)
_ORDER_RESULT: Reply[OrderResult] = Reply(OrderResult)
_USER_TRADES: Reply[UserTradesPage] = Reply(UserTradesPage)
_MARGINS: Reply[Margins] = Reply(Margins)

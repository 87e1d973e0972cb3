"""Deribit connectivity: the typed JSON-RPC client, its errors, models and rate limiter.

The simulated exchange lives in `trading.deribit.simulator`. Nothing here imports Django.
"""

from __future__ import annotations

from trading.deribit.client import DeribitClient, RetryPolicy, new_order_label
from trading.deribit.errors import (
    AuthError,
    DeribitError,
    ExchangeUnavailableError,
    InsufficientFundsError,
    InvalidCredentialsError,
    InvalidParamsError,
    MainnetRefusedError,
    MaintenanceError,
    NotFoundError,
    OrderNotOpenError,
    OrderRejectedError,
    PublicOnlyError,
    RateLimitError,
    SettlementInProgressError,
    TickSizeError,
    UnknownOutcomeError,
)
from trading.deribit.limiter import CreditLimiter, LimiterConfig, NoLimiter

__all__ = [
    "AuthError",
    "CreditLimiter",
    "DeribitClient",
    "DeribitError",
    "ExchangeUnavailableError",
    "InsufficientFundsError",
    "InvalidCredentialsError",
    "InvalidParamsError",
    "LimiterConfig",
    "MainnetRefusedError",
    "MaintenanceError",
    "NoLimiter",
    "NotFoundError",
    "OrderNotOpenError",
    "OrderRejectedError",
    "PublicOnlyError",
    "RateLimitError",
    "RetryPolicy",
    "SettlementInProgressError",
    "TickSizeError",
    "UnknownOutcomeError",
    "new_order_label",
]

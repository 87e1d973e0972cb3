"""Typed Deribit errors: one exception family per way a request can fail.

Callers catch the family they can act on (re-auth, back off, fix params, resolve an unknown
outcome) instead of inspecting numeric codes. `error_from_response` maps Deribit's JSON-RPC error
codes (reference notes, section 6.1) onto these classes; the simulator raises the same classes
so both sides share one table.
"""

from __future__ import annotations

from typing import Any


class DeribitError(Exception):
    """Base of every error raised by the Deribit client or the simulator."""

    default_code: int = 10001
    default_message: str = "error"
    http_status: int = 400
    #: The exchange asks us to wait (rate limit, settlement, maintenance): back off and retry
    #: later instead of pressing on. The tick asks this, not a table of codes.
    transient: bool = False
    #: A few words for logs and back-off reasons.
    kind: str = "exchange error"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: int | None = None,
        data: Any = None,
        method: str = "",
        http_status: int | None = None,
    ) -> None:
        self.code = self.default_code if code is None else code
        self.message = message or self.default_message
        self.data = data
        self.method = method
        if http_status is not None:
            self.http_status = http_status
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f"{self.method}: " if self.method else ""
        detail = f" {self.data}" if self.data else ""
        return f"{where}{self.code} {self.message}{detail}"

    def to_error_object(self) -> dict[str, Any]:
        """The `error` member of a JSON-RPC envelope for this error."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class AuthError(DeribitError):
    """Authentication or authorisation failed (13004, 13009, 10000, 13021, 13403)."""

    default_code = 13009
    default_message = "unauthorized"
    http_status = 401


class InvalidCredentialsError(AuthError):
    """Client id or secret rejected by `public/auth` (13004)."""

    default_code = 13004
    default_message = "invalid_credentials"
    http_status = 400


class RateLimitError(DeribitError):
    """The exchange refused the request for lack of credits (10028) or capacity."""

    transient = True
    kind = "rate limited"
    default_code = 10028
    default_message = "too_many_requests"
    http_status = 429


class SettlementInProgressError(DeribitError):
    """Daily settlement around 08:00 UTC is running (10041); retry in a few seconds."""

    transient = True
    kind = "settlement in progress"
    default_code = 10041
    default_message = "settlement_in_progress"


class MaintenanceError(DeribitError):
    """The exchange or one of its engines is temporarily unavailable (11051, 13028, 10040)."""

    transient = True
    kind = "exchange maintenance"
    default_code = 11051
    default_message = "system_maintenance"
    http_status = 503


class InsufficientFundsError(DeribitError):
    """Not enough margin or balance for the order (10009)."""

    default_code = 10009
    default_message = "not_enough_funds"


class InvalidParamsError(DeribitError):
    """Missing or malformed parameters (-32602 and friends)."""

    default_code = -32602
    default_message = "Invalid params"


class TickSizeError(InvalidParamsError):
    """A price that does not conform to the instrument's tick size (-32602, param price)."""

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("data", {"param": "price", "reason": "must conform to tick size"})
        super().__init__(message, **kwargs)


class NotFoundError(DeribitError):
    """Unknown instrument, order or label (13020, 10004, 10020)."""

    default_code = 13020
    default_message = "not_found"


class OrderNotOpenError(DeribitError):
    """Edit or cancel of an order that is already closed (11044)."""

    default_code = 11044
    default_message = "not_open_order"


class OrderRejectedError(DeribitError):
    """The matching engine rejected the order for a business reason (post-only, reduce-only...)."""

    default_code = 11030
    default_message = "other_reject"


class ExchangeUnavailableError(DeribitError):
    """The request failed below JSON-RPC: connection error, timeout, 5xx or unreadable body."""

    default_code = -1
    default_message = "exchange_unavailable"
    http_status = 503
    #: False when the request provably never reached the exchange (connect or auth failure).
    request_sent: bool = True


class UnknownOutcomeError(DeribitError):
    """An order-changing request was sent but no trustworthy reply came back.

    The order may or may not exist. Never resend blindly: resolve it with
    `get_order_state_by_label(currency, label)` (or `get_order_state` for edits and cancels).
    """

    default_code = -2
    default_message = "unknown_outcome"
    http_status = 504

    def __init__(
        self,
        message: str | None = None,
        *,
        label: str = "",
        order_id: str = "",
        instrument_name: str = "",
        **kwargs: Any,
    ) -> None:
        self.label = label
        self.order_id = order_id
        self.instrument_name = instrument_name
        super().__init__(message, **kwargs)

    def _describe(self) -> str:
        base = super()._describe()
        return f"{base} (label={self.label!r}, order_id={self.order_id!r})"


class MainnetRefusedError(DeribitError):
    """The client was pointed at mainnet without `allow_mainnet=True`."""

    default_code = -3
    default_message = "mainnet_not_allowed"


class PublicOnlyError(DeribitError):
    """A public-data-only client (e.g. mainnet market data for research) was asked for a private
    method or to authenticate: it holds no keys and can never trade."""

    default_code = -4
    default_message = "public_data_only"


_CODE_TO_CLASS: dict[int, type[DeribitError]] = {
    10000: AuthError,
    13004: InvalidCredentialsError,
    13009: AuthError,
    13021: AuthError,
    13403: AuthError,
    13778: AuthError,
    10028: RateLimitError,
    10047: RateLimitError,
    10066: RateLimitError,
    10041: SettlementInProgressError,
    11051: MaintenanceError,
    13028: MaintenanceError,
    10040: MaintenanceError,
    10009: InsufficientFundsError,
    -32602: InvalidParamsError,
    -32600: InvalidParamsError,
    -32601: InvalidParamsError,
    -32700: InvalidParamsError,
    -32000: InvalidParamsError,
    10002: InvalidParamsError,
    10021: InvalidParamsError,
    10023: InvalidParamsError,
    10025: InvalidParamsError,
    10043: TickSizeError,
    11029: InvalidParamsError,
    11049: InvalidParamsError,
    11050: InvalidParamsError,
    13010: InvalidParamsError,
    13020: NotFoundError,
    10004: NotFoundError,
    10020: NotFoundError,
    11044: OrderNotOpenError,
    10010: OrderNotOpenError,
    11008: OrderNotOpenError,
    11054: OrderRejectedError,
    11030: OrderRejectedError,
    10003: OrderRejectedError,
    10005: OrderRejectedError,
    10006: OrderRejectedError,
    10007: OrderRejectedError,
    10012: OrderRejectedError,
    10019: OrderRejectedError,
    13032: OrderRejectedError,
    13888: OrderRejectedError,
}

#: Errors after which the same read may be sent again once the back-off has passed.
RETRYABLE_READ_ERRORS: tuple[type[DeribitError], ...] = (
    RateLimitError,
    SettlementInProgressError,
    MaintenanceError,
    ExchangeUnavailableError,
)


def error_from_response(
    error: dict[str, Any], *, method: str = "", http_status: int | None = None
) -> DeribitError:
    """Build the typed exception for a JSON-RPC `error` object returned by Deribit."""
    code = int(error.get("code", 10001))
    message = str(error.get("message", "error"))
    data = error.get("data")
    cls = _CODE_TO_CLASS.get(code, DeribitError)
    if cls is InvalidParamsError and isinstance(data, dict) and data.get("param") == "price":
        reason = str(data.get("reason", ""))
        if "tick" in reason:
            cls = TickSizeError
    return cls(message, code=code, data=data, method=method, http_status=http_status)

"""Private reads of the account's own state: summary, positions, orders, fills and margins."""

from __future__ import annotations

from decimal import Decimal

from trading.deribit.client.session import RpcSession
from trading.deribit.models import AccountSummary, Margins, Order, Position, UserTradesPage
from trading.deribit.rpc import _ACCOUNT, _MARGINS, _ORDER, _ORDERS, _POSITIONS, _USER_TRADES


class PrivateReads(RpcSession):
    """The `private/get_*` reads: they need a token and are retried like every read."""

    def get_account_summary(self, currency: str, *, extended: bool = False) -> AccountSummary:
        """Balance, equity, margin and portfolio greeks of one currency."""
        params = {"currency": currency, "extended": extended}
        return self._typed(_ACCOUNT, "private/get_account_summary", params)

    def get_positions(self, currency: str, kind: str | None = None) -> list[Position]:
        """Open positions of a currency (optionally one kind)."""
        params = {"currency": currency, "kind": kind}
        return self._typed(_POSITIONS, "private/get_positions", params)

    def get_open_orders_by_currency(
        self, currency: str, kind: str | None = None, type: str = "all"
    ) -> list[Order]:
        """Open orders of a currency."""
        params = {"currency": currency, "kind": kind, "type": type}
        return self._typed(_ORDERS, "private/get_open_orders_by_currency", params)

    def get_order_state(self, order_id: str) -> Order:
        """State of one order, open or closed."""
        return self._typed(_ORDER, "private/get_order_state", {"order_id": order_id})

    def get_order_state_by_label(self, currency: str, label: str) -> list[Order]:
        """Every order carrying `label`: how an unknown outcome is resolved."""
        params = {"currency": currency, "label": label}
        return self._typed(_ORDERS, "private/get_order_state_by_label", params)

    def get_user_trades_by_currency(
        self,
        currency: str,
        kind: str | None = None,
        *,
        count: int = 10,
        sorting: str = "default",
        start_timestamp: int | None = None,
        end_timestamp: int | None = None,
    ) -> UserTradesPage:
        """Your recent fills in a currency."""
        params = {
            "currency": currency,
            "kind": kind,
            "count": count,
            "sorting": sorting,
            "start_timestamp": start_timestamp,
            "end_timestamp": end_timestamp,
        }
        return self._typed(_USER_TRADES, "private/get_user_trades_by_currency", params)

    def get_margins(self, instrument_name: str, amount: Decimal, price: Decimal) -> Margins:
        """Margin needed to buy or sell `amount` at `price`, and the current price band."""
        params = {"instrument_name": instrument_name, "amount": amount, "price": price}
        return self._typed(_MARGINS, "private/get_margins", params)

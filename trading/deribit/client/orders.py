"""Order-changing calls (buy, sell, edit, cancel, close) and the labels that resolve them.

Each is sent exactly once: when its reply is lost it raises `UnknownOutcomeError` carrying the
order label, and the caller resolves the order with `get_order_state_by_label`.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any, cast

from trading.deribit.client.session import RpcSession
from trading.deribit.models import Order, OrderResult
from trading.deribit.rpc import _ORDER, _ORDER_RESULT


class OrderCalls(RpcSession):
    """The `private/*` calls that create or change orders: sent once, never retried."""

    def buy(self, instrument_name: str, amount: Decimal, **order: Any) -> OrderResult:
        """Place a buy order; see `place_order` for the options."""
        return self.place_order("buy", instrument_name, amount, **order)

    def sell(self, instrument_name: str, amount: Decimal, **order: Any) -> OrderResult:
        """Place a sell order; see `place_order` for the options."""
        return self.place_order("sell", instrument_name, amount, **order)

    def place_order(
        self,
        direction: str,
        instrument_name: str,
        amount: Decimal,
        *,
        price: Decimal | None = None,
        type: str = "limit",
        label: str | None = None,
        time_in_force: str = "good_til_cancelled",
        post_only: bool = False,
        reject_post_only: bool = False,
        reduce_only: bool = False,
    ) -> OrderResult:
        """Send a buy or sell once. Without a label one is generated, so a lost reply can be
        resolved with `get_order_state_by_label`; the label travels on `UnknownOutcomeError`."""
        if direction not in ("buy", "sell"):
            raise ValueError(f"direction must be buy or sell, not {direction!r}")
        label = label or new_order_label()
        params: dict[str, Any] = {
            "instrument_name": instrument_name,
            "amount": amount,
            "type": type,
            "price": price,
            "label": label,
            "time_in_force": time_in_force,
            "post_only": post_only or None,
            "reject_post_only": reject_post_only or None,
            "reduce_only": reduce_only or None,
        }
        result = self._send_order_changing(
            f"private/{direction}", params, label=label, reply=_ORDER_RESULT.adapter
        )
        return cast(OrderResult, result)

    def edit(
        self,
        order_id: str,
        amount: Decimal,
        price: Decimal,
        *,
        post_only: bool = False,
        reduce_only: bool = False,
    ) -> OrderResult:
        """Change the amount and price of an open order (sent once)."""
        params: dict[str, Any] = {
            "order_id": order_id,
            "amount": amount,
            "price": price,
            "post_only": post_only or None,
            "reduce_only": reduce_only or None,
        }
        result = self._send_order_changing(
            "private/edit", params, order_id=order_id, reply=_ORDER_RESULT.adapter
        )
        return cast(OrderResult, result)

    def cancel(self, order_id: str) -> Order:
        """Cancel one order; 11044 `not_open_order` if it is already closed."""
        result = self._send_order_changing(
            "private/cancel", {"order_id": order_id}, order_id=order_id, reply=_ORDER.adapter
        )
        return cast(Order, result)

    def cancel_all(self) -> int:
        """Cancel every open order of the account; returns how many were cancelled."""
        return int(self._send_order_changing("private/cancel_all", {}))

    def cancel_by_label(self, label: str, currency: str | None = None) -> int:
        """Cancel every open order carrying `label`; returns how many were cancelled."""
        params = {"label": label, "currency": currency}
        return int(self._send_order_changing("private/cancel_by_label", params, label=label))

    def close_position(
        self, instrument_name: str, type: str = "market", price: Decimal | None = None
    ) -> OrderResult:
        """Close a position with a reduce-only market or limit order (sent once)."""
        params = {"instrument_name": instrument_name, "type": type, "price": price}
        result = self._send_order_changing(
            "private/close_position", params, reply=_ORDER_RESULT.adapter
        )
        return cast(OrderResult, result)


def new_order_label(prefix: str = "od") -> str:
    """A unique order label (<= 64 chars) for resolving unknown outcomes."""
    return f"{prefix}-{uuid.uuid4().hex[:20]}"

"""Typed, synchronous JSON-RPC v2 client for Deribit over HTTP (sim, testnet or mainnet).

Every request is a JSON-RPC POST; reads are retried with back-off, order-changing calls are sent
exactly once and a lost reply becomes `UnknownOutcomeError` carrying the order label, which the
caller resolves with `get_order_state_by_label`. A client-side `CreditLimiter` paces requests.

What lives where:
- `facade`: `DeribitClient`, the one class callers use, built from the families below.
- `session`: `RpcSession`, the connection they share: transport, reply parsing, read retries,
  send-once for orders, OAuth tokens and credit pacing.
- `public`: `PublicReads`, market data (instruments, chain, tickers, books, index, volatility).
- `private_reads`: `PrivateReads`, the account's state (summary, positions, orders, fills).
- `orders`: `OrderCalls` (buy, sell, edit, cancel, close) and `new_order_label`.

Reply envelopes, `RetryPolicy`, URLs and redaction live in `trading.deribit.rpc`.
"""

from __future__ import annotations

from trading.deribit.client.facade import DeribitClient
from trading.deribit.client.orders import new_order_label
from trading.deribit.rpc import RetryPolicy, redact_params

__all__ = ["DeribitClient", "RetryPolicy", "new_order_label", "redact_params"]

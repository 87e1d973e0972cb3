"""`DeribitClient`, the one class callers use, assembled from the client's method families."""

from __future__ import annotations

from trading.deribit.client.orders import OrderCalls
from trading.deribit.client.private_reads import PrivateReads
from trading.deribit.client.public import PublicReads


class DeribitClient(PublicReads, PrivateReads, OrderCalls):
    """Deribit JSON-RPC client: typed public and private methods, auth, retries, pacing."""

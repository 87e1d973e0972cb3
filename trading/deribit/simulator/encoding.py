"""JSON encoding of the simulated exchange's replies, with pre-encoded (cached) results.

The full option chain is the heaviest reply (about 700 rows); it only changes when the market
steps or a trade prints, so `get_book_summary_by_currency` caches it already serialised and the
HTTP layer splices those bytes into each envelope.
"""

from __future__ import annotations

import json
from typing import Any


def dumps(value: Any) -> bytes:
    """Compact JSON; NaN and infinities are refused (they are not JSON)."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()


class EncodedResult:
    """A method result together with its JSON text, encoded once on first use."""

    __slots__ = ("_json", "value")

    def __init__(self, value: Any) -> None:
        self.value = value
        self._json: bytes | None = None

    def json_bytes(self) -> bytes:
        """The result as JSON (cached)."""
        if self._json is None:
            self._json = dumps(self.value)
        return self._json


def plain(result: Any) -> Any:
    """The Python value of a result, whether pre-encoded or not."""
    return result.value if isinstance(result, EncodedResult) else result


def envelope_bytes(envelope: dict[str, Any], result: Any) -> bytes:
    """A JSON-RPC envelope with `result` appended (pre-encoded results are spliced in)."""
    head = dumps(envelope)
    body = result.json_bytes() if isinstance(result, EncodedResult) else dumps(result)
    return head[:-1] + b',"result":' + body + b"}"

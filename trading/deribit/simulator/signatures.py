"""Deribit's HMAC signature authentication, as the simulated exchange checks it.

Two forms, both HMAC-SHA256 with the key's secret, hex-encoded:

* the HTTP header `Authorization: deri-hmac-sha256 id=<ClientId>,ts=<ms>,sig=<hex>,nonce=<n>`
  signs `ts\\nnonce\\nMETHOD\\nURI\\nBODY\\n` (URI = path and query string as sent, BODY the raw
  request body, empty for a GET);
* `public/auth` with `grant_type=client_signature` signs `timestamp\\nnonce\\ndata`.

A timestamp more than `SIGNATURE_WINDOW_MS` away from the exchange's wall clock is stale, and a
`(client_id, timestamp, nonce)` seen before inside that window is a replay: both are refused
(13009 `unauthorized`, with the reason in `data`).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from trading.deribit.errors import AuthError

#: How far (ms) a signed timestamp may be from the exchange's clock (Deribit: 60 s).
SIGNATURE_WINDOW_MS = 60_000
HMAC_SCHEME = "deri-hmac-sha256"


@dataclass(frozen=True)
class SignedRequest:
    """What an HTTP signature covers: the request line and body as the server received them."""

    method: str
    uri: str
    body: bytes = b""

    def payload(self) -> str:
        """`METHOD\\nURI\\nBODY\\n`: the request part of the signed string."""
        return f"{self.method.upper()}\n{self.uri}\n{self.body.decode(errors='replace')}\n"


@dataclass(frozen=True)
class HmacCredential:
    """The fields of a `deri-hmac-sha256` Authorization header."""

    client_id: str
    timestamp_ms: int
    signature: str
    nonce: str


def signature_of(secret: str, timestamp_ms: int, nonce: str, data: str) -> str:
    """Hex HMAC-SHA256 of `timestamp\\nnonce\\ndata` under `secret`."""
    message = f"{timestamp_ms}\n{nonce}\n{data}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def unauthorized(reason: str) -> AuthError:
    """13009 with the reason a signature was refused (HTTP 401)."""
    return AuthError("unauthorized", code=13009, data={"reason": reason}, http_status=401)


def parse_hmac_header(credential: str) -> HmacCredential:
    """Fields of the header value after the scheme; 13009 when one is missing or malformed."""
    fields: dict[str, str] = {}
    for part in credential.split(","):
        key, _, value = part.strip().partition("=")
        fields[key.strip()] = value.strip()
    try:
        return HmacCredential(
            client_id=fields["id"],
            timestamp_ms=int(fields["ts"]),
            signature=fields["sig"].lower(),
            nonce=fields.get("nonce", ""),
        )
    except (KeyError, ValueError):
        raise unauthorized("malformed deri-hmac-sha256 header") from None


class NonceGuard:
    """Refuses stale timestamps and (client_id, timestamp, nonce) triples seen before."""

    def __init__(self, window_ms: int = SIGNATURE_WINDOW_MS) -> None:
        self.window_ms = window_ms
        self._seen: dict[tuple[str, int, str], int] = {}

    def check(self, client_id: str, timestamp_ms: int, nonce: str, now_ms: int) -> None:
        """Accept a signed request once; raises 13009 for a stale timestamp or a replay."""
        if abs(now_ms - timestamp_ms) > self.window_ms:
            raise unauthorized("stale timestamp")
        if len(self._seen) > 10_000:
            horizon = now_ms - self.window_ms
            self._seen = {k: ts for k, ts in self._seen.items() if ts >= horizon}
        key = (client_id, timestamp_ms, nonce)
        if key in self._seen:
            raise unauthorized("nonce already used")
        self._seen[key] = timestamp_ms

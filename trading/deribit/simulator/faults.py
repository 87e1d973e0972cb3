"""Fault injection for the simulated exchange: latency, timeouts, lost replies, 10028, 10041, 5xx.

Faults are rules consumed in order by the requests they match. Tests set them in-process
(`exchange.faults.inject("drop_reply", methods=["private/sell"])`) or over HTTP through the
control endpoint `POST /_sim/faults` with the same fields as JSON.
"""

from __future__ import annotations

import fnmatch
import threading
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FaultKind = Literal[
    "latency",  # wait latency_s, then answer normally
    "timeout",  # sit for hang_s without acting, then answer 504 (the client has given up)
    "drop_reply",  # act on the request (e.g. place the order), then lose the reply
    "rate_limit",  # answer 10028 too_many_requests and end the session (tokens revoked)
    "settlement",  # answer 10041 settlement_in_progress
    "http_5xx",  # answer an HTML 5xx page from a "gateway", without acting
    "malformed_json",  # act, then answer HTTP 200 with a truncated JSON body
    "error",  # answer the Deribit error `code` / `message` without acting
    # WebSocket faults (`/ws/api/v2`); they match only the pseudo-methods `ws/...`
    "ws_disconnect",  # the server drops the socket (no close handshake reason)
    "heartbeat_miss",  # the server goes silent for hang_s: no heartbeats, notifications, replies
    "ws_drop_notification",  # one notification is lost (a book's change_id gap shows it)
]
WS_FAULT_KINDS = frozenset({"ws_disconnect", "heartbeat_miss", "ws_drop_notification"})


class FaultRule(BaseModel):
    """One injected fault: what happens, to which methods, how many times."""

    model_config = ConfigDict(frozen=True)

    kind: FaultKind
    count: int | None = Field(default=1, ge=1, description="None: until cleared")
    methods: tuple[str, ...] = Field(default=(), description="glob patterns; empty: all")
    latency_s: float = Field(default=0.0, ge=0)
    hang_s: float = Field(default=5.0, ge=0)
    status: int = Field(default=503, ge=500, le=599)
    code: int = 10001
    message: str = "error"

    def matches(self, method: str) -> bool:
        """True when this rule applies to a JSON-RPC method such as `private/sell`.

        WebSocket faults apply only to `ws/...` pseudo-methods, and the others never do.
        """
        if (self.kind in WS_FAULT_KINDS) != method.startswith("ws/"):
            return False
        return not self.methods or any(fnmatch.fnmatchcase(method, p) for p in self.methods)


class FaultInjector:
    """Thread-safe list of pending fault rules."""

    def __init__(self) -> None:
        self._rules: list[tuple[FaultRule, int | None]] = []
        self._lock = threading.Lock()
        self.fired: list[tuple[str, str]] = []

    def add(self, rule: FaultRule) -> FaultRule:
        """Queue a rule; it fires on the next `count` requests it matches."""
        with self._lock:
            self._rules.append((rule, rule.count))
        return rule

    def inject(self, kind: FaultKind, **fields: object) -> FaultRule:
        """Queue a rule built from keyword fields (see `FaultRule`)."""
        return self.add(FaultRule.model_validate({"kind": kind, **fields}))

    def clear(self) -> None:
        """Remove every pending rule."""
        with self._lock:
            self._rules.clear()

    def pending(self) -> list[FaultRule]:
        """Rules that can still fire."""
        with self._lock:
            return [rule for rule, _ in self._rules]

    def take_kind(self, kind: FaultKind, method: str) -> FaultRule | None:
        """The first rule of `kind` firing for `method` (one use consumed), if any."""
        with self._lock:
            for position, (rule, left) in enumerate(self._rules):
                if rule.kind != kind or not rule.matches(method):
                    continue
                self.fired.append((rule.kind, method))
                if left is not None and left <= 1:
                    del self._rules[position]
                else:
                    self._rules[position] = (rule, None if left is None else left - 1)
                return rule
        return None

    def take(self, method: str) -> list[FaultRule]:
        """The rules firing for this request, consuming one use of each."""
        fired: list[FaultRule] = []
        with self._lock:
            kept: list[tuple[FaultRule, int | None]] = []
            for rule, left in self._rules:
                if rule.matches(method) and not any(f.kind == rule.kind for f in fired):
                    fired.append(rule)
                    self.fired.append((rule.kind, method))
                    if left is not None:
                        left -= 1
                        if left <= 0:
                            continue
                kept.append((rule, left))
            self._rules = kept
        return fired

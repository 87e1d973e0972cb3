"""One read of each singleton row per request: GET pages and API reads load the agent's status
and controls rows several times (status card, header badges, clocks, P&L), each a query and a
JSON decode. Inside `read_memo()` (every safe-method request, `ReadMemoMiddleware`) the first
load is kept for the rest of the request; outside it (ticks, services, writes) every load reads
the database as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse

T = TypeVar("T")
_MEMO: ContextVar[dict[str, Any] | None] = ContextVar("optionsdesk_read_memo", default=None)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@contextmanager
def read_memo() -> Iterator[None]:
    """Keep what `memoized` loads until the block ends."""
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)


def memo_active() -> bool:
    """True inside a `read_memo()` block (a read request)."""
    return _MEMO.get() is not None


def memoized(key: str, load: Callable[[], T]) -> T:
    """`load()` once per `read_memo()` block under `key`; every time outside one."""
    memo = _MEMO.get()
    if memo is None:
        return load()
    if key not in memo:
        memo[key] = load()
    return memo[key]


class ReadMemoMiddleware:
    """Run each GET/HEAD/OPTIONS request inside `read_memo()` (a read never changes the rows
    it memoizes; writes read fresh)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        """The response, with singleton loads memoized for safe methods."""
        if request.method not in SAFE_METHODS:
            return self.get_response(request)
        with read_memo():
            return self.get_response(request)

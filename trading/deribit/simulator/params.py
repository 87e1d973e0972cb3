"""Typed access to JSON-RPC params as Deribit accepts them (query-string text or JSON values)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from trading.deribit.errors import InvalidParamsError

_MISSING = object()


def _invalid(name: str, reason: str) -> InvalidParamsError:
    return InvalidParamsError(data={"param": name, "reason": reason})


class Params:
    """Read-only params of one request; getters raise -32602 naming the bad parameter."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    def has(self, name: str) -> bool:
        """True when the param was sent (and is not null)."""
        return self.raw.get(name) is not None

    def _get(self, name: str, default: Any) -> Any:
        value = self.raw.get(name)
        if value is None:
            if default is _MISSING:
                raise _invalid(name, "value required")
            return default
        return value

    def text(self, name: str, default: Any = _MISSING) -> Any:
        """A string param."""
        value = self._get(name, default)
        return value if value is default else str(value)

    def choice(self, name: str, allowed: tuple[str, ...], default: Any = _MISSING) -> Any:
        """A string param restricted to `allowed`."""
        value = self.text(name, default)
        if value is not default and value not in allowed:
            raise _invalid(name, f"must be one of {', '.join(allowed)}")
        return value

    def integer(self, name: str, default: Any = _MISSING) -> Any:
        """An integer param."""
        value = self._get(name, default)
        if value is default:
            return value
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise _invalid(name, "must be an integer") from exc

    def number(self, name: str, default: Any = _MISSING) -> Any:
        """A number param as Decimal (exact for both query text and JSON numbers)."""
        value = self._get(name, default)
        if value is default:
            return value
        if isinstance(value, bool):
            raise _invalid(name, "must be a number")
        try:
            number = Decimal(value if isinstance(value, str) else repr(value))
        except (InvalidOperation, TypeError, ValueError) as exc:
            raise _invalid(name, "must be a number") from exc
        if not number.is_finite():
            raise _invalid(name, "must be a finite number")
        return number

    def flag(self, name: str, default: Any = _MISSING) -> Any:
        """A boolean param (`true`/`false` in query strings)."""
        value = self._get(name, default)
        if isinstance(value, bool) or value is default:
            return value
        text = str(value).lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise _invalid(name, "must be true or false")

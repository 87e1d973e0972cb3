"""The API's JSON parser: DRF's, refusing bodies nested too deeply to handle (a 400, not a 500).

Its own module (not `errors`): DRF imports the parser classes named in its settings while
`rest_framework.views` is still loading.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, parsers

#: Nesting deeper than this in a JSON body is refused (no payload of the API needs more).
MAX_JSON_DEPTH = 64


def _json_depth(value: Any) -> int:
    """How deeply `value` nests lists and objects (iterative: no recursion of its own)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser that refuses bodies nested deeper than `MAX_JSON_DEPTH` with a 400."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        """Parse, then check the depth; too deep for Python's parser is refused the same way."""
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply") from None
        if _json_depth(data) > MAX_JSON_DEPTH:
            raise exceptions.ParseError(
                f"JSON parse error - nested more than {MAX_JSON_DEPTH} levels"
            )
        return data

"""Pydantic models as API response schemas, in OpenAPI 3.0 terms.

drf-spectacular's pydantic extension hands over pydantic's JSON Schema (2020-12): nullable
fields are `anyOf: [X, {"type": "null"}]`, which OpenAPI 3.0 does not know. This extension
rewrites them as `nullable: true`, tuples (`prefixItems`) as fixed-length arrays, turns
`const` into a one-value `enum`, and wraps a `$ref`
that has siblings (a description) in `allOf`, so a typed read model (for example
`trading.selectors.AgentStatusView`) can be the documented response itself.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.contrib.pydantic import PydanticExtension

_NULL = {"type": "null"}


def openapi30(node: Any) -> Any:
    """A JSON Schema fragment from pydantic, rewritten for OpenAPI 3.0 (recursively)."""
    if isinstance(node, list):
        return [openapi30(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = dict(node)
    for key in ("anyOf", "oneOf"):
        options = out.get(key)
        if isinstance(options, list) and _NULL in options:
            rest = [o for o in options if o != _NULL]
            out.pop(key)
            out["nullable"] = True
            if len(rest) == 1:
                single = rest[0]
                if "$ref" in single:
                    out["allOf"] = [single]
                else:
                    out = {**single, **out}
            else:
                out[key] = rest
    out = {key: openapi30(value) for key, value in out.items()}
    if "prefixItems" in out:  # a fixed-length tuple: 3.0 has only `items`
        prefix = out.pop("prefixItems")
        out["items"] = prefix[0] if all(p == prefix[0] for p in prefix) else {}
        out["minItems"] = out["maxItems"] = len(prefix)
    if "const" in out:
        out["enum"] = [out.pop("const")]
    if "$ref" in out and len(out) > 1:
        out["allOf"] = [{"$ref": out.pop("$ref")}]
    return out


class OpenAPI30PydanticExtension(PydanticExtension):
    """drf-spectacular's pydantic support, with the schema rewritten by `openapi30`."""

    priority = 1

    def map_serializer(self, auto_schema: Any, direction: Any) -> Any:
        """The model's schema; its sub-models registered as components, all in 3.0 terms."""
        registry = auto_schema.registry
        before = set(registry._components)
        schema = openapi30(super().map_serializer(auto_schema, direction))
        for key in set(registry._components) - before:
            component = registry._components[key]
            component.schema = openapi30(component.schema)
        return schema

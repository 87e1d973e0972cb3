"""OpenAPI schema post-processing: the error responses drf-spectacular does not infer."""

from __future__ import annotations

import re
from typing import Any

ERROR_REF = {"$ref": "#/components/schemas/Error"}

#: The envelope built by `optionsdesk.api.errors.exception_handler`.
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every API error, whatever its status.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {
                    "type": "string",
                    "description": "stable machine code, e.g. invalid, not_authenticated, "
                    "not_found, throttled",
                },
                "message": {"type": "string", "description": "human-readable summary"},
                "details": {
                    "type": "object",
                    "additionalProperties": True,
                    "description": "field errors for `invalid` (field -> messages), else {}",
                },
                "status": {"type": "integer", "description": "the HTTP status, repeated"},
            },
            "required": ["code", "message", "details", "status"],
        }
    },
    "required": ["error"],
}

#: drf-spectacular's pattern for a `DecimalField`: every part optional, so "", "-" and "."
#: match it although DRF refuses them.
_DECIMAL_PATTERN = re.compile(r"^\^-\?\\d\{0,(\d+)\}\(\?:\\.\\d\{0,(\d+)\}\)\?\$$")


def _decimal_pattern(pattern: str) -> str:
    """A decimal's pattern that needs a digit, as DRF does (`12`, `12.`, `.5`, `-1.25`)."""
    match = _DECIMAL_PATTERN.match(pattern)
    if match is None or match.group(1) == "0":
        return pattern
    whole, places = match.groups()
    if places == "0":
        return rf"^-?\d{{1,{whole}}}\.?$"
    return rf"^-?(?:\d{{1,{whole}}}(?:\.\d{{0,{places}}})?|\.\d{{1,{places}}})$"


def _decimals_need_a_digit(node: Any) -> Any:
    """The schema with every decimal pattern made to need a digit."""
    if isinstance(node, list):
        return [_decimals_need_a_digit(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _decimals_need_a_digit(value) for key, value in node.items()}
    if out.get("format") == "decimal" and isinstance(out.get("pattern"), str):
        out["pattern"] = _decimal_pattern(out["pattern"])
    return out


#: Django and DRF refuse a NUL character in any text they parse ("Null characters are not
#: allowed."), in query strings and bodies alike; the schema says so on every text it accepts.
NO_NUL_PATTERN = r"^[^\x00]*$"


def _text_refuses_nul(node: Any) -> Any:
    """A request-side schema with `NO_NUL_PATTERN` on every free text (no pattern, enum or
    format of its own), nested objects and arrays included."""
    if isinstance(node, list):
        return [_text_refuses_nul(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _text_refuses_nul(value) for key, value in node.items()}
    free = not any(key in out for key in ("pattern", "enum", "format", "$ref"))
    if out.get("type") == "string" and free:
        out["pattern"] = NO_NUL_PATTERN
    return out


def _request_side(operation: dict[str, Any]) -> dict[str, Any]:
    """The operation with its parameters' and inline request bodies' texts refusing NUL."""
    out = dict(operation)
    if "parameters" in out:
        out["parameters"] = [
            {**p, "schema": _text_refuses_nul(p["schema"])} if "schema" in p else p
            for p in out["parameters"]
        ]
    if "requestBody" in out:
        out["requestBody"] = _text_refuses_nul(out["requestBody"])
    return out


_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
_PATH_PARAMETER = re.compile(r"\{[^}]+\}")


def _error_statuses(path: str, operation: dict[str, Any], default_security: list[Any]) -> list[str]:
    """The error statuses an operation can answer: 400 for input, 401/403 for a login or role,
    404 for an id or a page, 413/415 for a body too large or not JSON.

    A security list holding `{}` means anonymous calls are allowed (e.g. `/health`), so no 401.
    """
    statuses = []
    parameters = operation.get("parameters", [])
    if "requestBody" in operation or any(p.get("in") == "query" for p in parameters):
        statuses.append("400")
    security = operation.get("security", default_security)
    if security and {} not in security:
        statuses.extend(("401", "403"))
    if _PATH_PARAMETER.search(path) or any(p.get("name") == "page" for p in parameters):
        statuses.append("404")
    if "requestBody" in operation:
        statuses.extend(("413", "415"))
    return statuses


def _error_response(status: str) -> dict[str, Any]:
    descriptions = {
        "400": "Invalid input; field errors in `error.details` (code `invalid`).",
        "401": "Not logged in: no or a bad token (code `not_authenticated` or "
        "`authentication_failed`).",
        "403": "Logged in but without the role this needs (code `permission_denied`; "
        "docs/roles.md).",
        "404": "No such object, or a page past the last one (code `not_found`).",
        "413": "Body larger than DATA_UPLOAD_MAX_MEMORY_SIZE (code `request_too_large`).",
        "415": "Body not JSON (code `unsupported_media_type`).",
    }
    return {
        "description": descriptions[status],
        "content": {"application/json": {"schema": ERROR_REF}},
    }


def _with_envelope(status: str, response: dict[str, Any]) -> dict[str, Any]:
    """A declared error status without a body (e.g. the chat's 429) gets the envelope."""
    if not status.isdigit() or int(status) < 400 or "content" in response:
        return response
    return {**response, "content": {"application/json": {"schema": ERROR_REF}}}


def add_error_responses(
    result: dict[str, Any], generator: Any = None, request: Any = None, public: bool = True
) -> dict[str, Any]:
    """Return the schema with the `Error` component and each operation's error responses.

    drf-spectacular documents only what a view declares, so clients would not know that every
    error comes in one envelope. Responses a view declares itself (e.g. `/health`'s 503) win;
    a declared error status with no body of its own (the chat's 429) is given the envelope.
    The input is not modified; `generator`, `request` and `public` are the hook's signature.
    """
    schemas = result.get("components", {}).get("schemas", {})
    if schemas.get("Error", ERROR_SCHEMA) != ERROR_SCHEMA:
        raise ValueError("a component named Error already exists; rename it")
    default_security = result.get("security", [])
    paths: dict[str, Any] = {}
    for path, item in result.get("paths", {}).items():
        paths[path] = {}
        for method, operation in item.items():
            if method in _METHODS:
                declared = {
                    status: _with_envelope(status, response)
                    for status, response in operation.get("responses", {}).items()
                }
                errors = {
                    status: _error_response(status)
                    for status in _error_statuses(path, operation, default_security)
                    if status not in declared
                }
                operation = {**_request_side(operation), "responses": {**declared, **errors}}
            paths[path][method] = operation
    components = _decimals_need_a_digit(result.get("components", {}))
    schemas = {
        name: _text_refuses_nul(schema) if name.endswith("Request") else schema
        for name, schema in components.get("schemas", {}).items()
    }
    return {
        **result,
        "paths": paths,
        "components": {**components, "schemas": {**schemas, "Error": ERROR_SCHEMA}},
    }

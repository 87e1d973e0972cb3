"""Contract test: every method the client uses, asked of the simulator, validated against the
response schemas of Deribit's own OpenAPI spec (`../shared/reference/deribit/deribit_openapi.json`).

The spec is stricter than the real exchange in a few known places (listed in the reference
README, "Known places where the schemas are stricter than the real exchange"). Each is
tolerated below by name, on the named fields only; any other violation fails the test.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from tests.trading.deribit.conftest import CLIENT_ID, CLIENT_SECRET, make_exchange
from trading.deribit.simulator import SimulatedExchange, exchange_transport

# README: "numbers that are absent come back as null (bid_price, high, low, continuation,
# referrer_id, ...)". These are the absent-number fields the simulator can emit as null.
NULLABLE_NUMBERS = frozenset(
    {
        "bid_price",
        "ask_price",
        "mid_price",
        "last",
        "last_price",
        "high",
        "low",
        "price_change",
        "continuation",
        "referrer_id",
        "estimated_liquidation_price",
        "matching_id",  # README 4.5: "matching_id (always null)"
    }
)


@dataclass(frozen=True)
class Tolerance:
    """A known defect of the schema, tolerated only where `applies` says so."""

    name: str
    applies: Callable[[str, jsonschema.ValidationError], bool]


def _field(error: jsonschema.ValidationError) -> str:
    path = [p for p in error.absolute_path if isinstance(p, str)]
    return path[-1] if path else ""


TOLERANCES = (
    Tolerance(
        "README: absent numbers come back as null",
        lambda method, e: (
            e.validator == "type" and e.instance is None and _field(e) in NULLABLE_NUMBERS
        ),
    ),
    Tolerance(
        "README: tick_size_steps is a list of {above_price, tick_size}",
        lambda method, e: (
            _field(e) == "tick_size_steps"
            and e.validator == "type"
            and isinstance(e.instance, list)
        ),
    ),
    Tolerance(
        "README: get_historical_volatility returns [timestamp_ms, value] pairs",
        lambda method, e: (
            method == "public/get_historical_volatility"
            and e.validator == "type"
            and isinstance(e.instance, list)
            and len(e.instance) == 2
        ),
    ),
    Tolerance(
        "README 3.1: quote_currency of inverse options is the coin (spec enum says only USD)",
        lambda method, e: (
            _field(e) == "quote_currency" and e.validator == "enum" and e.instance in ("BTC", "ETH")
        ),
    ),
    Tolerance(
        "README 3.1: settlement_period 'day' is seen on real daily options",
        lambda method, e: (
            _field(e) == "settlement_period" and e.validator == "enum" and e.instance == "day"
        ),
    ),
    Tolerance(
        "README 3.3: underlying_index is a string (the spec wrongly says number)",
        lambda method, e: (
            _field(e) == "underlying_index"
            and e.validator == "type"
            and isinstance(e.instance, str)
        ),
    ),
    Tolerance(
        "spec examples: a user trade's post_only/reduce_only are booleans (schema says string)",
        lambda method, e: (
            _field(e) in ("post_only", "reduce_only")
            and e.validator == "type"
            and isinstance(e.instance, bool)
        ),
    ),
)


@pytest.fixture(scope="module")
def openapi(shared_dir: Path) -> dict[str, Any]:
    """Deribit's OpenAPI document (schemas only; examples live in the other copy)."""
    path = shared_dir / "reference" / "deribit" / "deribit_openapi.json"
    if not path.exists():
        pytest.skip(f"Deribit OpenAPI spec not found at {path}")
    return dict(json.loads(path.read_text()))


def response_schema(openapi: dict[str, Any], method: str) -> dict[str, Any]:
    """The 200-response JSON schema of `method`, with the components it refers to."""
    ref = openapi["paths"][f"/{method}"]["get"]["responses"]["200"]["$ref"]
    response = openapi["components"]["responses"][ref.rsplit("/", 1)[1]]
    schema = response["content"]["application/json"]["schema"]
    return {**schema, "components": openapi["components"]}


def error_schema(openapi: dict[str, Any]) -> dict[str, Any]:
    """Errors follow the real envelope `error: {code, message, data?}` (README 1.3), which is
    the spec's `ErrorResponse`; the paths' `ErrorMessageResponse` (top-level integer `error`)
    contradicts every recorded reply, so it is not used."""
    return {"$ref": "#/components/schemas/ErrorResponse", "components": openapi["components"]}


def violations(schema: dict[str, Any], method: str, payload: Any) -> list[str]:
    """Schema violations that no named tolerance covers."""
    validator = jsonschema.Draft7Validator(schema)
    left = []
    for error in validator.iter_errors(payload):
        if not any(t.applies(method, error) for t in TOLERANCES):
            left.append(f"{list(error.absolute_path)}: {error.message}")
    return left


class Raw:
    """Minimal JSON-RPC caller returning raw replies (status, body)."""

    def __init__(self, exchange: SimulatedExchange) -> None:
        self.http = httpx.Client(transport=exchange_transport(exchange), timeout=10)
        self.token = ""
        self.ids = iter(range(1, 10_000))

    def call(self, method: str, params: dict[str, Any] | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        body = {"jsonrpc": "2.0", "id": next(self.ids), "method": method, "params": params or {}}
        reply = self.http.post(f"http://sim/api/v2/{method}", json=body, headers=headers)
        return reply.status_code, reply.json()

    def get(self, method: str, query: dict[str, str]) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        reply = self.http.get(f"http://sim/api/v2/{method}", params=query, headers=headers)
        return reply.status_code, reply.json()


@pytest.fixture(scope="module")
def raw() -> Iterator[Raw]:
    """An authenticated raw caller with a resting order, a fill and an open position."""
    caller = Raw(make_exchange())
    status, auth = caller.call(
        "public/auth",
        {
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    assert status == 200
    caller.token = auth["result"]["access_token"]
    yield caller
    caller.http.close()


@pytest.fixture(scope="module")
def call_name(raw: Raw) -> str:
    """A listed BTC call (first 19DEC25 call above spot)."""
    _, reply = raw.call("public/get_instruments", {"currency": "BTC", "kind": "option"})
    calls = [
        r
        for r in reply["result"]
        if r["option_type"] == "call" and "19DEC25" in r["instrument_name"]
    ]
    return str(sorted(calls, key=lambda r: r["strike"])[len(calls) // 2]["instrument_name"])


@pytest.fixture(scope="module")
def trading_state(raw: Raw, call_name: str) -> dict[str, str]:
    """A filled sell (position), a resting order with a label, ids to query."""
    _, book = raw.call("public/ticker", {"instrument_name": call_name})
    bid = book["result"]["best_bid_price"]
    _, filled = raw.call(
        "private/sell",
        {"instrument_name": call_name, "amount": 0.2, "price": bid, "label": "contract-fill"},
    )
    _, resting = raw.call(
        "private/sell",
        {"instrument_name": call_name, "amount": 0.1, "price": 0.0145, "label": "contract-rest"},
    )
    return {
        "filled_id": filled["result"]["order"]["order_id"],
        "resting_id": resting["result"]["order"]["order_id"],
    }


def _success_cases(call: str, state: dict[str, str], now: int) -> list[tuple[str, dict[str, Any]]]:
    day = 86_400_000
    return [
        ("public/get_time", {}),
        ("public/get_instruments", {"currency": "BTC", "kind": "option"}),
        ("public/get_instruments", {"currency": "ETH"}),
        ("public/get_book_summary_by_currency", {"currency": "BTC", "kind": "option"}),
        ("public/get_book_summary_by_currency", {"currency": "ETH", "kind": "future"}),
        ("public/get_book_summary_by_instrument", {"instrument_name": call}),
        ("public/ticker", {"instrument_name": call}),
        ("public/ticker", {"instrument_name": "BTC-PERPETUAL"}),
        ("public/get_order_book", {"instrument_name": call, "depth": 10}),
        ("public/get_index_price", {"index_name": "btc_usd"}),
        ("public/get_historical_volatility", {"currency": "BTC"}),
        (
            "public/get_volatility_index_data",
            {
                "currency": "BTC",
                "start_timestamp": now - day,
                "end_timestamp": now,
                "resolution": "3600",
            },
        ),
        (
            "public/get_tradingview_chart_data",
            {
                "instrument_name": call,
                "start_timestamp": now - day,
                "end_timestamp": now,
                "resolution": "60",
            },
        ),
        (
            "public/get_tradingview_chart_data",
            {
                "instrument_name": "BTC-PERPETUAL",
                "start_timestamp": now - day,
                "end_timestamp": now,
                "resolution": "1D",
            },
        ),
        (
            "public/get_last_trades_by_currency_and_time",
            {
                "currency": "BTC",
                "kind": "option",
                "start_timestamp": now - day,
                "end_timestamp": now,
            },
        ),
        ("public/get_delivery_prices", {"index_name": "btc_usd", "count": 5}),
        (
            "public/get_funding_rate_history",
            {
                "instrument_name": "BTC-PERPETUAL",
                "start_timestamp": now - day,
                "end_timestamp": now,
            },
        ),
        ("private/get_account_summary", {"currency": "BTC"}),
        ("private/get_account_summary", {"currency": "BTC", "extended": True}),
        ("private/get_positions", {"currency": "BTC"}),
        ("private/get_open_orders_by_currency", {"currency": "BTC"}),
        ("private/get_order_state", {"order_id": state["filled_id"]}),
        ("private/get_order_state_by_label", {"currency": "BTC", "label": "contract-rest"}),
        ("private/get_user_trades_by_currency", {"currency": "BTC", "count": 5}),
        ("private/get_margins", {"instrument_name": call, "amount": 1, "price": 0.01}),
        # what third-party client libraries (ccxt) call besides
        ("public/get_currencies", {}),
        ("public/get_instruments", {"kind": "future"}),
        (
            "public/get_funding_rate_value",
            {
                "instrument_name": "BTC-PERPETUAL",
                "start_timestamp": now - day,
                "end_timestamp": now,
            },
        ),
        ("public/get_last_trades_by_instrument", {"instrument_name": call}),
        ("private/get_account_summaries", {}),
        ("private/get_account_summaries", {"extended": True}),
        ("private/get_open_orders_by_instrument", {"instrument_name": call}),
        ("private/get_user_trades_by_instrument", {"instrument_name": call}),
        ("private/get_user_trades_by_order", {"order_id": state["filled_id"]}),
        ("private/get_order_history_by_instrument", {"instrument_name": call}),
        ("private/get_order_history_by_currency", {"currency": "BTC", "include_unfilled": True}),
        ("private/get_settlement_history_by_currency", {"currency": "BTC"}),
        ("private/get_positions", {}),
        ("private/edit", {"order_id": state["resting_id"], "amount": 0.2, "price": 0.0145}),
        (
            "private/buy",
            {"instrument_name": call, "amount": 0.1, "price": 0.0001, "label": "lowball"},
        ),
        ("private/cancel", {"order_id": state["resting_id"]}),
        ("private/cancel_by_label", {"label": "lowball"}),
        ("private/cancel_all", {}),
        ("private/close_position", {"instrument_name": call, "type": "market"}),
        ("private/sell", {"instrument_name": call, "amount": 0.1, "type": "market"}),
    ]


def test_it_answers_every_client_method_within_the_spec_schemas(
    openapi: dict[str, Any], raw: Raw, call_name: str, trading_state: dict[str, str]
) -> None:
    now = raw.call("public/get_time")[1]["result"]
    problems: dict[str, list[str]] = {}
    for method, params in _success_cases(call_name, trading_state, now):
        status, reply = raw.call(method, params)
        assert status == 200, (method, reply)
        assert {"jsonrpc", "id", "result", "usIn", "usOut", "usDiff", "testnet"} <= set(reply)
        assert reply["usDiff"] == reply["usOut"] - reply["usIn"]
        found = violations(response_schema(openapi, method), method, reply)
        if found:
            problems[f"{method} {params}"] = found[:5]
    assert problems == {}


def test_it_answers_auth_within_the_spec_schema(openapi: dict[str, Any], raw: Raw) -> None:
    status, reply = raw.get(
        "public/auth",
        {
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    assert status == 200
    assert "id" not in reply
    assert violations(response_schema(openapi, "public/auth"), "public/auth", reply) == []


def _error_cases(call: str) -> list[tuple[str, dict[str, Any], int, int, bool]]:
    # (method, params, expected code, expected HTTP status, send the token?)
    return [
        ("public/ticker", {"instrument_name": "BTC-1JAN20-1-C"}, 13020, 400, False),
        ("public/get_instruments", {"currency": "DOGE"}, -32602, 400, False),
        ("private/get_positions", {"currency": "BTC"}, 10000, 400, False),
        (
            "public/auth",
            {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "nope"},
            13004,
            400,
            False,
        ),
        (
            "private/sell",
            {"instrument_name": call, "amount": 0.1, "price": 0.00015},
            -32602,
            400,
            True,
        ),
        (
            "private/sell",
            {"instrument_name": call, "amount": 0.15, "price": 0.001},
            -32602,
            400,
            True,
        ),
        ("private/buy", {"instrument_name": call, "amount": 5000, "price": 0.01}, 10009, 400, True),
        ("private/cancel", {"order_id": "999"}, 10004, 400, True),
        ("public/no_such_method", {}, -32601, 400, False),
    ]


def test_it_answers_errors_with_deribit_codes_statuses_and_envelope(
    openapi: dict[str, Any], raw: Raw, call_name: str, trading_state: dict[str, str]
) -> None:
    token = raw.token
    try:
        for method, params, code, http_status, authed in _error_cases(call_name):
            raw.token = token if authed else ""
            status, reply = raw.call(method, params)
            assert (status, reply["error"]["code"]) == (http_status, code), (method, reply)
            assert violations(error_schema(openapi), method, reply) == []
        raw.token = "expired-or-forged"
        status, reply = raw.call("private/get_positions", {"currency": "BTC"})
        assert (status, reply["error"]) == (401, {"code": 13009, "message": "unauthorized"})
    finally:
        raw.token = token


def test_it_answers_closed_order_cancels_with_11044(
    openapi: dict[str, Any], raw: Raw, trading_state: dict[str, str]
) -> None:
    status, reply = raw.call("private/cancel", {"order_id": trading_state["filled_id"]})
    assert (status, reply["error"]) == (400, {"code": 11044, "message": "not_open_order"})
    assert violations(error_schema(openapi), "private/cancel", reply) == []


def test_it_names_the_price_parameter_when_the_tick_is_wrong(raw: Raw, call_name: str) -> None:
    _, reply = raw.call(
        "private/sell", {"instrument_name": call_name, "amount": 0.1, "price": 0.00015}
    )
    assert reply["error"] == {
        "code": -32602,
        "message": "Invalid params",
        "data": {"param": "price", "reason": "must conform to tick size"},
    }


def test_it_rejects_a_tolerance_the_readme_does_not_name(openapi: dict[str, Any]) -> None:
    # The validator must still fail on anything else: a ticker whose mark_price is a string.
    schema = response_schema(openapi, "public/ticker")
    bad = {"jsonrpc": "2.0", "id": 1, "result": {"mark_price": "0.1"}}
    assert violations(schema, "public/ticker", bad) != []

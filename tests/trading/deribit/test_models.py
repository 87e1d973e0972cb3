"""The client's pydantic models parse Deribit's own response examples and keep exact decimals."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from trading.deribit import models as m

EXAMPLE_MODELS: dict[str, Any] = {
    "public/auth": m.AuthResult,
    "public/get_instruments": list[m.Instrument],
    "public/get_book_summary_by_currency": list[m.BookSummary],
    "public/get_book_summary_by_instrument": list[m.BookSummary],
    "public/ticker": m.Ticker,
    "public/get_order_book": m.OrderBook,
    "public/get_historical_volatility": list[m.VolatilityPoint],
    "public/get_volatility_index_data": m.VolatilityIndexData,
    "public/get_tradingview_chart_data": m.TradingViewChartData,
    "public/get_last_trades_by_currency_and_time": m.TradesPage,
    "public/get_delivery_prices": m.DeliveryPrices,
    "public/get_funding_rate_history": list[m.FundingRate],
    "public/get_time": int,
    "private/get_account_summary": m.AccountSummary,
    "private/get_positions": list[m.Position],
    "private/buy": m.OrderResult,
    "private/sell": m.OrderResult,
    "private/edit": m.OrderResult,
    "private/cancel": m.Order,
    "private/cancel_all": int,
    "private/cancel_by_label": int,
    "private/get_open_orders_by_currency": list[m.Order],
    "private/get_order_state": m.Order,
    "private/get_order_state_by_label": list[m.Order],
    "private/get_user_trades_by_currency": m.UserTradesPage,
    "private/close_position": m.OrderResult,
    "private/get_margins": m.Margins,
}


@pytest.fixture(scope="module")
def examples(shared_dir: Path) -> dict[str, Any]:
    """Response examples by method, from the spec copy that carries them."""
    path = shared_dir / "reference" / "deribit" / "deribit_openapi_with_examples.json"
    if not path.exists():
        pytest.skip(f"Deribit spec with examples not found at {path}")
    spec = json.loads(path.read_text())
    found: dict[str, Any] = {}
    for method in EXAMPLE_MODELS:
        response = spec["paths"][f"/{method}"]["get"]["responses"]["200"]
        content = response.get("content") or spec["components"]["responses"][
            response["$ref"].rsplit("/", 1)[1]
        ].get("content", {})
        example = content.get("application/json", {}).get("examples", {}).get("response")
        if example is not None:
            found[method] = example["value"]["result"]
    return found


def test_it_parses_every_response_example_of_the_spec(examples: dict[str, Any]) -> None:
    assert len(examples) >= 25  # all but get_index_price carry an example
    for method, result in examples.items():
        TypeAdapter(EXAMPLE_MODELS[method]).validate_python(result)


def test_it_keeps_order_path_numbers_exact(examples: dict[str, Any]) -> None:
    order = m.OrderResult.model_validate(examples["private/buy"])
    assert order.order.average_price == Decimal("203.3")
    assert order.trades[0].fee == Decimal("0.00014757")
    account = m.AccountSummary.model_validate(examples["private/get_account_summary"])
    assert account.balance == Decimal("302.60065765")


def test_it_reads_market_price_of_trigger_orders_as_no_price(examples: dict[str, Any]) -> None:
    order = m.Order.model_validate(examples["private/cancel"])
    assert order.price is None
    assert order.order_state == "untriggered"


def test_it_reads_volatility_pairs_and_tick_steps() -> None:
    (point,) = TypeAdapter(list[m.VolatilityPoint]).validate_python([[1549720800000, 14.7]])
    assert (point.timestamp, point.value) == (1549720800000, 14.7)
    instrument = m.Instrument.model_validate(
        {
            "instrument_name": "BTC-27JUN25-110000-C",
            "kind": "option",
            "base_currency": "BTC",
            "quote_currency": "BTC",
            "is_active": True,
            "settlement_period": "month",
            "creation_timestamp": 1719475200000,
            "expiration_timestamp": 1751011200000,
            "tick_size": 0.0001,
            "tick_size_steps": [{"above_price": 0.005, "tick_size": 0.0005}],
            "min_trade_amount": 0.1,
            "contract_size": 1.0,
            "price_index": "btc_usd",
        }
    )
    assert instrument.tick_for(Decimal("0.0049")) == Decimal("0.0001")
    assert instrument.tick_for(Decimal("0.005")) == Decimal("0.0005")
    assert instrument.expiry.hour == 8


def test_it_hides_tokens_from_reprs() -> None:
    auth = m.AuthResult(
        access_token="secret-access", refresh_token="secret-refresh", expires_in=900, scope="x"
    )
    assert "secret" not in repr(auth)

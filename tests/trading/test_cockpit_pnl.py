"""Fees per fill and the live P&L: realised, unrealised at mark and at the buy-back price, total,
in coin and USD per underlying and book; every figure recomputed by hand from the stored rows."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from trading.domain.fees import option_fee_coin
from trading.domain.pnl import pnl_books, pnl_subtotals, position_figures, position_realised_coin
from trading.models import AgentStatus, Decision, Order, Position
from trading.services import controls_update, tick_run
from trading.services.execution import position_apply_fill

# ------------------------------------------------------------------------------ pure figures


def test_a_book_is_realised_plus_unrealised_at_mark_and_at_the_ask() -> None:
    # Sold 0.3 at 0.02 (one order) and 0.1 at 0.03; bought 0.1 back at 0.01; fees 0.00012.
    fills = [
        {"currency": "BTC", "dry_run": False, "direction": "sell", "coin": "0.009", "legs": 2,
         "fees": "0.00009"},
        {"currency": "BTC", "dry_run": False, "direction": "buy", "coin": "0.001", "legs": 1,
         "fees": "0.00003"},
    ]  # fmt: skip
    still_open = [
        {"currency": "BTC", "paper": False, "instrument_name": "BTC-X-100000-C", "size": "-0.3",
         "average_price_coin": "0.0225"},
    ]  # fmt: skip
    quotes = {"BTC-X-100000-C": {"mark": 0.015, "bid": 0.014, "ask": 0.016}}

    (book,) = pnl_books(fills, [], still_open, {"BTC": 90_000.0}, quotes)

    cash = Decimal("0.009") - Decimal("0.001") - Decimal("0.00012")
    held = Decimal("0.3") * Decimal("0.0225")  # premium of the open call, not realised yet
    assert Decimal(book["cash_coin"]) == cash
    assert Decimal(book["realised_coin"]) == cash - held
    assert Decimal(book["unrealised_mark_coin"]) == Decimal("-0.3") * (
        Decimal("0.015") - Decimal("0.0225")
    )
    assert Decimal(book["unrealised_buyback_coin"]) == Decimal("0.3") * (
        Decimal("0.0225") - Decimal("0.016")
    )
    assert Decimal(book["total_mark_coin"]) == cash - Decimal("0.3") * Decimal("0.015")
    assert Decimal(book["total_buyback_coin"]) == cash - Decimal("0.3") * Decimal("0.016")
    assert book["total_mark_usd"] == pytest.approx(
        float(cash - Decimal("0.3") * Decimal("0.015")) * 90_000, abs=0.01
    )
    assert Decimal(book["fees_coin"]) == Decimal("0.00012")
    (subtotal,) = pnl_subtotals([book])
    assert subtotal["book"] == "real"
    assert subtotal["total_mark_usd"] == book["total_mark_usd"]


def test_a_call_without_a_mark_leaves_unrealised_unknown_not_zero() -> None:
    still_open = [
        {"currency": "BTC", "paper": True, "instrument_name": "BTC-X-1-C", "size": "-1",
         "average_price_coin": "0.01"},
    ]  # fmt: skip
    (book,) = pnl_books([], [], still_open, {"BTC": 1.0}, {})
    assert book["unrealised_mark_coin"] is None
    assert book["total_mark_usd"] is None
    assert book["marked"] is False


def test_position_figures_of_a_short_call() -> None:
    figures = position_figures(
        {"size": "-0.1", "average_price_coin": "0.02", "realised_coin": "0",
         "fees_coin": "0.00003"},
        {"mark": 0.012, "bid": 0.011, "ask": 0.013, "delta": 0.3, "gamma": 1e-5, "vega": 40.0,
         "theta": -60.0, "iv": 0.5},
        index_usd=100_000.0,
        now=datetime(2026, 1, 1, 8, tzinfo=UTC),
        strike=110_000.0,
        expiry=datetime(2026, 1, 8, 8, tzinfo=UTC),
    )  # fmt: skip
    assert Decimal(figures["unrealised_mark_coin"]) == Decimal("0.0008")
    assert Decimal(figures["unrealised_buyback_coin"]) == Decimal("0.0007")
    assert figures["unrealised_buyback_usd"] == pytest.approx(70.0)
    assert Decimal(figures["realised_coin"]) == Decimal("-0.00003")  # the fee paid to open
    assert figures["premium_captured_pct"] == pytest.approx(35.0)  # (0.02 - 0.013) / 0.02
    assert figures["dte_days"] == pytest.approx(7.0)
    assert figures["distance_to_strike_pct"] == pytest.approx(10.0)
    assert figures["breakeven_usd"] == pytest.approx(110_000 / 0.98, abs=0.01)
    assert figures["greeks"]["delta"] == pytest.approx(-0.03)
    assert figures["greeks"]["theta"] == pytest.approx(6.0)  # a short call earns the decay


def test_an_expired_call_realises_its_premium_and_its_settlement_less_fees() -> None:
    row = {"size": "-0.1", "average_price_coin": "0.02", "realised_coin": "0",
           "fees_coin": "0.00003", "settled_coin": "-0.0005"}  # fmt: skip
    assert position_realised_coin(row) == Decimal("0.002") - Decimal("0.0005") - Decimal("0.00003")


# ---------------------------------------------------------------------------- stored fills


@pytest.mark.django_db
def test_a_buyback_realises_average_minus_price_on_the_closed_part() -> None:
    leg = {"environment": "sim", "dry_run": True, "instrument_name": "BTC-1JAN27-1-C"}
    sell = Order(label="s", currency="BTC", direction="sell", amount=Decimal("0.3"), **leg)
    position_apply_fill(order=sell, amount=Decimal("0.3"), price=Decimal("0.02"), fee=Decimal("1"))
    buy = Order(label="b", currency="BTC", direction="buy", amount=Decimal("0.1"), **leg)
    position = position_apply_fill(
        order=buy, amount=Decimal("0.1"), price=Decimal("0.005"), fee=Decimal("2")
    )
    assert position.size == Decimal("-0.2")
    assert position.realised_coin == Decimal("0.1") * (Decimal("0.02") - Decimal("0.005"))
    assert position.fees_coin == Decimal("3")
    assert position.average_price_coin == Decimal("0.02")


@pytest.mark.django_db
def test_a_dry_run_fill_records_deribits_fee_and_the_api_adds_the_books_up_by_hand(
    decisions: list[Decision], admin_user: Any
) -> None:
    orders = list(Order.objects.filter(filled_amount__gt=0))
    assert orders
    for order in orders:
        assert order.fee_source == "model"
        assert order.fee_coin == option_fee_coin(order.filled_amount, order.average_price)
        assert order.fee_coin > 0
    api = APIClient()
    api.force_authenticate(admin_user)
    body = api.get("/api/agent/pnl").json()
    marks = AgentStatus.load().last_summary["marks"]
    index = Decision.objects.order_by("-id")[0].state_snapshot["index_price_usd"]
    for book in body["books"]:
        ccy = book["currency"]
        assert book["book"] == "paper"
        mine = [o for o in orders if o.currency == ccy]
        sold = sum((o.filled_amount * o.average_price for o in mine if o.direction == "sell"), 0)
        bought = sum((o.filled_amount * o.average_price for o in mine if o.direction == "buy"), 0)
        fees = sum((o.fee_coin for o in mine), Decimal(0))
        open_rows = Position.objects.filter(currency=ccy, status="open")
        held = sum((-p.size * p.average_price_coin for p in open_rows), Decimal(0))
        at_mark = sum(
            (p.size * Decimal(str(marks[p.instrument_name]["mark"])) for p in open_rows),
            Decimal(0),
        )
        at_ask = sum(
            (p.size * Decimal(str(marks[p.instrument_name]["ask"])) for p in open_rows),
            Decimal(0),
        )
        realised = sold - bought - fees - held
        assert Decimal(book["fees_coin"]) == fees
        assert Decimal(book["realised_coin"]) == realised
        assert Decimal(book["unrealised_mark_coin"]) == at_mark + held
        assert Decimal(book["total_mark_coin"]) == sold - bought - fees + at_mark
        assert Decimal(book["total_buyback_coin"]) == sold - bought - fees + at_ask
        assert book["total_mark_usd"] == pytest.approx(
            float(sold - bought - fees + at_mark) * index[ccy], abs=0.01
        )
    assert [s["book"] for s in body["subtotals"]] == ["paper"]


@pytest.mark.django_db
def test_a_live_fill_takes_its_fee_from_the_exchanges_trades(
    agent_settings: Any, sim_client: Any
) -> None:
    controls_update(changes={"dry_run": False}, user="test")
    outcome = tick_run(trigger="test", client=sim_client, seed=1)
    order = outcome.orders[0]
    assert order.filled_amount > 0, outcome.summary
    trades = sim_client.get_user_trades_by_currency(order.currency, "option", count=50).trades
    fee = sum((t.fee for t in trades if t.order_id == order.exchange_order_id), Decimal(0))
    assert fee > 0
    assert order.fee_source == "exchange"
    assert order.fee_coin == fee
    assert (order.raw or {})["trades"][0]["order_id"] == order.exchange_order_id
    position = Position.objects.get(instrument_name=order.instrument_name, paper=False)
    assert position.fees_coin == fee


@pytest.mark.django_db
def test_the_live_agent_tab_shows_realised_unrealised_total_and_fees_per_book(
    decisions: list[Decision], logged_in_client: Any
) -> None:
    page = logged_in_client.get(reverse("trading:live")).content.decode()
    table = page[page.index('data-testid="pnl"') :].split("</table>")[0]
    for testid in ("pnl-realised", "pnl-unrealised-mark", "pnl-unrealised-buyback", "pnl-total"):
        assert f'data-testid="{testid}"' in table
    assert 'data-testid="pnl-subtotal-paper"' in table
    assert ">PAPER<" in table
    fees = sum((o.fee_coin for o in Order.objects.filter(currency="BTC")), Decimal(0))
    assert f"{fees:.6f} BTC" in table
    positions = page[page.index('data-testid="positions"') :].split("</table>")[0]
    (position,) = Position.objects.filter(status="open", currency="BTC")
    assert position.instrument_name in positions
    assert "Premium captured" in positions

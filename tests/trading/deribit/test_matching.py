"""The simulated matching engine: partial fills, time in force, post-only, reduce-only, labels,
edits, maker fills after the market moves, funds checks and the perpetual."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.trading.deribit.conftest import make_client, make_exchange
from trading.deribit.client import DeribitClient
from trading.deribit.errors import (
    InsufficientFundsError,
    OrderNotOpenError,
    OrderRejectedError,
    SettlementInProgressError,
)
from trading.deribit.models import Instrument, Ticker
from trading.deribit.simulator import SimulatedExchange
from trading.domain.market_model import (
    DEC_2025_REALIZED_TO_IMPLIED,
    MarketModelParams,
    default_currency_params,
)


def dec(value: float | None) -> Decimal:
    assert value is not None
    return Decimal(repr(value))


def liquid_call(sim_client: DeribitClient) -> tuple[Instrument, Ticker]:
    """A 26DEC25 call near the money with a bid and an ask."""
    spot = sim_client.get_index_price("btc_usd").index_price
    calls = [
        i
        for i in sim_client.get_instruments("BTC")
        if i.option_type == "call" and "26DEC25" in i.instrument_name and (i.strike or 0) >= spot
    ]
    instrument = min(calls, key=lambda i: i.strike or 0)
    return instrument, sim_client.ticker(instrument.instrument_name)


def test_it_fills_what_the_top_of_book_shows_and_rests_the_rest(sim_client: DeribitClient) -> None:
    call, ticker = liquid_call(sim_client)
    shown = dec(ticker.best_bid_amount)
    result = sim_client.sell(call.instrument_name, shown + 1, price=dec(ticker.best_bid_price))
    assert result.order.filled_amount == shown
    assert result.order.order_state == "open"
    (resting,) = sim_client.get_open_orders_by_currency("BTC")
    assert resting.remaining_amount == 1
    # The taken liquidity is gone until the market moves.
    assert sim_client.ticker(call.instrument_name).best_bid_price != ticker.best_bid_price


def test_a_market_order_walks_the_book_levels(sim_client: DeribitClient) -> None:
    call, ticker = liquid_call(sim_client)
    shown = dec(ticker.best_ask_amount)
    result = sim_client.buy(call.instrument_name, shown + Decimal("0.5"), type="market")
    prices = [t.price for t in result.trades]
    assert prices[0] == dec(ticker.best_ask_price)
    assert prices[1] > prices[0]
    assert result.order.order_state == "filled"
    assert result.order.average_price > dec(ticker.best_ask_price)


def test_ioc_cancels_the_unfilled_rest_and_fok_fills_all_or_nothing(
    sim_client: DeribitClient,
) -> None:
    call, ticker = liquid_call(sim_client)
    bid, shown = dec(ticker.best_bid_price), dec(ticker.best_bid_amount)
    ioc = sim_client.sell(
        call.instrument_name, shown + 1, price=bid, time_in_force="immediate_or_cancel"
    )
    assert (ioc.order.order_state, ioc.order.filled_amount) == ("cancelled", shown)
    fok = sim_client.sell(
        call.instrument_name, shown + Decimal("0.5"), price=bid, time_in_force="fill_or_kill"
    )
    assert (fok.order.order_state, fok.trades) == ("cancelled", [])


def test_post_only_moves_inside_the_spread_or_rejects(sim_client: DeribitClient) -> None:
    call, ticker = liquid_call(sim_client)
    bid = dec(ticker.best_bid_price)
    moved = sim_client.sell(call.instrument_name, Decimal("0.1"), price=bid, post_only=True)
    assert moved.trades == []
    assert moved.order.order_state == "open"
    assert moved.order.price is not None
    assert moved.order.price > bid
    with pytest.raises(OrderRejectedError) as caught:
        sim_client.sell(
            call.instrument_name, Decimal("0.1"), price=bid, post_only=True, reject_post_only=True
        )
    assert caught.value.code == 11054


def test_reduce_only_never_increases_a_position(sim_client: DeribitClient) -> None:
    call, ticker = liquid_call(sim_client)
    with pytest.raises(OrderRejectedError):
        sim_client.buy(call.instrument_name, Decimal("0.1"), type="market", reduce_only=True)
    sim_client.sell(call.instrument_name, Decimal("0.3"), price=dec(ticker.best_bid_price))
    closing = sim_client.buy(call.instrument_name, Decimal("1"), type="market", reduce_only=True)
    assert closing.order.amount == Decimal("0.3")  # cut to the open position
    assert sim_client.get_positions("BTC") == []


def test_labels_find_and_cancel_orders(sim_client: DeribitClient) -> None:
    call, ticker = liquid_call(sim_client)
    low = dec(ticker.min_price)
    for _ in range(2):
        sim_client.buy(call.instrument_name, Decimal("0.1"), price=low, label="grid-a")
    sim_client.buy(call.instrument_name, Decimal("0.1"), price=low, label="grid-b")
    assert len(sim_client.get_order_state_by_label("BTC", "grid-a")) == 2
    assert sim_client.cancel_by_label("grid-a") == 2
    assert [o.label for o in sim_client.get_open_orders_by_currency("BTC")] == ["grid-b"]
    assert sim_client.cancel_all() == 1
    cancelled = sim_client.get_order_state_by_label("BTC", "grid-a")
    assert {o.order_state for o in cancelled} == {"cancelled"}


def test_edit_changes_price_and_amount_and_cancel_closes_once(sim_client: DeribitClient) -> None:
    call, ticker = liquid_call(sim_client)
    low = dec(ticker.min_price)
    order = sim_client.buy(call.instrument_name, Decimal("0.1"), price=low).order
    edited = sim_client.edit(order.order_id, Decimal("0.2"), low).order
    assert (edited.amount, edited.replaced) == (Decimal("0.2"), True)
    assert sim_client.cancel(order.order_id).order_state == "cancelled"
    with pytest.raises(OrderNotOpenError):
        sim_client.cancel(order.order_id)
    with pytest.raises(OrderNotOpenError):
        sim_client.edit(order.order_id, Decimal("0.3"), low)


def test_a_resting_order_fills_as_maker_when_the_quote_crosses_it() -> None:
    # The December 2025 market (realized above implied): with seed 42 its spot rallies within
    # days, which lifts the bid through the resting offer.
    exchange = make_exchange(
        market_params=MarketModelParams(
            currencies=default_currency_params(DEC_2025_REALIZED_TO_IMPLIED)
        )
    )
    with make_client(exchange) as sim_client:
        _rest_then_cross(exchange, sim_client)


def _rest_then_cross(exchange: SimulatedExchange, sim_client: DeribitClient) -> None:
    call, ticker = liquid_call(sim_client)
    price = dec(ticker.best_bid_price) + dec(ticker.best_bid_price) / 10  # above today's bid
    price = (price / Decimal("0.0005")).to_integral_value() * Decimal("0.0005")
    order = sim_client.sell(call.instrument_name, Decimal("0.1"), price=price).order
    for _ in range(24 * 6):  # up to six days, one hour at a time: seed 42 crosses early
        exchange.clock.advance(3600)
        state = sim_client.get_order_state(order.order_id)
        if state.order_state == "filled":
            break
    assert state.order_state == "filled"
    (trade,) = sim_client.get_user_trades_by_currency("BTC").trades
    assert (trade.liquidity, trade.price, trade.order_id) == ("M", price, order.order_id)


def test_it_refuses_an_order_the_account_cannot_margin(sim_client: DeribitClient) -> None:
    call, ticker = liquid_call(sim_client)
    with pytest.raises(InsufficientFundsError):
        sim_client.sell(call.instrument_name, Decimal(100), price=dec(ticker.best_ask_price))


def test_it_refuses_trading_during_the_daily_settlement(
    exchange: SimulatedExchange, sim_client: DeribitClient
) -> None:
    call, ticker = liquid_call(sim_client)
    exchange.open_settlement_window(5)
    with pytest.raises(SettlementInProgressError):
        sim_client.sell(call.instrument_name, Decimal("0.1"), price=dec(ticker.best_bid_price))
    exchange.clock.advance(6)
    assert sim_client.sell(
        call.instrument_name, Decimal("0.1"), price=dec(ticker.best_bid_price)
    ).trades


def test_the_perpetual_trades_in_usd_with_taker_fees_and_pnl(sim_client: DeribitClient) -> None:
    bought = sim_client.buy("BTC-PERPETUAL", Decimal(1000), type="market")
    fill = bought.trades[0]
    assert fill.fee == (Decimal("0.0005") * 1000 / fill.price).quantize(Decimal("0.00000001"))
    (position,) = sim_client.get_positions("BTC", "future")
    assert position.size == 1000
    assert position.size_currency is not None
    assert float(position.size_currency) == pytest.approx(float(1000 / position.mark_price))
    closed = sim_client.close_position("BTC-PERPETUAL", "market")
    assert closed.order.reduce_only
    assert sim_client.get_positions("BTC") == []

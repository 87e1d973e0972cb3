"""A covered call on the simulated exchange, checked against a trader's hand calculation.

Worked example (the numbers come from the ticker at 2025-12-10 09:00 UTC, so the test holds
for any market parameters; the formulas are the point):

    account: 10 BTC, no positions
    sell  A + 0.3 of a 19DEC25 call at the best bid B, where the bid shows A contracts
    fills A at B (taker), the other 0.3 rests at B

    fee        = min(0.0003 * A, 0.125 * B * A)              (0.03% of the underlying, capped)
    balance    = 10 + A * B - fee                            (premium is paid in BTC at once)
    value      = -A * mark                                   (options_value: short calls)
    equity     = balance + value
    OTM        = max(K - F, 0) / F                           (F = the expiry's forward)
    IM         = (A + 0.3) * (max(0.15 - OTM, 0.10) + mark)  (position + resting sell)
    MM         = A * (0.075 + mark)
    available  = equity - IM
    delta_total = -A * (delta - mark)                        (net-transaction delta, coin)

At expiry (19 Dec 2025 08:00 UTC) the call settles at the delivery price S (the index's
30-minute average before 08:00, read back from `public/get_delivery_prices`):
    payoff = max(S - K, 0) / S per contract, delivery fee min(0.00015 * A, 0.125 * A * payoff)
    balance_after = balance - A * payoff - fee_delivery, and the position is gone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from tests.builders import pick_call
from trading.deribit.client import DeribitClient
from trading.deribit.simulator import SimulatedExchange

SATOSHI = Decimal("0.00000001")
TOLERANCE = Decimal("0.00000003")  # each figure is rounded to 1e-8 once on the exchange


def d(value: float | None) -> Decimal:
    """The exact decimal the exchange printed."""
    assert value is not None
    return Decimal(repr(value))


def close(actual: Decimal | float, expected: Decimal) -> bool:
    """Equal to within a few satoshi of rounding."""
    value = Decimal(repr(actual)) if isinstance(actual, float) else actual
    return abs(value - expected) <= TOLERANCE


def test_it_books_a_covered_call_as_a_trader_computes_it(
    exchange: SimulatedExchange, sim_client: DeribitClient
) -> None:
    instrument, ticker = pick_call(sim_client)
    assert ticker.greeks is not None
    assert ticker.underlying_price is not None
    bid, shown = d(ticker.best_bid_price), d(ticker.best_bid_amount)
    mark, delta = d(ticker.mark_price), d(ticker.greeks.delta)
    strike, forward = d(instrument.strike), d(ticker.underlying_price)
    amount = shown + Decimal("0.3")

    result = sim_client.sell(instrument.instrument_name, amount, price=bid, label="cc-worked")

    fee = min(Decimal("0.0003") * shown, Decimal("0.125") * bid * shown)
    assert result.order.order_state == "open"
    assert result.order.filled_amount == shown
    assert [(t.price, t.amount, t.liquidity) for t in result.trades] == [(bid, shown, "T")]
    assert result.trades[0].fee == fee.quantize(SATOSHI)

    balance = Decimal(10) + shown * bid - fee
    value = -shown * mark
    otm = max(strike - forward, Decimal(0)) / forward
    initial = (shown + Decimal("0.3")) * (max(Decimal("0.15") - otm, Decimal("0.10")) + mark)
    maintenance = shown * (Decimal("0.075") + mark)
    summary = sim_client.get_account_summary("BTC")
    assert close(summary.balance, balance)
    assert close(summary.options_value, value)
    assert close(summary.equity, balance + value)
    assert close(summary.initial_margin, initial)
    assert close(summary.maintenance_margin, maintenance)
    assert close(summary.available_funds, balance + value - initial)
    assert abs(summary.delta_total - float(-shown * (delta - mark))) < 1e-6
    assert abs(summary.options_delta - float(-shown * delta)) < 1e-6

    (position,) = sim_client.get_positions("BTC")
    assert position.instrument_name == instrument.instrument_name
    assert (position.size, position.average_price, position.direction) == (-shown, bid, "sell")
    assert close(position.floating_profit_loss, -shown * (mark - bid))

    # The resting 0.3 is cancelled by label; then the call expires and settles in BTC.
    assert sim_client.cancel_by_label("cc-worked") == 1
    exchange.clock.set_ms(int(datetime(2025, 12, 19, 8, 0, 1, tzinfo=UTC).timestamp() * 1000))
    (delivery, *_) = sim_client.get_delivery_prices("btc_usd", count=1).data
    assert delivery.date == "2025-12-19"
    settle = d(delivery.delivery_price)
    payoff = max(settle - strike, Decimal(0)) / settle
    delivery_fee = min(Decimal("0.00015") * shown, Decimal("0.125") * shown * payoff)
    after = sim_client.get_account_summary("BTC")
    assert close(after.balance, balance - shown * payoff - delivery_fee)
    assert sim_client.get_positions("BTC") == []
    assert after.initial_margin == 0


def test_it_settles_an_in_the_money_call_at_the_delivery_price(
    exchange: SimulatedExchange, sim_client: DeribitClient
) -> None:
    expiry = datetime(2025, 12, 11, 8, tzinfo=UTC)
    calls = [
        i
        for i in sim_client.get_instruments("BTC")
        if i.option_type == "call" and i.expiry == expiry and (i.strike or 0) < 80_000
    ]
    deep = max(calls, key=lambda i: i.strike or 0)  # ~15% in the money, a day to go
    ticker = sim_client.ticker(deep.instrument_name)
    bid = d(ticker.best_bid_price)
    result = sim_client.sell(deep.instrument_name, Decimal("0.5"), price=bid, type="limit")
    assert result.order.order_state == "filled"
    fee = min(Decimal("0.0003") * Decimal("0.5"), Decimal("0.125") * bid * Decimal("0.5"))
    balance = Decimal(10) + Decimal("0.5") * bid - fee

    exchange.clock.set_ms(int(expiry.timestamp() * 1000) + 1000)
    settle = d(sim_client.get_delivery_prices("btc_usd", count=1).data[0].delivery_price)
    payoff = (settle - d(deep.strike)) / settle
    assert payoff > 0
    delivery_fee = min(
        Decimal("0.00015") * Decimal("0.5"), Decimal("0.125") * Decimal("0.5") * payoff
    )
    after = sim_client.get_account_summary("BTC")
    assert close(after.balance, balance - Decimal("0.5") * payoff - delivery_fee)
    assert sim_client.get_positions("BTC") == []


def test_it_cancels_resting_orders_of_an_expiring_option_at_settlement(
    exchange: SimulatedExchange, sim_client: DeribitClient
) -> None:
    expiry = datetime(2025, 12, 11, 8, tzinfo=UTC)
    call = next(
        i
        for i in sim_client.get_instruments("BTC")
        if i.option_type == "call" and i.expiry == expiry and (i.strike or 0) > 100_000
    )
    order = sim_client.sell(
        call.instrument_name, Decimal("1"), price=Decimal("0.01"), label="far"
    ).order
    assert order.order_state == "open"
    exchange.clock.set_ms(int(expiry.timestamp() * 1000) + 1000)
    state = sim_client.get_order_state(order.order_id)
    assert (state.order_state, state.cancel_reason) == ("cancelled", "settlement")

"""Position accounting and the margin formulas of the simulated exchange."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from trading.deribit.simulator.accounts import (
    PositionState,
    short_option_initial_margin,
    short_option_maintenance_margin,
)
from trading.domain.fees import option_payoff_coin

fills = st.lists(
    st.tuples(
        st.integers(min_value=-50, max_value=50).filter(bool),  # tenths of a contract, +buy/-sell
        st.integers(min_value=1, max_value=2000),  # price in 0.0001 coin ticks
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(fills=fills, mark_ticks=st.integers(min_value=1, max_value=2000))
def test_option_pnl_adds_up_to_the_premium_cash_flows(
    fills: list[tuple[int, int]], mark_ticks: int
) -> None:
    position = PositionState("BTC-26DEC25-100000-C", "BTC", "option")
    cash = Decimal(0)
    for tenths, ticks in fills:
        amount, price = Decimal(tenths) / 10, Decimal(ticks) / 10_000
        position.apply_fill(amount, price, Decimal(90_000))
        cash -= amount * price  # premium paid (bought) or received (sold)
    mark = Decimal(mark_ticks) / 10_000
    total = position.realized_profit_loss + position.floating_pnl(mark)
    assert abs(total - (cash + position.size * mark)) <= Decimal("0.0000001")


def test_a_flipped_position_restarts_its_average_at_the_flip_price() -> None:
    position = PositionState("BTC-26DEC25-100000-C", "BTC", "option")
    position.apply_fill(Decimal("-0.3"), Decimal("0.0395"), Decimal(106_000))
    realized = position.apply_fill(Decimal("0.5"), Decimal("0.0300"), Decimal(106_000))
    assert realized == Decimal("0.00285")  # 0.3 * (0.0395 - 0.0300) on the short closed
    assert (position.size, position.average_price) == (Decimal("0.2"), Decimal("0.0300"))


def test_the_reference_covered_call_margin_example() -> None:
    # ../shared/reference/deribit README 8.4: 0.3 short calls, K 110000, F 106450, mark 0.04016069
    initial = short_option_initial_margin(
        Decimal("0.3"), Decimal("0.04016069"), Decimal(110_000), Decimal(106_450), is_call=True
    )
    maintenance = short_option_maintenance_margin(Decimal("0.3"), Decimal("0.04016069"))
    assert abs(initial - Decimal("0.04704351")) <= Decimal("0.00000002")
    assert maintenance == Decimal("0.03454821")


def test_inverse_payoffs_are_in_coin() -> None:
    assert option_payoff_coin(Decimal(100_000), Decimal(125_000), is_call=True) == Decimal("0.2")
    assert option_payoff_coin(Decimal(100_000), Decimal(80_000), is_call=False) == Decimal("0.25")
    assert option_payoff_coin(Decimal(100_000), Decimal(90_000), is_call=True) == 0

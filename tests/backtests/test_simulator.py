"""CoveredCallSimulator against hand-worked examples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from backtests.domain.simulator import CoveredCallSimulator, SimulationStopped, fill_prices
from backtests.domain.types import (
    BacktestConfig,
    ExitReason,
    ExitStyle,
    FillModel,
)
from tests.backtests.helpers import (
    ANY_CALL,
    CALL,
    EXPIRY,
    N_HOURS,
    START,
    HandFees,
    Listing,
    Quote,
    exit_config,
    hand_panel,
    hand_quotes,
    one_call_sim,
    spot_to,
    two_call_sim,
)


def test_it_settles_an_out_of_the_money_call_at_expiry_with_fees() -> None:
    trade = one_call_sim(98_000).simulate_single_call(
        instrument_name=CALL.name, entry_time=START, config=exit_config()
    )

    # Sold 1 BTC call at the 0.0100 bid with spot 95,000; fee min(0.0003, 12.5% x 0.0100).
    # Expired below the strike: nothing to pay, no delivery fee.
    assert trade.exit_reason is ExitReason.EXPIRED_OTM
    assert trade.entry_price_coin == pytest.approx(0.0100)
    assert trade.exit_price_coin == 0.0
    assert trade.fees_coin == pytest.approx(0.0003)
    assert trade.pnl_coin == pytest.approx(0.0097)
    assert trade.premium_usd == pytest.approx(950.0)
    assert trade.pnl_usd == pytest.approx(950.0 - 0.0003 * 95_000)  # 921.50
    assert trade.exit_ts == EXPIRY.timestamp()


def test_it_settles_an_in_the_money_call_at_the_expiry_index_with_fees() -> None:
    trade = one_call_sim(104_000).simulate_single_call(
        instrument_name=CALL.name, entry_time=START, config=exit_config()
    )

    # Inverse payoff (S - K) / S = 4,000 / 104,000 coin; delivery fee min(0.00015, 12.5% x it).
    payoff = 4_000 / 104_000
    assert trade.exit_reason is ExitReason.EXPIRED_ITM
    assert trade.itm_at_expiry
    assert trade.exit_price_coin == pytest.approx(payoff)
    assert trade.fees_coin == pytest.approx(0.0003 + 0.00015)
    assert trade.pnl_coin == pytest.approx(0.0100 - payoff - 0.00045)
    # USD: 950 premium - 4,000 paid - fees (28.50 at 95,000 + 15.60 at 104,000) = -3,094.10
    assert trade.pnl_usd == pytest.approx(-3_094.10)
    assert trade.fees_usd == pytest.approx(44.10)


def test_it_keeps_the_full_path_of_a_single_call() -> None:
    trade = one_call_sim(98_000).simulate_single_call(
        instrument_name=CALL.name, entry_time=START + timedelta(minutes=1), config=exit_config()
    )

    assert trade.path is not None
    assert len(trade.path.times) == 31  # hours 1..31: first quote at or after the entry time
    assert trade.entry_ts == START.timestamp() + 3600
    assert trade.path.pnl_coin[0] == pytest.approx(trade.entry_price_coin - trade.path.mark_coin[0])


def test_it_takes_profit_once_the_buy_back_is_cheap_enough() -> None:
    sim = one_call_sim(104_000, ask_at=lambda h: 0.0040 if h >= 10 else 0.0090)
    trade = sim.simulate_single_call(
        instrument_name=CALL.name,
        entry_time=START,
        config=exit_config(ExitStyle.TAKE_PROFIT, take_profit_pct=0.5),
    )

    # 50% of 0.0100 captured once the ask is at or below 0.0050: hour 10 at 0.0040.
    assert trade.exit_reason is ExitReason.TAKE_PROFIT
    assert trade.exit_ts == START.timestamp() + 10 * 3600
    assert trade.exit_price_coin == pytest.approx(0.0040)
    assert trade.fees_coin == pytest.approx(0.0003 + 0.0003)
    assert trade.pnl_coin == pytest.approx(0.0100 - 0.0040 - 0.0006)


def test_it_stops_out_when_the_buy_back_doubles() -> None:
    sim = one_call_sim(104_000, ask_at=lambda h: 0.0210 if h >= 12 else 0.0120)
    trade = sim.simulate_single_call(
        instrument_name=CALL.name, entry_time=START, config=exit_config(ExitStyle.STOP_LOSS)
    )

    assert trade.exit_reason is ExitReason.STOP_LOSS
    assert trade.exit_ts == START.timestamp() + 12 * 3600
    assert trade.pnl_coin == pytest.approx(0.0100 - 0.0210 - 0.0006)


def test_it_rolls_when_one_day_is_left() -> None:
    sim = one_call_sim(104_000, ask_at=lambda h: 0.0080)
    trade = sim.simulate_single_call(
        instrument_name=CALL.name,
        entry_time=START,
        config=exit_config(ExitStyle.ROLL_AT_DTE, roll_dte_days=1.0),
    )

    # Expiry at hour 32: one day left at hour 8.
    assert trade.exit_reason is ExitReason.ROLL_AT_DTE
    assert trade.exit_ts == START.timestamp() + 8 * 3600


@pytest.mark.parametrize("style", list(ExitStyle))
def test_it_settles_a_call_sold_at_its_last_quote_whatever_the_exit_style(
    style: ExitStyle,
) -> None:
    trade = one_call_sim(98_000).simulate_single_call(
        instrument_name=CALL.name, entry_time=START + timedelta(hours=31), config=exit_config(style)
    )

    assert trade.exit_reason is ExitReason.EXPIRED_OTM
    assert trade.exit_ts == EXPIRY.timestamp()


def test_it_fills_at_mid_with_a_haircut_and_falls_back_to_the_mark() -> None:
    quotes = hand_quotes(lambda h: 0.0110)
    quotes[1] = Quote(1, 0, bid=float("nan"), ask=0.0110, mark=0.0104)
    panel = hand_panel(spot=spot_to(98_000), listings=[CALL], quotes=quotes)

    mid = fill_prices(panel, FillModel(style="mid_haircut", haircut_pct=0.05))
    bid_ask = fill_prices(panel, FillModel(style="bid_ask", haircut_pct=0.05))
    strict = fill_prices(panel, FillModel(style="bid_ask", fallback="none"))

    assert mid.sell_coin[0] == pytest.approx(0.0105 * 0.95)
    assert mid.buy_coin[0] == pytest.approx(0.0105 * 1.05)
    assert bid_ask.sell_coin[0] == pytest.approx(0.0100)
    assert bid_ask.sell_coin[1] == pytest.approx(0.0104 * 0.95)  # empty bid: mark less haircut
    assert np.isnan(strict.sell_coin[1])


def test_it_closes_at_the_last_quote_when_the_data_ends_before_expiry() -> None:
    late = Listing("BTC-9JAN25-100000-C", 100_000.0, datetime(2025, 1, 9, 8, tzinfo=UTC))
    panel = hand_panel(
        spot=spot_to(98_000), listings=[late], quotes=hand_quotes(lambda h: 0.0090, hours=N_HOURS)
    )
    trade = CoveredCallSimulator(panel, fee_model=HandFees()).simulate_single_call(
        instrument_name=late.name, entry_time=START, config=exit_config()
    )

    assert trade.exit_reason is ExitReason.END_OF_DATA
    assert trade.exit_price_coin == pytest.approx(0.0090)
    assert trade.exit_ts == START.timestamp() + (N_HOURS - 1) * 3600


def test_it_rejects_unknown_instruments_and_times_after_the_last_quote() -> None:
    sim = one_call_sim(98_000)
    with pytest.raises(ValueError, match="not in the data"):
        sim.simulate_single_call(instrument_name="BTC-X", entry_time=START)
    with pytest.raises(ValueError, match="no quote"):
        sim.simulate_single_call(instrument_name=CALL.name, entry_time=EXPIRY)


def test_it_books_coin_and_usd_equity_of_a_policy_run() -> None:
    sim = one_call_sim(98_000, ask_at=lambda h: 0.0110 - h * 0.0003)
    result = sim.simulate_policy(exit_config())

    curve = result.curve
    assert len(result.trades) == 1
    # After the sale: 1 coin + premium - fee - the call's mark (0.0105) owed.
    assert curve.equity_coin[0] == pytest.approx(1 + 0.0100 - 0.0003 - 0.0105)
    assert curve.in_position[:32].all()
    assert not curve.in_position[32:].any()
    assert curve.equity_coin[-1] == pytest.approx(1.0097)
    assert curve.equity_usd[-1] == pytest.approx(1.0097 * 98_000)
    assert result.metrics.buy_and_hold_return_pct == pytest.approx(98_000 / 95_000 - 1)
    assert result.metrics.net_profit_usd == pytest.approx(921.5)
    assert result.metrics.exposure_pct == pytest.approx(32 / N_HOURS)
    assert "hand fees" in result.assumptions["fees"]
    assert "best bid" in result.assumptions["fills"]


def test_it_sells_the_best_scored_call_and_holds_one_position_at_a_time() -> None:
    result = two_call_sim().simulate_policy(exit_config())

    assert [t.instrument_name for t in result.trades] == [CALL.name]
    assert result.trades[0].rank == 0
    assert not result.trades[0].explored


def test_it_explores_the_runner_up_when_told_to() -> None:
    explore = ANY_CALL.model_copy(update={"explore_prob": 1.0, "explore_top_k": 2})
    config = BacktestConfig(strategy=explore)
    result = two_call_sim().simulate_policy(config)

    assert result.trades[0].instrument_name == "BTC-2JAN25-110000-C"
    assert result.trades[0].explored


def test_it_rolls_into_a_new_call_at_once_after_taking_profit() -> None:
    sim = two_call_sim()
    sim_tp = one_call_sim(98_000, ask_at=lambda h: 0.0040 if h >= 10 else 0.0090)
    roll = sim_tp.simulate_policy(exit_config(ExitStyle.TAKE_PROFIT_AND_ROLL, take_profit_pct=0.5))
    wait = sim_tp.simulate_policy(exit_config(ExitStyle.TAKE_PROFIT, take_profit_pct=0.5))

    # Rolling never re-sells the call it just bought back in the same hour (issue 12: that is
    # churn, the spread paid twice); the only listing is sold again at the next decision, hour
    # 11. Waiting for the cycle does not sell again.
    assert [t.entry_ts for t in roll.trades][:2] == [
        START.timestamp(),
        START.timestamp() + 11 * 3600,
    ]
    assert len(wait.trades) == 1
    assert sim.simulate_policy(exit_config()).trades  # sanity: the two-call panel trades too


def test_it_replays_identically_for_the_same_seed() -> None:
    explore = ANY_CALL.model_copy(update={"explore_prob": 0.5, "explore_top_k": 2})
    sim = two_call_sim()

    def names(seed: int) -> list[str]:
        config = BacktestConfig(strategy=explore, seed=seed)
        return [t.instrument_name for t in sim.simulate_policy(config).trades]

    assert names(5) == names(5)


def test_it_stops_when_asked_and_reports_progress() -> None:
    sim = one_call_sim(98_000)
    seen: list[float] = []
    sim.simulate_policy(exit_config(), progress=seen.append)
    with pytest.raises(SimulationStopped):
        sim.simulate_policy(exit_config(), should_stop=lambda: True)

    assert seen[-1] == 1.0
    assert seen == sorted(seen)


def test_it_ignores_fees_when_configured_to() -> None:
    config = exit_config().model_copy(update={"include_fees": False})
    trade = one_call_sim(98_000).simulate_single_call(
        instrument_name=CALL.name, entry_time=START, config=config
    )

    assert trade.fees_coin == 0.0
    assert trade.pnl_coin == pytest.approx(0.0100)


def test_it_charges_deribits_published_fees_by_default() -> None:
    panel = hand_panel(spot=spot_to(104_000), listings=[CALL], quotes=hand_quotes(lambda h: 0.011))
    trade = CoveredCallSimulator(panel).simulate_single_call(
        instrument_name=CALL.name, entry_time=START, config=exit_config()
    )

    hand = HandFees()
    payoff = 4_000 / 104_000
    assert trade.fees_coin == pytest.approx(
        float(hand.trade_fee_coin(0.0100, 1.0) + hand.delivery_fee_coin(payoff, 1.0))
    )
    deribit = CoveredCallSimulator(panel).fee_model
    # The reference's worked example: selling 0.3 BTC at 0.0395 costs 0.00009 BTC; a cheap
    # option's fee is capped at 12.5% of its price; nothing is delivered out of the money.
    assert float(deribit.trade_fee_coin(0.0395, 0.3)) == pytest.approx(0.00009)
    assert float(deribit.trade_fee_coin(0.0010, 1.0)) == pytest.approx(0.000125)
    delivered = deribit.delivery_fee_coin([0.0, 0.0008, 0.5], 1.0)
    np.testing.assert_allclose(delivered, [0, 1e-4, 1.5e-4])

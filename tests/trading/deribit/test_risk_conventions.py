"""One convention each for net delta, margin distance and theta (issue 12).

* Net delta: the book's USD delta in coins, coins held included (`equity + delta_total` from
  Deribit's account summary, i.e. balance + size x Black delta), and an order changes it by
  its premium-adjusted delta; a covered book is measured as covered.
* Margin: the OTM distance is measured on the expiry's forward, in the risk engine and in the
  simulated exchange alike (the reference example: OTM 3.33% = (110000 - 106450) / 106450).
* Theta: Deribit's convention, the decay over min(1 day, remaining life).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pytest

from tests.builders import (
    CALL,
    CALL_2,
    failed_names,
    make_inputs,
    make_portfolio,
    make_quote,
    open_call,
    pick_call,
    sell,
    short,
)
from trading.deribit.client import DeribitClient
from trading.deribit.simulator.accounts import short_option_initial_margin
from trading.domain import black76
from trading.domain.market_model import MarketModel
from trading.domain.params import RiskLimits
from trading.domain.risk import OptionQuote, estimate_short_call_margin_usd, evaluate_risk
from trading.domain.risk.exposure_checks import order_delta_coin
from trading.services.state import _portfolio

TIGHT = RiskLimits(max_net_delta_abs=0.1)


def test_the_tick_state_measures_a_covered_book_as_covered(sim_client: DeribitClient) -> None:
    instrument, ticker = pick_call(sim_client)
    assert ticker.greeks is not None
    amount = Decimal(str(ticker.best_bid_amount))
    sim_client.sell(instrument.instrument_name, amount, price=Decimal(str(ticker.best_bid_price)))
    summary = sim_client.get_account_summary("BTC")

    portfolio = _portfolio({"BTC": summary}, {"BTC": 90_000.0}, (), {})

    usd_delta = float(summary.balance) - float(amount) * ticker.greeks.delta
    assert portfolio.net_delta["BTC"] == pytest.approx(usd_delta, abs=1e-5)
    assert 0 < portfolio.net_delta["BTC"] < float(portfolio.holdings("BTC"))


def test_a_covered_sale_passes_the_net_delta_check_under_a_tight_limit() -> None:
    held = make_quote(CALL, delta=0.22)
    covered = make_portfolio(
        holdings_coin={"BTC": Decimal(1)},
        net_delta={"BTC": 1 - 0.5 * (0.22 - 0.0102)},
        positions=(short(CALL, "0.5"),),
    )
    inputs = make_inputs(portfolio=covered, quotes=[held, make_quote(CALL_2)])

    verdict = evaluate_risk(open_call(sell(CALL_2, amount="0.4")), inputs, TIGHT)

    assert "net_delta" not in {c.name for c in verdict.failed}


def test_a_naked_short_book_still_fails_the_net_delta_check() -> None:
    naked = make_portfolio(holdings_coin={"BTC": Decimal(0)}, net_delta={"BTC": -0.5})
    proposal = open_call(sell(CALL_2, amount="0.4"))

    assert "net_delta" in failed_names(proposal, make_inputs(portfolio=naked), TIGHT)


def test_an_order_moves_net_delta_by_its_premium_adjusted_delta() -> None:
    quote = make_quote(CALL, delta=0.22)  # mark 0.0102

    assert order_delta_coin(quote, Decimal(2), sell=True) == pytest.approx(-2 * (0.22 - 0.0102))
    assert order_delta_coin(quote, Decimal(2), sell=False) == pytest.approx(2 * (0.22 - 0.0102))


def test_margin_measures_out_of_the_money_distance_on_the_forward_like_the_simulator() -> None:
    quote = OptionQuote(
        instrument_name="BTC-27JUN25-110000-C",
        spec=make_quote().spec,
        index_price_usd=106_000.0,
        forward_usd=106_450.0,
        mark_price_coin=Decimal("0.04016069"),
    )

    usd = estimate_short_call_margin_usd(quote, Decimal("0.3"))

    simulator_coin = short_option_initial_margin(
        Decimal("0.3"), Decimal("0.04016069"), Decimal(110_000), Decimal(106_450), is_call=True
    )
    assert usd / Decimal(106_000) == pytest.approx(simulator_coin, abs=Decimal("1e-8"))
    assert simulator_coin == pytest.approx(Decimal("0.04704351"), abs=Decimal("2e-8"))


def test_theta_is_the_decay_over_at_most_the_remaining_life() -> None:
    model = MarketModel(seed=3, start=datetime(2025, 12, 10, 7, tzinfo=UTC))
    chain = model.chain("BTC")
    t_years = (chain["expiry_timestamp"] - model.now.timestamp()) / (365 * 86_400)
    forward = chain["underlying_price"].to_numpy()
    rate = black76.greeks(
        forward, chain["strike"], t_years, chain["mark_iv"] / 100, chain["option_type"] == "C"
    ).theta
    one_hour = t_years * 365 < 1

    assert one_hour.any()
    assert (~one_hour).any()
    np.testing.assert_allclose(
        chain["greek_theta"][one_hour], rate[one_hour] / 24, rtol=2e-3, atol=1e-3
    )
    np.testing.assert_allclose(
        chain["greek_theta"][~one_hour], rate[~one_hour], rtol=2e-3, atol=1e-3
    )

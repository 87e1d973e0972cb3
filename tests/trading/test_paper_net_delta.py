"""In dry run the paper book counts in net delta: the risk engine's, the cockpit's and Greg's.

A paper position (a dry-run fill) is in no exchange account, so the account's
`equity + delta_total` leaves it out; the state adds each paper row's premium-adjusted delta at
the tick's quote (`paper_delta_coin`), once, at state build and after the tick's own orders.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from greg.services.execution import _book
from tests.builders import make_quote
from trading.deribit.client import DeribitClient
from trading.domain.risk import OptionPosition, OptionQuote, order_delta_coin, paper_delta_coin
from trading.models import AgentStatus, Order, Position
from trading.services import controls_update, tick_run
from trading.services.controls import effective_params_load
from trading.services.state import TickState, state_build

SIZE = Decimal("0.1")


def _account_delta(client: DeribitClient, currency: str) -> float:
    """The exchange account's net delta (coins held included), read straight from it."""
    summary = client.get_account_summary(currency)
    return float(summary.equity) + summary.delta_total


def _state(client: DeribitClient) -> TickState:
    return state_build(client=client, params=effective_params_load(), expire=False)


def _published_net_delta() -> dict[str, float]:
    summary = AgentStatus.objects.get(pk=1).last_summary
    assert isinstance(summary, dict)
    net_delta: dict[str, float] = summary["portfolio"]["net_delta"]
    return net_delta


def _paper_short_call(state: TickState, currency: str = "BTC") -> OptionQuote:
    """A paper short call of SIZE on the best candidate (what a dry-run fill leaves)."""
    quote = state.inputs.quotes[state.evaluations[currency].ranked[0].instrument_name]
    assert quote.delta is not None
    assert quote.mark_price_coin is not None
    Position.objects.create(
        instrument_name=quote.instrument_name,
        currency=currency,
        paper=True,
        size=-SIZE,
        average_price_coin=quote.mark_price_coin,
    )
    return quote


def _short_delta(quote: OptionQuote) -> float:
    """A short SIZE of `quote` in net delta's convention: -(delta - mark) per coin."""
    assert quote.delta is not None
    assert quote.mark_price_coin is not None
    return -float(SIZE) * (quote.delta - float(quote.mark_price_coin))


@pytest.mark.django_db
def test_a_paper_short_call_lowers_the_dry_run_net_delta_and_the_cockpit_line_agrees(
    agent_settings, sim_client
):
    quote = _paper_short_call(_state(sim_client))
    account = _account_delta(sim_client, "BTC")

    state = _state(sim_client)

    net_delta = state.inputs.portfolio.net_delta["BTC"]
    assert net_delta == pytest.approx(account + _short_delta(quote), abs=1e-9)
    assert account - net_delta > 0.01  # a short call's delta, not rounding
    assert state.inputs.portfolio.net_delta["ETH"] == pytest.approx(
        _account_delta(sim_client, "ETH"), abs=1e-9
    )
    # The tick holds the BTC call (no second one there) and publishes the same figure.
    outcome = tick_run(trigger="test", client=sim_client, seed=1)
    assert outcome.orders  # (an ETH call: the published book is rebuilt after it)
    assert all(o.currency != "BTC" for o in outcome.orders)
    assert _published_net_delta()["BTC"] == pytest.approx(net_delta, abs=1e-9)
    # Greg judges against the same net delta (`book_inputs`).
    greg = _book(sim_client, effective_params_load(), "BTC", [])
    assert greg.portfolio.net_delta["BTC"] == pytest.approx(net_delta, abs=1e-9)


@pytest.mark.django_db
def test_a_dry_run_sale_moves_the_published_net_delta_once_and_the_next_state_agrees(
    agent_settings, sim_client
):
    before = _state(sim_client).inputs

    outcome = tick_run(trigger="test", client=sim_client, seed=1)

    (order,) = outcome.orders
    assert order.state == Order.State.SIMULATED
    assert order.direction == "sell"
    currency = order.currency
    published = _published_net_delta()
    quote = before.quotes[order.instrument_name]
    sold = order_delta_coin(quote, order.amount, sell=True)
    assert sold < -0.01
    assert published[currency] == pytest.approx(before.portfolio.net_delta[currency] + sold)
    # The next tick's state counts the paper row the same way: no jump, no double count.
    after = _state(sim_client).inputs.portfolio.net_delta
    assert after == pytest.approx(published, abs=1e-9)
    assert after[currency] == pytest.approx(_account_delta(sim_client, currency) + sold, abs=1e-9)


@pytest.mark.django_db
def test_paper_rows_move_net_delta_only_while_dry_run_is_on(agent_settings, sim_client):
    _paper_short_call(_state(sim_client))
    account = _account_delta(sim_client, "BTC")
    assert _state(sim_client).inputs.portfolio.net_delta["BTC"] < account - 0.01

    controls_update(changes={"dry_run": False}, user="test")
    live = _state(sim_client).inputs.portfolio

    assert all(not p.paper for p in live.positions)
    assert live.net_delta["BTC"] == pytest.approx(account, abs=1e-9)


def test_paper_delta_counts_only_paper_rows_with_a_quoted_delta() -> None:
    call, put, eth = "BTC-26DEC25-100000-C", "BTC-26DEC25-80000-P", "ETH-26DEC25-4000-C"
    quotes = {
        call: make_quote(call, delta=0.3, mark_price_coin=Decimal("0.01")),
        put: make_quote(put, delta=None),
        eth: make_quote(eth, delta=0.2, mark_price_coin=Decimal("0.005")),
    }
    positions = [
        OptionPosition(instrument_name=call, size=Decimal("-0.5"), paper=True),
        OptionPosition(instrument_name=call, size=Decimal("-2")),  # on the exchange: counted there
        OptionPosition(instrument_name=put, size=Decimal("-1"), paper=True),  # no delta
        OptionPosition(instrument_name=eth, size=Decimal("2"), paper=True),  # long
        OptionPosition(instrument_name="BTC-26DEC25-90000-C", size=Decimal("-1"), paper=True),
    ]

    moves = paper_delta_coin(positions, quotes)

    assert moves == pytest.approx({"BTC": -0.5 * (0.3 - 0.01), "ETH": 2 * (0.2 - 0.005)})

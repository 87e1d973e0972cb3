"""Expired options leave our books (`trading.services.expiry`), on the loopback simulator.

The bug this guards: in a dry run (the default) a paper call used to stay open after its
expiry, the policy found no ask to buy it back and kept counting it as held, so the agent never
sold another call on that underlying.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from tests.trading.agent_helpers import SIM_START
from trading.deribit.client import DeribitClient
from trading.deribit.simulator import SimulatedExchange
from trading.domain.instruments import parse_instrument
from trading.models import Decision, Order, Position, ReconciliationDiscrepancy
from trading.services import reconcile_run, tick_run
from trading.services.controls import controls_update
from trading.services.expiry import positions_expire

pytestmark = pytest.mark.django_db

DAY_S = 86_400


def delivery_price(client: DeribitClient, index: str, day: datetime) -> Decimal:
    """The exchange's delivery price of `index` on `day`, read independently of the service."""
    rows = client.get_delivery_prices(index, count=60).data
    (price,) = [r.delivery_price for r in rows if r.date == f"{day:%Y-%m-%d}"]
    return Decimal(repr(price))


def open_call(currency: str) -> Position:
    return Position.objects.get(status=Position.Status.OPEN, currency=currency)


def move_past(exchange: SimulatedExchange, expiry: datetime, minutes: int = 5) -> None:
    now_ms = exchange.clock.now_ms()
    target_ms = int((expiry + timedelta(minutes=minutes)).timestamp() * 1000)
    exchange.clock.advance((target_ms - now_ms) / 1000)


def test_a_paper_call_expires_at_the_delivery_price_and_the_agent_sells_again(
    agent_settings: Any, sim_client: DeribitClient, sim_exchange: SimulatedExchange
) -> None:
    tick_run(trigger="test", client=sim_client, seed=1)
    first = open_call("BTC")
    assert first.paper
    expiry = parse_instrument(first.instrument_name).expiry
    assert expiry is not None
    tick_run(trigger="test", client=sim_client, seed=2)
    tick_run(trigger="test", client=sim_client, seed=3)
    assert Decision.objects.latest("id").action == "DO_NOTHING"  # both underlyings hold a call
    first.refresh_from_db()
    assert first.status == Position.Status.OPEN  # not expired yet: untouched

    move_past(sim_exchange, expiry)
    tick_run(trigger="test", client=sim_client, seed=4)

    first.refresh_from_db()
    price = delivery_price(sim_client, "btc_usd", expiry)
    strike = parse_instrument(first.instrument_name).strike
    assert strike is not None
    assert first.status == Position.Status.CLOSED
    assert first.delivery_price_usd == price
    assert first.closed_at is not None
    payoff = max(price - strike, Decimal(0)) / price
    fee = min(Decimal("0.00015"), Decimal("0.125") * payoff) * abs(first.size) if payoff else 0
    assert first.settled_coin == (first.size * payoff - fee).quantize(Decimal("1e-10"))
    assert first.note.startswith(f"expired {expiry:%Y-%m-%d} 08:00 UTC at delivery price $")
    # The call no longer counts as held: within a tick or two (the ETH call, now near its own
    # expiry, may be rolled first: one action per tick) the agent sells a new BTC call.
    first_after = Decision.objects.latest("id").pk
    for seed in (5, 6):
        if Position.objects.filter(status=Position.Status.OPEN, currency="BTC").exists():
            break
        tick_run(trigger="test", client=sim_client, seed=seed)
    opened = Decision.objects.filter(pk__gte=first_after, action="OPEN_COVERED_CALL")
    assert list(opened.values_list("underlying", flat=True)) == ["BTC"]
    assert open_call("BTC").instrument_name != first.instrument_name
    assert not Decision.objects.filter(pk__gte=first_after, reason__contains=first.instrument_name)


def test_a_paper_call_in_the_money_pays_its_payoff_and_the_delivery_fee(
    agent_settings: Any, sim_client: DeribitClient, sim_exchange: SimulatedExchange
) -> None:
    # A deep in-the-money call sold on paper: it must pay max(S-K,0)/S per contract at expiry.
    name = "BTC-12DEC25-40000-C"
    row = Position.objects.create(
        instrument_name=name,
        currency="BTC",
        paper=True,
        size=Decimal("-0.3"),
        average_price_coin=Decimal("0.55"),
    )
    expiry = datetime(2025, 12, 12, 8, tzinfo=UTC)
    move_past(sim_exchange, expiry, minutes=1)
    now = expiry + timedelta(minutes=1)

    (closed,) = positions_expire(client=sim_client, now=now, exchange_positions=())

    row.refresh_from_db()
    s = delivery_price(sim_client, "btc_usd", expiry)
    payoff = (s - Decimal(40_000)) / s
    fee = Decimal("0.3") * Decimal("0.00015")  # 0.015% of the underlying, well under the cap
    expected = (Decimal("-0.3") * payoff - fee).quantize(Decimal("1e-10"))
    assert row.settled_coin == expected
    assert closed.settled_coin == expected
    assert expected < Decimal("-0.1")  # about 0.3 x 0.55 BTC: the call was deep in the money
    assert f"in the money, {expected:+.8f} BTC at delivery (fee included)" in row.note
    assert positions_expire(client=sim_client, now=now, exchange_positions=()) == []


def test_without_a_delivery_price_a_paper_call_waits_for_the_next_tick(
    agent_settings: Any, sim_client: DeribitClient, sim_exchange: SimulatedExchange
) -> None:
    row = Position.objects.create(
        instrument_name="ETH-12DEC25-3000-C", currency="ETH", paper=True, size=Decimal("-1")
    )
    expiry = datetime(2025, 12, 12, 8, tzinfo=UTC)
    move_past(sim_exchange, expiry)
    now = expiry + timedelta(minutes=5)
    sim_exchange.faults.inject("error", methods=["public/get_delivery_prices"], code=10001)

    assert positions_expire(client=sim_client, now=now, exchange_positions=()) == []
    row.refresh_from_db()
    assert row.status == Position.Status.OPEN

    (closed,) = positions_expire(client=sim_client, now=now, exchange_positions=())
    assert closed.delivery_price_usd == delivery_price(sim_client, "eth_usd", expiry)


def test_a_real_call_closes_as_expired_once_the_exchange_has_settled_it(
    agent_settings: Any, sim_client: DeribitClient, sim_exchange: SimulatedExchange
) -> None:
    controls_update(changes={"dry_run": False}, user="test")
    tick_run(trigger="test", client=sim_client, seed=1)
    row = open_call("BTC")
    assert not row.paper
    expiry = parse_instrument(row.instrument_name).expiry
    assert expiry is not None
    listed = sim_client.get_positions("any", "option")
    assert row.instrument_name in {p.instrument_name for p in listed}

    # Still on the exchange (it settles at 08:00; we look just after with the old listing).
    after = expiry + timedelta(minutes=1)
    assert positions_expire(client=sim_client, now=after, exchange_positions=listed) == []
    row.refresh_from_db()
    assert row.status == Position.Status.OPEN

    move_past(sim_exchange, expiry)
    run = reconcile_run(client=sim_client, action="report", trigger="test")

    row.refresh_from_db()
    assert row.status == Position.Status.CLOSED
    assert row.delivery_price_usd == delivery_price(sim_client, "btc_usd", expiry)
    assert row.note.endswith("; settled by the exchange")
    assert "1 expired position(s) closed" in run.summary
    assert not ReconciliationDiscrepancy.objects.filter(
        instrument_name=row.instrument_name
    ).exists()


def test_nothing_to_expire_asks_the_exchange_nothing(
    agent_settings: Any, sim_client: DeribitClient
) -> None:
    Position.objects.create(
        instrument_name="BTC-26DEC25-100000-C", currency="BTC", paper=True, size=Decimal("-0.1")
    )
    before = sim_client.request_count
    assert positions_expire(client=sim_client, now=SIM_START, exchange_positions=()) == []
    assert sim_client.request_count == before


def test_the_live_tab_and_the_api_show_the_pnl_and_the_expired_call(
    agent_settings: Any,
    sim_client: DeribitClient,
    sim_exchange: SimulatedExchange,
    logged_in_client: Any,
    admin_user: Any,
) -> None:
    tick_run(trigger="test", client=sim_client, seed=1)
    call = open_call("BTC")
    expiry = parse_instrument(call.instrument_name).expiry
    assert expiry is not None
    move_past(sim_exchange, expiry)
    tick_run(trigger="test", client=sim_client, seed=2)
    call.refresh_from_db()
    assert call.settled_coin is not None
    sold = sum(
        (o.filled_amount * o.average_price for o in Order.objects.filter(currency="BTC")),
        Decimal(0),
    )
    api = APIClient()
    api.force_authenticate(admin_user)

    body = api.get("/api/agent/pnl").json()

    (btc,) = [b for b in body["books"] if b["currency"] == "BTC"]
    assert btc["book"] == "paper"
    assert Decimal(btc["sold_coin"]) == sold
    assert Decimal(btc["settled_coin"]) == call.settled_coin
    assert Decimal(btc["net_coin"]) == sold + call.settled_coin
    assert btc["expired"] == 1
    assert APIClient().get("/api/agent/pnl").status_code == 401

    page = logged_in_client.get(reverse("trading:live")).content.decode()

    assert 'data-testid="pnl"' in page
    fees = sum((o.fee_coin for o in Order.objects.filter(currency="BTC")), Decimal(0))
    still_open = Position.objects.filter(currency="BTC", status="open")
    held = sum((-p.size * p.average_price_coin for p in still_open), Decimal(0))
    realised = sold + call.settled_coin - fees - held  # the open call's premium is at risk
    assert Decimal(btc["realised_coin"]) == realised
    assert f"{realised:.6f} BTC" in page
    closed = page[page.index('data-testid="closed-positions"') :].split("</table>")[0]
    assert call.instrument_name in closed
    assert f"${call.delivery_price_usd:,.2f}" in closed
    assert "expired" in closed

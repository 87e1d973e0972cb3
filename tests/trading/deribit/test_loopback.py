"""The client against the simulated exchange over a real loopback socket (uvicorn on 127.0.0.1).

Auth and refresh, every error family, the credit limiter, and each injected fault; after
"accept the order, then lose the reply" the client raises UnknownOutcomeError and resolving
by label finds exactly one order on the exchange.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from decimal import Decimal

import pytest

from tests.trading.deribit.conftest import CLIENT_ID, CLIENT_SECRET, FAST_RETRY, make_exchange
from trading.deribit.client import DeribitClient, RetryPolicy
from trading.deribit.errors import (
    ExchangeUnavailableError,
    InsufficientFundsError,
    InvalidCredentialsError,
    MaintenanceError,
    NotFoundError,
    OrderNotOpenError,
    RateLimitError,
    SettlementInProgressError,
    TickSizeError,
    UnknownOutcomeError,
)
from trading.deribit.limiter import CreditLimiter, LimiterConfig, NoLimiter
from trading.deribit.models import Instrument
from trading.deribit.simulator import ServerThread, SimulatedExchange, create_app


def a_call(client: DeribitClient) -> Instrument:
    """A liquid 26DEC25 BTC call a little above spot."""
    spot = client.get_index_price("btc_usd").index_price
    calls = [
        i
        for i in client.get_instruments("BTC")
        if i.option_type == "call" and "26DEC25" in i.instrument_name and (i.strike or 0) > spot
    ]
    return min(calls, key=lambda i: i.strike or 0)


def bid_of(client: DeribitClient, instrument: Instrument) -> Decimal:
    """Best bid as an exact decimal."""
    return Decimal(repr(client.ticker(instrument.instrument_name).best_bid_price))


def resting_sell_price(client: DeribitClient, instrument: Instrument) -> Decimal:
    """A sell price well above the ask (on the 0.0005 grid), so the order rests."""
    ask = Decimal(repr(client.ticker(instrument.instrument_name).best_ask_price))
    steps = ((ask + Decimal("0.005")) / Decimal("0.0005")).to_integral_value(
        rounding="ROUND_CEILING"
    )
    return steps * Decimal("0.0005")


def resting_buy_price(client: DeribitClient, instrument: Instrument) -> Decimal:
    """The lowest price the band accepts: a buy there rests."""
    return Decimal(repr(client.ticker(instrument.instrument_name).min_price))


# ------------------------------------------------------------------ auth


def test_it_refreshes_the_token_before_it_expires(
    loopback: ServerThread, loopback_exchange: SimulatedExchange
) -> None:
    now = [0.0]
    with DeribitClient(
        loopback.base_url,
        CLIENT_ID,
        CLIENT_SECRET,
        timeout_s=2.0,
        limiter=NoLimiter(),
        retry=FAST_RETRY,
        clock=lambda: now[0],
    ) as client:
        auth = client.authenticate()
        grants = dict(loopback_exchange.auth_grants)
        now[0] = 0.85 * auth.expires_in  # past 80% of the lifetime: refresh on next private call
        client.get_positions("BTC")
        assert loopback_exchange.auth_grants["refresh_token"] == grants.get("refresh_token", 0) + 1
        assert loopback_exchange.auth_grants["client_credentials"] == grants["client_credentials"]
        now[0] = 10 * auth.expires_in  # expired locally: a fresh client-credentials login
        client.get_positions("BTC")
        assert (
            loopback_exchange.auth_grants["client_credentials"] == grants["client_credentials"] + 1
        )


def test_it_reauthenticates_when_the_exchange_rejects_its_token(
    loopback_client: DeribitClient, loopback_exchange: SimulatedExchange
) -> None:
    loopback_client.get_account_summary("BTC")
    before = loopback_exchange.auth_grants["client_credentials"]
    loopback_exchange.revoke_tokens()  # the server forgets the session: next call gets 13009
    summary = loopback_client.get_account_summary("BTC")
    assert summary.currency == "BTC"
    assert loopback_exchange.auth_grants["client_credentials"] == before + 1


def test_it_raises_invalid_credentials_for_a_wrong_secret(loopback: ServerThread) -> None:
    with (
        DeribitClient(
            loopback.base_url, CLIENT_ID, "wrong", timeout_s=2.0, retry=FAST_RETRY
        ) as client,
        pytest.raises(InvalidCredentialsError) as caught,
    ):
        client.get_positions("BTC")
    assert caught.value.code == 13004


def test_it_never_logs_secrets_or_tokens(
    loopback_client: DeribitClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="trading.deribit")  # `runagent` quiets it in-process
    auth = loopback_client.authenticate()
    loopback_client.get_positions("BTC")
    loopback_client.authenticate()
    assert caplog.records, "the client logs its requests at DEBUG"
    for secret in (CLIENT_SECRET, auth.access_token, auth.refresh_token):
        assert secret not in caplog.text
    assert CLIENT_SECRET not in repr(loopback_client)


# ------------------------------------------------------------------ error families


def test_it_maps_business_errors_to_typed_exceptions(
    loopback_client: DeribitClient, loopback_exchange: SimulatedExchange
) -> None:
    call = a_call(loopback_client)
    with pytest.raises(NotFoundError):
        loopback_client.ticker("BTC-1JAN20-1000-C")
    with pytest.raises(TickSizeError) as tick:
        loopback_client.sell(call.instrument_name, Decimal("0.1"), price=Decimal("0.00015"))
    assert tick.value.data == {"param": "price", "reason": "must conform to tick size"}
    ask = Decimal(repr(loopback_client.ticker(call.instrument_name).best_ask_price))
    with pytest.raises(InsufficientFundsError):
        loopback_client.buy(call.instrument_name, Decimal("9000"), price=ask)  # > 10 BTC
    filled = loopback_client.sell(
        call.instrument_name, Decimal("0.1"), price=bid_of(loopback_client, call)
    )
    with pytest.raises(OrderNotOpenError):
        loopback_client.cancel(filled.order.order_id)


def test_it_refuses_orders_during_the_settlement_window(
    loopback_client: DeribitClient, loopback_exchange: SimulatedExchange
) -> None:
    call = a_call(loopback_client)
    label = "settling-1"
    loopback_exchange.open_settlement_window(60)
    try:
        with pytest.raises(SettlementInProgressError):
            loopback_client.sell(
                call.instrument_name, Decimal("0.1"), price=Decimal("0.01"), label=label
            )
    finally:
        loopback_exchange.settlement_until_ms = -1
    assert loopback_client.get_order_state_by_label("BTC", label) == []


def test_it_retries_reads_through_a_10028_burst_and_gives_up_after_the_cap(
    loopback_client: DeribitClient, loopback_exchange: SimulatedExchange
) -> None:
    loopback_exchange.faults.inject("rate_limit", count=1, methods=["private/get_positions"])
    assert loopback_client.get_positions("BTC") is not None  # retried, re-authenticated
    loopback_exchange.faults.inject("rate_limit", count=10, methods=["public/get_index_price"])
    with pytest.raises(RateLimitError) as caught:
        loopback_client.get_index_price("btc_usd")
    assert caught.value.code == 10028
    assert loopback_exchange.faults.fired.count(("rate_limit", "public/get_index_price")) == 3


def test_it_retries_maintenance_and_5xx_replies_on_reads(
    loopback_client: DeribitClient, loopback_exchange: SimulatedExchange
) -> None:
    loopback_exchange.faults.inject("error", code=11051, message="system_maintenance", count=2)
    assert loopback_client.get_time() > 0
    loopback_exchange.faults.inject("error", code=11051, message="system_maintenance", count=5)
    with pytest.raises(MaintenanceError):
        loopback_client.get_time()
    loopback_exchange.faults.clear()
    loopback_exchange.faults.inject("http_5xx", status=502, count=1)
    assert loopback_client.get_time() > 0
    loopback_exchange.faults.inject("malformed_json", count=1, methods=["public/get_time"])
    assert loopback_client.get_time() > 0
    assert loopback_exchange.faults.fired[-2:] == [
        ("http_5xx", "public/get_time"),
        ("malformed_json", "public/get_time"),
    ]
    loopback_exchange.faults.inject("http_5xx", status=503, count=5)
    with pytest.raises(ExchangeUnavailableError) as caught:
        loopback_client.get_time()
    assert caught.value.http_status == 503


# ------------------------------------------------------------------ faults on orders


@pytest.fixture
def short_timeout_client(
    loopback: ServerThread, loopback_exchange: SimulatedExchange
) -> Iterator[DeribitClient]:
    """A client that gives up on a reply after 0.5 s."""
    with DeribitClient(
        loopback.base_url,
        CLIENT_ID,
        CLIENT_SECRET,
        timeout_s=0.5,
        limiter=NoLimiter(),
        retry=FAST_RETRY,
    ) as client:
        client.authenticate()
        yield client


def test_it_resolves_an_accepted_order_whose_reply_was_lost_to_exactly_one_order(
    short_timeout_client: DeribitClient, loopback_exchange: SimulatedExchange
) -> None:
    client = short_timeout_client
    call = a_call(client)
    sells_before = loopback_exchange.request_counts["private/sell"]
    loopback_exchange.faults.inject("drop_reply", methods=["private/sell"], hang_s=2.0)
    with pytest.raises(UnknownOutcomeError) as caught:
        client.sell(call.instrument_name, Decimal("0.3"), price=resting_sell_price(client, call))
    label = caught.value.label
    assert label
    assert caught.value.instrument_name == call.instrument_name
    assert loopback_exchange.request_counts["private/sell"] == sells_before + 1  # never resent
    (order,) = client.get_order_state_by_label("BTC", label)
    assert (order.order_state, order.amount, order.label) == ("open", Decimal("0.3"), label)
    assert client.cancel_by_label(label) == 1


@pytest.mark.parametrize(
    ("fault", "fields", "orders_on_exchange"),
    [
        ("timeout", {"hang_s": 2.0}, 0),  # lost before the engine: nothing happened
        ("http_5xx", {"status": 502}, 0),  # a gateway refused it: nothing happened
        ("malformed_json", {}, 1),  # executed, reply garbled
        ("drop_reply", {"hang_s": 2.0}, 1),  # executed, reply lost
    ],
)
def test_it_reports_unknown_outcome_for_every_lost_order_reply(
    short_timeout_client: DeribitClient,
    loopback_exchange: SimulatedExchange,
    fault: str,
    fields: dict[str, object],
    orders_on_exchange: int,
) -> None:
    client = short_timeout_client
    call = a_call(client)
    loopback_exchange.faults.inject(fault, methods=["private/buy"], **fields)  # type: ignore[arg-type]
    with pytest.raises(UnknownOutcomeError) as caught:
        client.buy(
            call.instrument_name,
            Decimal("0.1"),
            price=resting_buy_price(client, call),
            label=f"lost-{fault}",
        )
    orders = client.get_order_state_by_label("BTC", caught.value.label)
    assert len(orders) == orders_on_exchange
    client.cancel_by_label(caught.value.label)


def test_it_does_not_resend_an_order_refused_with_10041(
    loopback_client: DeribitClient, loopback_exchange: SimulatedExchange
) -> None:
    call = a_call(loopback_client)
    before = loopback_exchange.request_counts["private/buy"]
    loopback_exchange.faults.inject("settlement", methods=["private/buy"])
    with pytest.raises(SettlementInProgressError):
        loopback_client.buy(
            call.instrument_name, Decimal("0.1"), price=resting_buy_price(loopback_client, call)
        )
    assert loopback_exchange.faults.fired[-1] == ("settlement", "private/buy")
    assert loopback_exchange.request_counts["private/buy"] == before  # refused at the gateway


def test_it_waits_out_added_latency(
    loopback_client: DeribitClient, loopback_exchange: SimulatedExchange
) -> None:
    loopback_exchange.faults.inject("latency", latency_s=0.2, count=1)
    assert loopback_client.get_time() > 0
    assert ("latency", "public/get_time") in loopback_exchange.faults.fired


def test_it_retries_a_read_that_timed_out(
    short_timeout_client: DeribitClient, loopback_exchange: SimulatedExchange
) -> None:
    loopback_exchange.faults.inject("timeout", hang_s=2.0, methods=["public/get_index_price"])
    assert short_timeout_client.get_index_price("btc_usd").index_price > 0
    assert loopback_exchange.faults.fired[-1] == ("timeout", "public/get_index_price")


# ------------------------------------------------------------------ the limiter


@pytest.fixture
def rate_limited_server() -> Iterator[ServerThread]:
    """A loopback exchange enforcing 50 requests/s with a burst of 10 per client."""
    limits = LimiterConfig(non_matching_rate_per_s=50, non_matching_burst=10)
    server = ServerThread(create_app(make_exchange(rate_limits=limits))).start()
    yield server
    server.stop()


def test_the_limiter_keeps_the_client_under_the_exchange_credit_limit(
    rate_limited_server: ServerThread,
) -> None:
    limits = LimiterConfig(non_matching_rate_per_s=50, non_matching_burst=10)
    limiter = CreditLimiter(limits)
    with DeribitClient(
        rate_limited_server.base_url,
        timeout_s=2.0,
        limiter=limiter,
        retry=RetryPolicy(max_attempts=1),
    ) as client:
        for _ in range(30):
            client.get_time()  # would be refused from the 11th on without pacing
    assert limiter.waited_s > 0
    assert rate_limited_server.app.exchange.request_counts["public/get_time"] == 30


def test_without_the_limiter_the_exchange_answers_10028(rate_limited_server: ServerThread) -> None:
    with (
        DeribitClient(
            rate_limited_server.base_url,
            timeout_s=2.0,
            limiter=NoLimiter(),
            retry=RetryPolicy(max_attempts=1),
        ) as client,
        pytest.raises(RateLimitError),
    ):
        hammer(client, times=60)


def hammer(client: DeribitClient, *, times: int) -> None:
    """Ask for the time as fast as possible."""
    for _ in range(times):
        client.get_time()

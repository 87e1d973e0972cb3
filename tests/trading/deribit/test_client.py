"""DeribitClient behaviour that needs no socket: URLs, caching, retries, labels, error mapping."""

from __future__ import annotations

import json
import random
from decimal import Decimal

import httpx
import pytest

from tests.trading.deribit.conftest import CLIENT_ID, CLIENT_SECRET, make_client
from trading.deribit.client import DeribitClient, RetryPolicy, new_order_label, redact_params
from trading.deribit.errors import (
    AuthError,
    ExchangeUnavailableError,
    InvalidCredentialsError,
    InvalidParamsError,
    MainnetRefusedError,
    MaintenanceError,
    NotFoundError,
    OrderNotOpenError,
    OrderRejectedError,
    RateLimitError,
    SettlementInProgressError,
    TickSizeError,
    UnknownOutcomeError,
    error_from_response,
)
from trading.deribit.limiter import NoLimiter
from trading.deribit.simulator import SimulatedExchange


def test_it_refuses_the_mainnet_url_without_the_explicit_opt_in() -> None:
    with pytest.raises(MainnetRefusedError):
        DeribitClient("https://www.deribit.com/api/v2", timeout_s=1.0)
    DeribitClient("https://www.deribit.com/api/v2", timeout_s=1.0, allow_mainnet=True).close()
    DeribitClient("https://test.deribit.com/api/v2", timeout_s=1.0).close()


def test_it_caches_instruments_for_the_ttl(exchange: SimulatedExchange) -> None:
    now = [0.0]
    with make_client(exchange, clock=lambda: now[0], instruments_ttl_s=300.0) as sim_client:
        first = sim_client.get_instruments("BTC")
        assert sim_client.get_instruments("BTC") is first
        assert exchange.request_counts["public/get_instruments"] == 1
        now[0] = 301.0
        sim_client.get_instruments("BTC")
        assert exchange.request_counts["public/get_instruments"] == 2


def test_it_sends_exact_decimals_and_reads_them_back(sim_client: DeribitClient) -> None:
    call = next(i for i in sim_client.get_instruments("BTC") if i.option_type == "call")
    price = Decimal(repr(sim_client.ticker(call.instrument_name).min_price))
    result = sim_client.buy(call.instrument_name, Decimal("0.3"), price=price, label="exact")
    assert (result.order.price, result.order.amount) == (price, Decimal("0.3"))
    assert isinstance(result.order.amount, Decimal)


def test_it_labels_every_order_so_a_lost_reply_can_be_resolved(
    exchange: SimulatedExchange, sim_client: DeribitClient
) -> None:
    call = next(i for i in sim_client.get_instruments("BTC") if i.option_type == "call")
    price = Decimal(repr(sim_client.ticker(call.instrument_name).min_price))
    exchange.faults.inject("malformed_json", methods=["private/buy"])
    with pytest.raises(UnknownOutcomeError) as caught:
        sim_client.buy(call.instrument_name, Decimal("0.1"), price=price)  # no label given
    assert caught.value.label.startswith("od-")
    (order,) = sim_client.get_order_state_by_label("BTC", caught.value.label)
    assert order.order_state == "open"
    assert new_order_label() != new_order_label()


def test_it_backs_off_with_capped_jitter_between_read_retries(exchange: SimulatedExchange) -> None:
    delays: list[float] = []
    policy = RetryPolicy(max_attempts=5, base_delay_s=0.2, max_delay_s=0.5)
    with make_client(
        exchange, retry=policy, sleep=delays.append, rng=random.Random(7)
    ) as sim_client:
        exchange.faults.inject("error", code=10028, message="too_many_requests", count=4)
        assert sim_client.get_time() > 0
    assert len(delays) == 4
    ceilings = [min(0.5, 0.2 * 2**n) for n in range(4)]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))


def test_it_never_retries_an_order_that_may_have_been_executed(exchange: SimulatedExchange) -> None:
    sleeps: list[float] = []
    with make_client(exchange, sleep=sleeps.append) as sim_client:
        call = next(i for i in sim_client.get_instruments("BTC") if i.option_type == "call")
        price = Decimal(repr(sim_client.ticker(call.instrument_name).min_price))
        exchange.faults.inject("http_5xx", status=502, methods=["private/buy"], count=3)
        with pytest.raises(UnknownOutcomeError):
            sim_client.buy(call.instrument_name, Decimal("0.1"), price=price, label="once")
    assert exchange.faults.fired.count(("http_5xx", "private/buy")) == 1
    assert sleeps == []


def test_it_reports_a_connection_failure_before_an_order_as_nothing_sent() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with (
        DeribitClient(
            "http://127.0.0.1:9/api/v2",
            CLIENT_ID,
            CLIENT_SECRET,
            timeout_s=1.0,
            transport=httpx.MockTransport(refuse),
            limiter=NoLimiter(),
            retry=RetryPolicy(max_attempts=1),
        ) as sim_client,
        pytest.raises(ExchangeUnavailableError) as caught,
    ):
        sim_client.sell("BTC-26DEC25-100000-C", Decimal("0.1"), price=Decimal("0.01"))
    assert not isinstance(caught.value, UnknownOutcomeError)
    assert caught.value.request_sent is False


def test_it_sends_every_request_as_json_rpc_without_secrets_in_the_url() -> None:
    seen: list[httpx.Request] = []

    def reply(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = json.loads(request.content)
        result = (
            {"access_token": "t", "refresh_token": "r", "expires_in": 900, "scope": "s"}
            if body["method"] == "public/auth"
            else []
        )
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": body["id"], "result": result})

    with DeribitClient(
        "https://test.deribit.com/api/v2",
        CLIENT_ID,
        CLIENT_SECRET,
        timeout_s=1.0,
        transport=httpx.MockTransport(reply),
        limiter=NoLimiter(),
    ) as sim_client:
        sim_client.get_positions("BTC")
    auth, positions = seen
    assert auth.method == "POST"
    assert CLIENT_SECRET not in str(auth.url)
    assert json.loads(auth.content)["params"]["client_secret"] == CLIENT_SECRET
    assert positions.headers["Authorization"] == "Bearer t"
    assert str(positions.url) == "https://test.deribit.com/api/v2/private/get_positions"
    assert redact_params({"client_secret": "x", "currency": "BTC"}) == {
        "client_secret": "***",
        "currency": "BTC",
    }


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ({"code": 13009, "message": "unauthorized"}, AuthError),
        ({"code": 10000, "message": "authorization_required"}, AuthError),
        ({"code": 13004, "message": "invalid_credentials"}, InvalidCredentialsError),
        ({"code": 10028, "message": "too_many_requests"}, RateLimitError),
        ({"code": 10041, "message": "settlement_in_progress"}, SettlementInProgressError),
        ({"code": 11051, "message": "system_maintenance"}, MaintenanceError),
        ({"code": -32602, "message": "Invalid params"}, InvalidParamsError),
        (
            {
                "code": -32602,
                "message": "Invalid params",
                "data": {"param": "price", "reason": "must conform to tick size"},
            },
            TickSizeError,
        ),
        ({"code": 13020, "message": "not_found"}, NotFoundError),
        ({"code": 10004, "message": "order_not_found"}, NotFoundError),
        ({"code": 11044, "message": "not_open_order"}, OrderNotOpenError),
        ({"code": 11054, "message": "post_only_reject"}, OrderRejectedError),
    ],
)
def test_it_maps_deribit_error_codes_to_error_families(
    error: dict[str, object], expected: type[Exception]
) -> None:
    raised = error_from_response(error, method="private/buy")
    assert type(raised) is expected
    assert raised.code == error["code"]
    assert "private/buy" in str(raised)


def test_it_rejects_an_unknown_order_direction(sim_client: DeribitClient) -> None:
    with pytest.raises(ValueError, match="direction"):
        sim_client.place_order("short", "BTC-PERPETUAL", Decimal("10"))

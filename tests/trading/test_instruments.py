"""Deribit instrument names, expiry calendar, time to expiry, specs and Decimal quantisation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading.domain.instruments import (
    BelowMinimumAmountError,
    ContractSpec,
    TickStep,
    default_spec,
    dte_days,
    expiry_cycle,
    expiry_datetime,
    format_instrument,
    is_on_tick,
    last_friday,
    listed_expiries,
    next_expiry_after,
    parse_instrument,
    quantize_amount,
    quantize_price,
    settlement_period,
    t_years,
    tick_size_at,
)

BTC_OPTION = default_spec("BTC-27DEC24-100000-C")


# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "kind", "settlement", "strike", "option_type", "inverse"),
    [
        ("BTC-27DEC24-100000-C", "option", "BTC", Decimal(100000), "C", True),
        ("BTC_USDC-27DEC24-100000-C", "option", "USDC", Decimal(100000), "C", False),
        ("ETH-8DEC25-3200-P", "option", "ETH", Decimal(3200), "P", True),
        ("XRP_USDC-30MAY25-2d2-C", "option", "USDC", Decimal("2.2"), "C", False),
        ("BTC-27DEC24", "future", "BTC", None, None, True),
        ("BTC-PERPETUAL", "perpetual", "BTC", None, None, True),
        ("ETH_USDC-PERPETUAL", "perpetual", "USDC", None, None, False),
    ],
)
def test_it_parses_deribit_names_and_formats_them_back(
    name: str, kind: str, settlement: str, strike: Decimal | None, option_type: str | None,
    inverse: bool,
) -> None:  # fmt: skip
    parsed = parse_instrument(name)
    assert (parsed.kind, parsed.settlement, parsed.strike) == (kind, settlement, strike)
    assert parsed.option_type == option_type
    assert parsed.is_inverse is inverse
    if parsed.expiry is not None:
        assert parsed.expiry.hour == 8
        assert parsed.expiry.tzinfo is not None
    rebuilt = format_instrument(
        parsed.currency,
        parsed.expiry,
        parsed.strike,
        parsed.option_type,
        settlement=parsed.settlement,
    )
    assert rebuilt == name


@pytest.mark.parametrize(
    "name",
    ["", "BTC", "BTC-31FEB25-1000-C", "BTC-27XYZ24-1000-C", "BTC-27DEC24-1000-X", "btc-perpetual",
     "BTC-27DEC24-0-C", "BTC-27DEC24--C"],
)  # fmt: skip
def test_it_rejects_malformed_names(name: str) -> None:
    with pytest.raises(ValueError):
        parse_instrument(name)


def test_it_rejects_incomplete_option_formatting() -> None:
    with pytest.raises(ValueError, match="strike"):
        format_instrument("BTC", date(2024, 12, 27), strike=100000)
    with pytest.raises(ValueError, match="expiry"):
        format_instrument("BTC", None, strike=100000, option_type="C")


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["BTC", "ETH", "SOL"]),
    st.dates(min_value=date(2020, 1, 1), max_value=date(2099, 12, 31)),
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10**7), places=2),
    st.sampled_from(["C", "P"]),
    st.sampled_from([None, "USDC"]),
)
def test_format_and_parse_round_trip(
    currency: str, day: date, strike: Decimal, option_type: str, settlement: str | None
) -> None:
    name = format_instrument(currency, day, strike, option_type, settlement=settlement)
    parsed = parse_instrument(name)
    assert parsed.strike == strike
    assert parsed.expiry == expiry_datetime(day)
    assert parsed.option_type == option_type


# ---------------------------------------------------------------------------------------------
# Time and calendar
# ---------------------------------------------------------------------------------------------
def test_it_measures_time_to_expiry_in_365_day_years_and_days() -> None:
    expiry = expiry_datetime(date(2025, 6, 27))
    now = datetime(2025, 5, 29, 12, tzinfo=UTC)
    assert dte_days(expiry, now) == pytest.approx(28 + 20 / 24)
    assert t_years(expiry, now) == pytest.approx((28 + 20 / 24) / 365)
    assert t_years(expiry, expiry + timedelta(hours=1)) < 0
    with pytest.raises(ValueError, match="timezone"):
        t_years(expiry, datetime(2025, 5, 29, 12))


def test_it_knows_the_expiry_cycles() -> None:
    assert last_friday(2025, 12) == date(2025, 12, 26)
    assert expiry_cycle(date(2025, 12, 26)) == "quarterly"
    assert expiry_cycle(date(2026, 1, 30)) == "monthly"
    assert expiry_cycle(date(2025, 12, 19)) == "weekly"
    assert expiry_cycle(date(2025, 12, 11)) == "daily"
    assert settlement_period(date(2026, 1, 30)) == "month"
    assert settlement_period(date(2025, 12, 19)) == "week"
    assert settlement_period(date(2025, 12, 11)) == "day"


def test_it_lists_the_expiries_alive_at_a_moment() -> None:
    now = datetime(2025, 12, 10, 9, 0, tzinfo=UTC)
    expiries = listed_expiries(now, dailies=3, weeklies=2, monthlies=2, quarterlies=3)
    days = [e.date() for e in expiries]
    assert days[:3] == [date(2025, 12, 11), date(2025, 12, 12), date(2025, 12, 13)]
    assert date(2025, 12, 19) in days  # weekly Friday
    assert date(2025, 12, 26) in days  # December quarterly
    assert date(2026, 1, 30) in days  # monthly
    assert date(2026, 6, 26) in days  # June quarterly
    assert all(e > now and e.hour == 8 for e in expiries)
    assert expiries == sorted(set(expiries))


def test_the_next_expiry_is_strictly_after_now() -> None:
    at_expiry = datetime(2025, 12, 10, 8, 0, tzinfo=UTC)
    assert next_expiry_after(at_expiry) == datetime(2025, 12, 11, 8, 0, tzinfo=UTC)
    before = datetime(2025, 12, 10, 7, 59, tzinfo=UTC)
    assert next_expiry_after(before) == at_expiry


# ---------------------------------------------------------------------------------------------
# Specs and quantisation
# ---------------------------------------------------------------------------------------------
def test_it_builds_specs_from_deribit_instrument_entries() -> None:
    entry = {
        "kind": "option",
        "contract_size": 1.0,
        "min_trade_amount": 0.1,
        "tick_size": 0.0001,
        "tick_size_steps": [{"above_price": 0.005, "tick_size": 0.0005}],
    }
    assert ContractSpec.from_deribit(entry) == BTC_OPTION
    perpetual = ContractSpec.from_deribit(
        {"kind": "future", "settlement_period": "perpetual", "contract_size": 10,
         "min_trade_amount": 10, "tick_size": 0.5, "tick_size_steps": None}
    )  # fmt: skip
    assert perpetual.instrument_kind == "perpetual"
    assert perpetual.tick_size_steps == ()
    with pytest.raises(ValueError, match="tick_size"):
        ContractSpec.from_deribit({"kind": "option", "contract_size": 1, "min_trade_amount": 1})
    with pytest.raises(KeyError):
        default_spec("BTC_USDC-27DEC24-100000-C")


def test_it_uses_the_coarser_tick_above_the_step() -> None:
    assert tick_size_at(Decimal("0.0049"), BTC_OPTION) == Decimal("0.0001")
    assert tick_size_at(Decimal("0.005"), BTC_OPTION) == Decimal("0.0005")
    assert is_on_tick(Decimal("0.0049"), BTC_OPTION)
    assert not is_on_tick(Decimal("0.0051"), BTC_OPTION)
    assert quantize_price(Decimal("0.0123"), BTC_OPTION, "buy") == Decimal("0.0120")
    assert quantize_price(Decimal("0.0123"), BTC_OPTION, "sell") == Decimal("0.0125")
    assert quantize_price(Decimal("0.00499"), BTC_OPTION, "sell") == Decimal("0.0050")
    assert quantize_price(Decimal("0.00001"), BTC_OPTION, "buy") == Decimal("0.0001")


def test_it_rounds_amounts_down_and_refuses_dust() -> None:
    assert quantize_amount(Decimal("0.37"), BTC_OPTION) == Decimal("0.3")
    with pytest.raises(BelowMinimumAmountError):
        quantize_amount(Decimal("0.05"), BTC_OPTION)
    with pytest.raises(ValueError):
        quantize_amount(Decimal("-1"), BTC_OPTION)


ODD_SPEC = ContractSpec(
    "option",
    Decimal(1),
    Decimal("0.3"),
    Decimal("0.0003"),
    (TickStep(Decimal("0.0071"), Decimal("0.0007")), TickStep(Decimal("0.05"), Decimal("0.004"))),
)
specs = st.sampled_from([BTC_OPTION, default_spec("BTC-PERPETUAL"), ODD_SPEC])
prices = st.decimals(min_value=Decimal("0"), max_value=Decimal("200000"), places=6)


@settings(max_examples=300, deadline=None)
@given(prices, specs, st.sampled_from(["buy", "sell", "nearest"]))
def test_quantised_prices_are_always_on_tick_and_at_least_one_tick(
    price: Decimal, spec: ContractSpec, side: str
) -> None:
    result = quantize_price(price, spec, side)  # type: ignore[arg-type]
    assert is_on_tick(result, spec)
    assert result >= spec.tick_size
    if price >= spec.tick_size:
        if side == "buy":
            assert result <= price
        if side == "sell":
            assert result >= price
        coarsest = max([spec.tick_size, *(step.tick_size for step in spec.tick_size_steps)])
        assert abs(result - price) < 2 * coarsest


@settings(max_examples=300, deadline=None)
@given(st.decimals(min_value=Decimal("0"), max_value=Decimal("100000"), places=4), specs)
def test_quantised_amounts_are_multiples_of_the_minimum_and_never_larger(
    amount: Decimal, spec: ContractSpec
) -> None:
    try:
        result = quantize_amount(amount, spec)
    except BelowMinimumAmountError:
        assert amount < spec.min_trade_amount
        return
    assert result >= spec.min_trade_amount
    assert result % spec.min_trade_amount == 0
    assert amount - spec.min_trade_amount < result <= amount


def test_it_rejects_invalid_values_and_specs() -> None:
    parsed = parse_instrument("BTC-27DEC24-100000-P")
    assert parsed.is_option
    assert not parsed.is_call
    with pytest.raises(ValueError, match="positive"):
        format_instrument("BTC", date(2024, 12, 27), strike=0, option_type="C")
    with pytest.raises(ValueError, match="C or P"):
        format_instrument("BTC", date(2024, 12, 27), strike=1000, option_type="X")
    with pytest.raises(ValueError, match="finite"):
        quantize_price(Decimal("NaN"), BTC_OPTION, "buy")
    with pytest.raises(ValueError, match="side"):
        quantize_price(Decimal("0.01"), BTC_OPTION, "hold")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        ContractSpec("option", Decimal(1), Decimal(0), Decimal("0.0001"))
    with pytest.raises(ValueError, match="above the base"):
        ContractSpec(
            "option",
            Decimal(1),
            Decimal(1),
            Decimal("0.01"),
            (TickStep(Decimal("0.001"), Decimal("0.1")),),
        )
    base = {"contract_size": 1, "min_trade_amount": 1, "tick_size": 0.01}
    with pytest.raises(ValueError, match="list"):
        ContractSpec.from_deribit({**base, "tick_size_steps": 5})
    with pytest.raises(ValueError, match="kind"):
        ContractSpec.from_deribit({**base, "kind": "spot"})
    with pytest.raises(ValueError, match="number"):
        ContractSpec.from_deribit({**base, "tick_size": [1]})
    with pytest.raises(KeyError):
        default_spec("SOL-PERPETUAL")

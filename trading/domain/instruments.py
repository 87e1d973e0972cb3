"""Deribit instruments: names, expiry calendar, time to expiry, contract specs and quantisation.

Names: ``BTC-27DEC24-100000-C`` (inverse option), ``BTC_USDC-27DEC24-100000-C`` (linear option),
``XRP_USDC-30MAY25-2d2-C`` (``d`` marks a decimal point), ``BTC-27DEC24`` (future),
``BTC-PERPETUAL`` / ``BTC_USDC-PERPETUAL`` (perpetuals). Every expiry is at 08:00 UTC.

Quantisation works on ``Decimal`` only (the order path) and can never return an off-tick price
or an amount below the minimum: it rounds in the trader's favour, clamps to one tick, or raises.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Literal

Kind = Literal["option", "future", "perpetual"]
OptionType = Literal["C", "P"]
Side = Literal["buy", "sell", "nearest"]
DecimalLike = Decimal | int | str | float

MONTH_CODES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
MONTH_NUMBER = {code: index + 1 for index, code in enumerate(MONTH_CODES)}
QUARTER_MONTHS = (3, 6, 9, 12)
EXPIRY_TIME_UTC = time(8, 0, tzinfo=UTC)
SECONDS_PER_YEAR = 365.0 * 86400.0
SECONDS_PER_DAY = 86400.0

_NAME_RE = re.compile(
    r"^(?P<ccy>[A-Z][A-Z0-9]*)(?:_(?P<settle>[A-Z][A-Z0-9]*))?-"
    r"(?:(?P<perp>PERPETUAL)|(?P<day>\d{1,2})(?P<mon>[A-Z]{3})(?P<yy>\d{2})"
    r"(?:-(?P<strike>\d+(?:d\d+)?)-(?P<cp>[CP]))?)$"
)


# ---------------------------------------------------------------------------------------------
# Instrument names
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Instrument:
    """A parsed Deribit instrument name.

    ``settlement`` is the coin for inverse products (BTC, ETH) and e.g. "USDC" for linear ones;
    ``expiry`` is 08:00 UTC on the expiry day (None for perpetuals); ``strike`` is USD.
    """

    name: str
    currency: str
    settlement: str
    kind: Kind
    expiry: datetime | None
    strike: Decimal | None
    option_type: OptionType | None

    @property
    def is_inverse(self) -> bool:
        """True when the contract is margined and settled in the underlying coin."""
        return self.settlement == self.currency

    @property
    def is_option(self) -> bool:
        """True for options."""
        return self.kind == "option"

    @property
    def is_call(self) -> bool:
        """True for call options."""
        return self.option_type == "C"


def parse_instrument(name: str) -> Instrument:
    """Parse a Deribit instrument name; ``ValueError`` naming the problem when it is malformed."""
    match = _NAME_RE.match(name.strip()) if isinstance(name, str) else None
    if match is None:
        raise ValueError(f"not a Deribit instrument name: {name!r}")
    currency = match["ccy"]
    settlement = match["settle"] or currency
    if match["perp"]:
        return Instrument(name, currency, settlement, "perpetual", None, None, None)
    month = MONTH_NUMBER.get(match["mon"])
    if month is None:
        raise ValueError(f"unknown month code {match['mon']!r} in {name!r}")
    try:
        expiry_day = date(2000 + int(match["yy"]), month, int(match["day"]))
    except ValueError as exc:
        raise ValueError(f"invalid expiry date in {name!r}: {exc}") from None
    expiry = expiry_datetime(expiry_day)
    if match["strike"] is None:
        return Instrument(name, currency, settlement, "future", expiry, None, None)
    strike = Decimal(match["strike"].replace("d", "."))
    if strike <= 0:
        raise ValueError(f"strike must be positive in {name!r}")
    option_type: OptionType = "C" if match["cp"] == "C" else "P"
    return Instrument(name, currency, settlement, "option", expiry, strike, option_type)


def format_expiry_code(expiry: date | datetime) -> str:
    """Deribit's expiry code, day not zero-padded: ``27DEC24``, ``8DEC25``."""
    return f"{expiry.day}{MONTH_CODES[expiry.month - 1]}{expiry.year % 100:02d}"


def format_strike(strike: DecimalLike) -> str:
    """Strike as Deribit writes it: integers plainly, decimals with ``d`` (2.2 -> ``2d2``)."""
    value = to_decimal(strike)
    if value <= 0:
        raise ValueError(f"strike must be positive, got {strike}")
    text = format(value.normalize(), "f")
    return text.replace(".", "d")


def format_instrument(
    currency: str,
    expiry: date | datetime | None = None,
    strike: DecimalLike | None = None,
    option_type: str | None = None,
    *,
    settlement: str | None = None,
) -> str:
    """Build a Deribit name: option (all parts), future (expiry only) or perpetual (neither).

    ``settlement`` other than the currency gives a linear name such as ``BTC_USDC-...``.
    """
    prefix = currency if settlement in (None, currency) else f"{currency}_{settlement}"
    if expiry is None:
        if strike is not None or option_type is not None:
            raise ValueError("an option needs an expiry")
        return f"{prefix}-PERPETUAL"
    code = f"{prefix}-{format_expiry_code(expiry)}"
    if strike is None and option_type is None:
        return code
    if strike is None or option_type is None:
        raise ValueError("an option needs both a strike and an option type")
    kind = option_type.upper()[:1]
    if kind not in ("C", "P"):
        raise ValueError(f"option type must be C or P, got {option_type!r}")
    return f"{code}-{format_strike(strike)}-{kind}"


# ---------------------------------------------------------------------------------------------
# Time to expiry and the expiry calendar
# ---------------------------------------------------------------------------------------------
def expiry_datetime(day: date | datetime) -> datetime:
    """08:00 UTC on the given expiry day (Deribit's settlement time)."""
    return datetime(day.year, day.month, day.day, 8, 0, tzinfo=UTC)


def _require_utc(moment: datetime, label: str) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{label} must be timezone-aware (UTC), got naive {moment!r}")
    return moment.astimezone(UTC)


def t_years(expiry: datetime, now: datetime) -> float:
    """Time to expiry in years of 365 days; negative once expired."""
    delta = _require_utc(expiry, "expiry") - _require_utc(now, "now")
    return delta.total_seconds() / SECONDS_PER_YEAR


def dte_days(expiry: datetime, now: datetime) -> float:
    """Days to expiry (fractional, calendar days); negative once expired."""
    delta = _require_utc(expiry, "expiry") - _require_utc(now, "now")
    return delta.total_seconds() / SECONDS_PER_DAY


def last_friday(year: int, month: int) -> date:
    """The last Friday of a month (Deribit's monthly and quarterly expiry day)."""
    last_day = calendar.monthrange(year, month)[1]
    day = date(year, month, last_day)
    return day - timedelta(days=(day.weekday() - calendar.FRIDAY) % 7)


def next_expiry_after(now: datetime) -> datetime:
    """The first 08:00 UTC strictly after ``now`` (the nearest daily expiry)."""
    now = _require_utc(now, "now")
    candidate = expiry_datetime(now.date())
    return candidate if candidate > now else candidate + timedelta(days=1)


ExpiryCycle = Literal["daily", "weekly", "monthly", "quarterly"]


def expiry_cycle(expiry: date | datetime) -> ExpiryCycle:
    """Longest cycle an expiry day belongs to: quarterly > monthly > weekly (Friday) > daily."""
    day = expiry.date() if isinstance(expiry, datetime) else expiry
    if day == last_friday(day.year, day.month):
        return "quarterly" if day.month in QUARTER_MONTHS else "monthly"
    return "weekly" if day.weekday() == calendar.FRIDAY else "daily"


def settlement_period(expiry: date | datetime) -> Literal["day", "week", "month"]:
    """Deribit's ``settlement_period`` field for an expiry: month, week or day."""
    cycle = expiry_cycle(expiry)
    if cycle in ("monthly", "quarterly"):
        return "month"
    return "week" if cycle == "weekly" else "day"


def listed_expiries(
    now: datetime,
    *,
    dailies: int = 4,
    weeklies: int = 3,
    monthlies: int = 3,
    quarterlies: int = 4,
) -> list[datetime]:
    """Deribit-style option expiries alive at ``now``, sorted and unique (08:00 UTC each).

    The next ``dailies`` days, ``weeklies`` Fridays, ``monthlies`` last Fridays of a month and
    ``quarterlies`` last Fridays of Mar/Jun/Sep/Dec. (Deribit's exact counts vary over time.)
    """
    first = next_expiry_after(now)
    found = {first + timedelta(days=i) for i in range(dailies)}
    friday = first + timedelta(days=(calendar.FRIDAY - first.weekday()) % 7)
    found |= {friday + timedelta(weeks=i) for i in range(weeklies)}
    found |= set(_month_ends(first, monthlies, quarterly=False))
    found |= set(_month_ends(first, quarterlies, quarterly=True))
    return sorted(found)


def _month_ends(first: datetime, count: int, *, quarterly: bool) -> Iterable[datetime]:
    year, month = first.year, first.month
    produced = 0
    while produced < count:
        if not quarterly or month in QUARTER_MONTHS:
            expiry = expiry_datetime(last_friday(year, month))
            if expiry >= first:
                produced += 1
                yield expiry
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


# ---------------------------------------------------------------------------------------------
# Contract specs and Decimal quantisation
# ---------------------------------------------------------------------------------------------
def to_decimal(value: DecimalLike) -> Decimal:
    """Exact Decimal of a value; floats go through ``repr`` so 0.1 stays 0.1."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, float):
        result = Decimal(repr(value))
    else:
        result = Decimal(value)
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


@dataclass(frozen=True, slots=True)
class TickStep:
    """Above ``above_price`` the tick becomes ``tick_size`` (Deribit ``tick_size_steps``)."""

    above_price: Decimal
    tick_size: Decimal


@dataclass(frozen=True, slots=True)
class ContractSpec:
    """Trading terms of an instrument (amounts in coin for options, USD for inverse futures)."""

    instrument_kind: Kind
    contract_size: Decimal
    min_trade_amount: Decimal
    tick_size: Decimal
    tick_size_steps: tuple[TickStep, ...] = ()

    def __post_init__(self) -> None:
        """Reject specs that would make quantisation ill-defined."""
        if self.tick_size <= 0 or self.min_trade_amount <= 0 or self.contract_size <= 0:
            raise ValueError("tick size, minimum amount and contract size must be positive")
        if any(s.tick_size <= 0 or s.above_price <= self.tick_size for s in self.tick_size_steps):
            raise ValueError("tick_size_steps need positive ticks above the base tick size")

    @classmethod
    def from_deribit(cls, instrument: Mapping[str, object]) -> ContractSpec:
        """Build from a ``public/get_instruments`` entry (``tick_size_steps`` may be null)."""
        steps_raw = instrument.get("tick_size_steps") or []
        if not isinstance(steps_raw, Sequence):
            raise ValueError("tick_size_steps must be a list of {above_price, tick_size}")
        steps = tuple(
            TickStep(_decimal_field(step, "above_price"), _decimal_field(step, "tick_size"))
            for step in steps_raw
        )
        kind = str(instrument.get("kind", "option"))
        if kind not in ("option", "future", "perpetual"):
            raise ValueError(f"unsupported instrument kind {kind!r}")
        if kind == "future" and str(instrument.get("settlement_period")) == "perpetual":
            kind = "perpetual"
        return cls(
            instrument_kind=kind,  # type: ignore[arg-type]
            contract_size=_decimal_field(instrument, "contract_size"),
            min_trade_amount=_decimal_field(instrument, "min_trade_amount"),
            tick_size=_decimal_field(instrument, "tick_size"),
            tick_size_steps=tuple(sorted(steps, key=lambda step: step.above_price)),
        )


def _decimal_field(row: object, key: str) -> Decimal:
    if not isinstance(row, Mapping) or row.get(key) is None:
        raise ValueError(f"instrument spec is missing {key!r}")
    value = row[key]
    if not isinstance(value, Decimal | int | str | float):
        raise ValueError(f"{key!r} must be a number, got {value!r}")
    return to_decimal(value)


_OPTION_STEPS = (TickStep(Decimal("0.005"), Decimal("0.0005")),)
_TICK = Decimal("0.0001")
_DEFAULT_SPECS: dict[tuple[str, str], ContractSpec] = {
    ("BTC", "option"): ContractSpec("option", Decimal(1), Decimal("0.1"), _TICK, _OPTION_STEPS),
    ("ETH", "option"): ContractSpec("option", Decimal(1), Decimal(1), _TICK, _OPTION_STEPS),
    ("BTC", "perpetual"): ContractSpec("perpetual", Decimal(10), Decimal(10), Decimal("0.5")),
    ("ETH", "perpetual"): ContractSpec("perpetual", Decimal(1), Decimal(1), Decimal("0.05")),
    ("BTC", "future"): ContractSpec("future", Decimal(10), Decimal(10), Decimal("2.5")),
    ("ETH", "future"): ContractSpec("future", Decimal(1), Decimal(1), Decimal("0.25")),
}  # fmt: skip


def default_spec(instrument: Instrument | str) -> ContractSpec:
    """Deribit's published terms for inverse BTC/ETH options, futures and perpetuals.

    Why: the simulator and tests need specs offline. Live code should prefer
    ``ContractSpec.from_deribit`` on ``public/get_instrument``; linear (USDC) contract terms are
    not documented reliably, so they raise ``KeyError`` here.
    """
    parsed = parse_instrument(instrument) if isinstance(instrument, str) else instrument
    if not parsed.is_inverse:
        raise KeyError(f"no offline spec for linear instrument {parsed.name}; fetch it")
    try:
        return _DEFAULT_SPECS[(parsed.currency, parsed.kind)]
    except KeyError:
        raise KeyError(f"no offline spec for {parsed.name}; fetch it") from None


def tick_size_at(price: DecimalLike, spec: ContractSpec) -> Decimal:
    """The tick that applies at ``price`` (the coarsest step whose ``above_price`` it reaches)."""
    value = to_decimal(price)
    tick = spec.tick_size
    for step in spec.tick_size_steps:
        if value >= step.above_price:
            tick = step.tick_size
    return tick


def is_on_tick(price: DecimalLike, spec: ContractSpec) -> bool:
    """True when ``price`` is a positive multiple of the tick that applies at it."""
    value = to_decimal(price)
    return value > 0 and value % tick_size_at(value, spec) == 0


_ROUNDING = {"buy": ROUND_FLOOR, "sell": ROUND_CEILING, "nearest": ROUND_HALF_EVEN}


def quantize_price(price: DecimalLike, spec: ContractSpec, side: Side) -> Decimal:
    """Round a limit price onto the tick grid in the trader's favour.

    ``buy`` rounds down (never pay more), ``sell`` rounds up (never receive less), ``nearest``
    rounds half-even. Prices below one tick become one tick, the smallest valid price.
    Rounding can cross a ``tick_size_steps`` boundary, so it repeats with the tick that applies
    at the result until the result is on its own grid (floor as a last resort always is).
    """
    if side not in _ROUNDING:
        raise ValueError(f"side must be buy, sell or nearest, got {side!r}")
    value = to_decimal(price)
    for rounding in (_ROUNDING[side],) * (len(spec.tick_size_steps) + 1) + (ROUND_FLOOR,) * (
        len(spec.tick_size_steps) + 1
    ):
        value = max(value, spec.tick_size)
        tick = tick_size_at(value, spec)
        value = (value / tick).to_integral_value(rounding=rounding) * tick
        if is_on_tick(value, spec):
            return value
    raise AssertionError(f"tick grid of {spec} is inconsistent")  # pragma: no cover


class BelowMinimumAmountError(ValueError):
    """An order amount rounds to less than the instrument's minimum trade amount."""


def quantize_amount(amount: DecimalLike, spec: ContractSpec) -> Decimal:
    """Round an order amount down to a multiple of ``min_trade_amount`` (never trade more).

    Raises ``BelowMinimumAmountError`` when the result would be below the minimum.
    """
    value = to_decimal(amount)
    step = spec.min_trade_amount
    if value < 0:
        raise ValueError(f"amount must be non-negative, got {amount}")
    rounded = (value / step).to_integral_value(rounding=ROUND_FLOOR) * step
    if rounded < step:
        raise BelowMinimumAmountError(f"amount {amount} is below the minimum {step}")
    return rounded

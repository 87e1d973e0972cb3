"""One number format for every dashboard table: money with its unit, signs as a true minus.

`{% load units %}` then `{{ x|coin:"BTC" }}` -> "0.001234 BTC", `{{ x|usd }}` -> "$1,234.56"
(negatives with a true minus sign, U+2212), `{{ x|pct }}` -> "12.3%", `{{ x|num:2 }}` ->
"1,234.57", `{{ x|figure }}` -> "10,000" (a setting: no trailing zeros). Missing values
(None, "", NaN) read "n/a" everywhere, never 0.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any

from django import template

register = template.Library()

MINUS = "\u2212"
MISSING = "n/a"


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(Decimal(str(value)))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return number if math.isfinite(number) else None


def _signed(text: str, negative: bool) -> str:
    return f"{MINUS}{text}" if negative else text


@register.filter
def num(value: Any, digits: int = 2) -> str:
    """A plain number with thousands separators and `digits` decimals."""
    number = _number(value)
    if number is None:
        return MISSING
    return _signed(
        f"{abs(number):,.{int(digits)}f}", number < 0 and round(number, int(digits)) != 0
    )


@register.filter
def coin(value: Any, currency: str = "") -> str:
    """An amount of coin: six decimals and the coin's name ("0.001234 BTC")."""
    text = num(value, 6)
    return text if text == MISSING or not currency else f"{text} {currency}"


@register.filter
def usd(value: Any, digits: int = 2) -> str:
    """Dollars: "$1,234.56", negative "-$1,234.56" (true minus sign)."""
    number = _number(value)
    if number is None:
        return MISSING
    negative = number < 0 and round(number, int(digits)) != 0
    return _signed(f"${abs(number):,.{int(digits)}f}", negative)


@register.filter
def pct(value: Any, digits: int = 1) -> str:
    """A percentage already in percent: "12.3%"."""
    text = num(value, digits)
    return text if text == MISSING else f"{text}%"


@register.filter
def frac_pct(value: Any, digits: int = 1) -> str:
    """A fraction shown as a percentage: 0.123 -> "12.3%"."""
    number = _number(value)
    return MISSING if number is None else pct(number * 100, digits)


@register.filter
def figure(value: Any, digits: int = 6) -> str:
    """A setting or parameter as people write it: thousands separators, no trailing zeros
    (10000.0 -> "10,000", 0.25 -> "0.25"), at most `digits` decimals. Text and booleans pass
    through ("on"/"off" for booleans)."""
    if value is True or value is False:
        return "on" if value else "off"
    if value is None or value == "":
        return MISSING
    if not isinstance(value, int | float | Decimal):
        return str(value)
    number = _number(value)
    if number is None:
        return MISSING
    text = f"{abs(number):,.{int(digits)}f}".rstrip("0").rstrip(".")
    return _signed(text, number < 0 and text != "0")


@register.filter
def scaled(value: Any, factor: float = 1) -> float | None:
    """`value` x `factor` (a greek per $1,000 instead of per $1); missing stays missing."""
    number = _number(value)
    return None if number is None else number * float(factor)


@register.filter
def signclass(value: Any) -> str:
    """ "pos", "neg" or "" for colouring a figure."""
    number = _number(value)
    if number is None or number == 0:
        return ""
    return "pos" if number > 0 else "neg"

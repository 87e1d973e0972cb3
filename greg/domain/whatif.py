"""What a suggestion would have made if followed: its legs valued at later marks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict


class WhatIf(BaseModel):
    """P&L (USD) of following a suggestion, valued at ``marks`` and ``index_price``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    credit_usd: float
    value_usd: float
    pnl_usd: float
    legs_at_intrinsic: int


def whatif_value(
    legs: Sequence[Mapping[str, Any]], *, marks: Mapping[str, float], index_price: float
) -> WhatIf:
    """Entry credit minus the cost to close now; a leg no longer quoted is worth its intrinsic
    value at the index (it expired or was delisted)."""
    credit = 0.0
    cost = 0.0
    intrinsic_legs = 0
    for leg in legs:
        sign = 1.0 if leg["side"] == "sell" else -1.0
        amount = float(leg["amount"])
        credit += sign * float(leg["price_coin"]) * amount
        mark = marks.get(str(leg["instrument_name"]))
        if mark is None:
            strike = float(leg["strike"])
            itm = index_price - strike if leg["option_type"] == "C" else strike - index_price
            mark = max(itm, 0.0) / index_price
            intrinsic_legs += 1
        cost += sign * mark * amount
    entry_index = float(legs[0].get("entry_index_usd") or index_price) if legs else index_price
    credit_usd = credit * entry_index
    value_usd = cost * index_price
    return WhatIf(
        credit_usd=credit_usd,
        value_usd=value_usd,
        pnl_usd=credit_usd - value_usd,
        legs_at_intrinsic=intrinsic_legs,
    )

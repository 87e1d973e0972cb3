"""Contract specifications of the simulated exchange's instruments, as Deribit lists them.

Inverse BTC/ETH options: contract 1 coin, minimum and step 0.1 BTC / 1 ETH, tick 0.0001 below
0.005 and 0.0005 from 0.005 (`tick_size_steps`), maker = taker 0.0003. Perpetuals: BTC 10 USD
contracts with tick 0.5, ETH 1 USD contracts with tick 0.05.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from trading.deribit.errors import InvalidParamsError, TickSizeError
from trading.domain.instruments import (
    ContractSpec,
    default_spec,
    is_on_tick,
    settlement_period,
    tick_size_at,
)
from trading.domain.market_model import PERPETUAL_EXPIRY_MS

MAX_LABEL_LENGTH = 64


@dataclass(frozen=True)
class InstrumentSpec:
    """What the matching engine needs to know about an instrument.

    The trading terms (`contract`) are Deribit's published ones from
    `trading.domain.instruments.default_spec`.
    """

    instrument_name: str
    currency: str
    kind: str  # "option" or "future"
    instrument_id: int
    expiry_ms: int
    creation_ms: int
    contract: ContractSpec
    strike: Decimal | None = None
    is_call: bool | None = None

    @property
    def tick_size(self) -> Decimal:
        """Base tick."""
        return self.contract.tick_size

    @property
    def tick_size_steps(self) -> tuple[tuple[Decimal, Decimal], ...]:
        """(above_price, tick_size) steps."""
        return tuple((s.above_price, s.tick_size) for s in self.contract.tick_size_steps)

    @property
    def min_trade_amount(self) -> Decimal:
        """Minimum and step of an order amount (coin for options, USD for the perpetual)."""
        return self.contract.min_trade_amount

    @property
    def contract_size(self) -> Decimal:
        """Contract size (1 coin for options, USD for inverse perpetuals)."""
        return self.contract.contract_size

    @property
    def is_option(self) -> bool:
        """True for options (premium in coin), False for the perpetual (USD amounts)."""
        return self.kind == "option"

    def tick_for(self, price: Decimal) -> Decimal:
        """Tick that applies at `price`."""
        return tick_size_at(price, self.contract)

    def check_price(self, price: Decimal) -> None:
        """Raise -32602 (param price) unless `price` is positive and on the tick grid."""
        if price <= 0:
            raise InvalidParamsError(data={"param": "price", "reason": "must be positive"})
        if not is_on_tick(price, self.contract):
            raise TickSizeError()

    def check_amount(self, amount: Decimal) -> None:
        """Raise -32602 (param amount) unless `amount` is a positive multiple of the step."""
        if amount <= 0 or amount % self.min_trade_amount != 0:
            raise InvalidParamsError(
                data={
                    "param": "amount",
                    "reason": f"must be a multiple of min_trade_amount {self.min_trade_amount}",
                }
            )

    def to_json(self) -> dict[str, Any]:
        """The instrument as `public/get_instruments` lists it."""
        if self.is_option:
            return self._option_json()
        return self._perpetual_json()

    def _option_json(self) -> dict[str, Any]:
        expiry = datetime.fromtimestamp(self.expiry_ms / 1000, tz=UTC)
        return {
            "instrument_name": self.instrument_name,
            "instrument_id": self.instrument_id,
            "kind": "option",
            "option_type": "call" if self.is_call else "put",
            "strike": float(self.strike or 0),
            "expiration_timestamp": self.expiry_ms,
            "creation_timestamp": self.creation_ms,
            "is_active": True,
            "settlement_period": settlement_period(expiry),
            "contract_size": 1,
            "min_trade_amount": float(self.min_trade_amount),
            "tick_size": float(self.tick_size),
            "tick_size_steps": [
                {"above_price": float(a), "tick_size": float(t)} for a, t in self.tick_size_steps
            ],
            "maker_commission": 0.0003,
            "taker_commission": 0.0003,
            "block_trade_commission": 0.0003,
            "block_trade_min_trade_amount": 25 if self.currency == "BTC" else 250,
            "block_trade_tick_size": 0.0001,
            "base_currency": self.currency,
            "quote_currency": self.currency,
            "counter_currency": "USD",
            "settlement_currency": self.currency,
            "instrument_type": "reversed",
            "price_index": f"{self.currency.lower()}_usd",
            "rfq": False,
        }

    def _perpetual_json(self) -> dict[str, Any]:
        return {
            "instrument_name": self.instrument_name,
            "instrument_id": self.instrument_id,
            "kind": "future",
            "expiration_timestamp": PERPETUAL_EXPIRY_MS,
            "creation_timestamp": self.creation_ms,
            "is_active": True,
            "settlement_period": "perpetual",
            "contract_size": int(self.contract_size),
            "min_trade_amount": float(self.min_trade_amount),
            "tick_size": float(self.tick_size),
            "tick_size_steps": [],
            "maker_commission": 0.0,
            "taker_commission": 0.0005,
            "max_leverage": 50,
            "max_liquidation_commission": 0.0075,
            "block_trade_commission": 0.00025,
            "block_trade_min_trade_amount": 200000,
            "block_trade_tick_size": 0.01,
            "base_currency": self.currency,
            "quote_currency": "USD",
            "counter_currency": "USD",
            "settlement_currency": self.currency,
            "instrument_type": "reversed",
            "future_type": "reversed",
            "price_index": f"{self.currency.lower()}_usd",
            "rfq": False,
        }


def perpetual_spec(currency: str, creation_ms: int) -> InstrumentSpec:
    """Specification of `<CCY>-PERPETUAL`."""
    name = f"{currency}-PERPETUAL"
    return InstrumentSpec(
        instrument_name=name,
        currency=currency,
        kind="future",
        instrument_id=(124_972 if currency == "BTC" else 124_973),
        expiry_ms=PERPETUAL_EXPIRY_MS,
        creation_ms=creation_ms,
        contract=default_spec(name),
    )


def option_spec(
    *,
    instrument_name: str,
    currency: str,
    instrument_id: int,
    expiry_ms: int,
    creation_ms: int,
    strike: float,
    is_call: bool,
) -> InstrumentSpec:
    """Specification of an inverse option."""
    return InstrumentSpec(
        instrument_name=instrument_name,
        currency=currency,
        kind="option",
        instrument_id=instrument_id,
        expiry_ms=expiry_ms,
        creation_ms=creation_ms,
        contract=default_spec(instrument_name),
        strike=Decimal(repr(float(strike))),
        is_call=is_call,
    )


def check_label(label: str) -> None:
    """Raise -32602 (param label) when a label is longer than Deribit's 64 characters."""
    if len(label) > MAX_LABEL_LENGTH:
        raise InvalidParamsError(
            data={"param": "label", "reason": f"at most {MAX_LABEL_LENGTH} characters"}
        )

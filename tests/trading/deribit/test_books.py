"""The simulator's books: the named operations matching and settlement use, and no ring."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

from trading.deribit.simulator.accounts import Account
from trading.deribit.simulator.books import SimBooks
from trading.deribit.simulator.instruments import perpetual_spec
from trading.deribit.simulator.orders import SimOrder

SIMULATOR = Path(__file__).resolve().parents[3] / "trading" / "deribit" / "simulator"


def _books() -> SimBooks:
    return SimBooks([Account(account_id=1, username="a", client_id="a", client_secret="s")])


def _order(books: SimBooks, account_id: int = 1) -> SimOrder:
    spec = perpetual_spec("BTC", 0)
    return SimOrder(
        order_id=books.next_id("order", "BTC"),
        account_id=account_id,
        spec=spec,
        direction="buy",
        order_type="limit",
        time_in_force="good_til_cancelled",
        price=Decimal(90_000),
        amount=Decimal(10),
        label="",
        post_only=False,
        reject_post_only=False,
        reduce_only=False,
        creation_ms=0,
        last_update_ms=0,
    )


def test_it_numbers_ids_per_kind_with_the_currency_prefix_outside_btc() -> None:
    books = _books()
    first, second = books.next_id("order", "BTC"), books.next_id("order", "ETH")
    assert int(second.removeprefix("ETH-")) == int(first) + 1
    assert books.next_id("trade", "BTC") != first


def test_it_closes_a_resting_order_out_of_the_book_but_keeps_it_on_record() -> None:
    books = _books()
    order = _order(books)
    books.add_order(order)
    books.rest(order)
    assert books.account_open_orders(books.account(1)) == [order]
    books.close_order(order, "cancelled", now_ms=42, reason="user_request")
    assert books.resting() == []
    assert books.account_orders(books.account(1)) == [order]
    assert (order.order_state, order.cancel_reason, order.last_update_ms) == (
        "cancelled",
        "user_request",
        42,
    )


def test_it_sees_only_the_accounts_own_orders() -> None:
    books = _books()
    other = Account(account_id=2, username="b", client_id="b", client_secret="s")
    books.accounts[2] = other
    mine, theirs = _order(books), _order(books, account_id=2)
    for order in (mine, theirs):
        books.add_order(order)
        books.rest(order)
    assert books.order_of(books.account(1), theirs.order_id) is None
    assert books.order_of(other, theirs.order_id) is theirs
    assert books.account_open_orders(other) == [theirs]


def test_depth_taken_adds_up_until_the_market_steps() -> None:
    books = _books()
    books.take("BTC-PERPETUAL", bids=True, price=Decimal(1), amount=Decimal(2))
    books.take("BTC-PERPETUAL", bids=True, price=Decimal(1), amount=Decimal(3))
    assert books.taken("BTC-PERPETUAL", bids=True) == {Decimal(1): Decimal(5)}
    assert books.taken("BTC-PERPETUAL", bids=False) == {}
    books.replenish()
    assert books.taken("BTC-PERPETUAL", bids=True) == {}


def test_trade_sequence_and_tick_direction_follow_each_instrument() -> None:
    books = _books()
    assert [books.next_trade_seq("A"), books.next_trade_seq("A"), books.next_trade_seq("B")] == [
        1,
        2,
        1,
    ]
    ticks = [books.tick_direction("A", Decimal(p)) for p in (10, 11, 11, 9)]
    assert ticks == [0, 0, 1, 2]


def test_no_simulator_module_imports_another_inside_a_function() -> None:
    hidden = []
    for path in sorted(SIMULATOR.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and (inner.module or "").startswith(
                    "trading.deribit"
                ):
                    hidden.append(f"{path.name}:{inner.lineno} {inner.module}")
    assert hidden == []

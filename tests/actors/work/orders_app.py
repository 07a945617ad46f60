"""A tiny app that serves customers, written against the public API and kit only.

Customers (non-members) sign orders; a member's node carries each one as the app's ``Order``
transaction; the fold checks the customer's signature and sequence number (the kit's
``CustomerBook``) and keeps the orders it took.  Tests load it in-process and, through an
entry point, in real nodes (tests/actors/work/test_customer_processes.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from peoplenet.plugins.api import (
    AppCommandError,
    AppSpec,
    AppTxRejected,
    Arg,
    CommandSpec,
    FoldContext,
    NodeContext,
    Record,
    Value,
    hookimpl,
    wire_type,
)
from peoplenet.plugins.kit import (
    CUSTOMER_COMMAND,
    CUSTOMER_EVENTS,
    CustomerBook,
    CustomerRequest,
    InvalidCustomerRequest,
    check_carried,
    customer_event,
)

NAME = "orders"


@wire_type(996)
@dataclass(frozen=True, slots=True)
class Order(Record):
    """A customer's order, carried by a member's node: the customer signed ``request``."""

    request: CustomerRequest


@wire_type(997)
@dataclass(frozen=True, slots=True)
class Serve(Record):
    """A member serves order number ``order`` (1, 2, ...): a later event for its customer."""

    order: int


@dataclass
class State:
    book: CustomerBook = field(default_factory=CustomerBook)
    orders: list[tuple[bytes, int, Value]] = field(default_factory=list)
    digests: list[bytes] = field(default_factory=list)
    served: set[int] = field(default_factory=set)


SPEC = AppSpec(
    name=NAME,
    version="0.1",
    summary="orders customers sign and members carry",
    tx_types=(Order, Serve),
    commands=(
        CommandSpec(CUSTOMER_COMMAND, "carry a customer's signed order", (Arg("request", "any"),)),
        CommandSpec("serve", "serve an order", (Arg("order", "int"),)),
        CommandSpec("list", "the orders taken", read_only=True),
    ),
)


@hookimpl
def peoplenet_app() -> AppSpec:
    return SPEC


@hookimpl
def peoplenet_new_state(community: bytes, settings: Any) -> State:
    return State()


@hookimpl
def peoplenet_check_tx(state: State, tx: Record, ctx: FoldContext) -> None:
    if isinstance(tx, Serve):
        if not 1 <= tx.order <= len(state.orders) or tx.order in state.served:
            raise AppTxRejected("unknown_order", f"no order {tx.order} to serve")
        return
    assert isinstance(tx, Order)
    state.book.admit(tx.request, ctx, NAME)


@hookimpl
def peoplenet_apply_tx(state: State, tx: Record, ctx: FoldContext) -> Value:
    if isinstance(tx, Serve):
        state.served.add(tx.order)
        event = customer_event(state.digests[tx.order - 1], "served", f"order {tx.order}")
        return {"served": tx.order, CUSTOMER_EVENTS: (event,)}
    assert isinstance(tx, Order)
    state.digests.append(tx.request.digest)
    body = state.book.accept(tx.request, ctx, NAME)
    state.orders.append((tx.request.customer, tx.request.seq, body))
    return {"order": len(state.orders)}


@hookimpl
def peoplenet_command(state: State, command: str, args: Any, node: NodeContext) -> Value:
    if command == CUSTOMER_COMMAND:
        try:
            req = check_carried(args.get("request"), state.book, node.fold, NAME)
        except (AppTxRejected, InvalidCustomerRequest) as exc:
            raise AppCommandError(exc.reason, getattr(exc, "detail", "")) from None
        node.submit(Order(req))
        return {"carried": req.seq}
    if command == "serve":
        node.submit(Serve(int(args.get("order", 0))))
        return {"serving": args.get("order")}
    orders: tuple[Value, ...] = tuple(
        {"customer": c.hex(), "seq": s, "body": b} for c, s, b in state.orders
    )
    return {"orders": orders, "customers": len(state.book)}


@hookimpl
def peoplenet_snapshot(state: State) -> Value:
    return {
        "book": state.book.to_value(),
        "orders": tuple(state.orders),
        "served": tuple(sorted(state.served)),
    }

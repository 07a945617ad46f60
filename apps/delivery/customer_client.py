"""The delivery commands of a customer (or a store) who is not a member, on their own data
directory.

``peoplenet delivery order|show|orders|cancel|rate|accept|refuse|preparing|ready --data D
COOP`` where ``D`` imported ``COOP``'s profile and runs no node.  Every step is a request
signed with the customer's key and carried by a member's node; what became of it the client
learns from members' receipts (more than a third of the profile): the request's outcome, the
``priced`` event (the price the fold computed from the rules in force, at most the customer's
``--max``) and the order's ``step_N`` events (its state after each change).

A customer holds no fold and no rules, so they give the most they will pay (``--max``); the
order is refused (``over_your_limit``) if the rules in force ask more.  They pay in cash.  The
exact addresses are sealed to the customer and the store; the store's node reseals them to
the courier.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Any, Final

from peoplenet.apps.delivery.commands import stops_of
from peoplenet.apps.delivery.fold import PRICED, STEP
from peoplenet.apps.delivery.places import Address, BadAddress, seal_address, stop_context
from peoplenet.apps.delivery.records import ORDER_LEN, CancelOrder, PlaceOrder, Rate, StoreAnswer
from peoplenet.plugins.api import AppCommandError, CustomerOutcome, CustomerSide, Record, Value
from peoplenet.plugins.kit import BadPoint, distance_m, member_arg, point_arg, text_arg

ORDERS: Final = "orders"
"""The kept value: order id hex -> what this phone knows of it."""
WAIT_S: Final = 30.0


def run(command: str, args: Mapping[str, Value], customer: CustomerSide) -> Value:
    handler = _COMMANDS.get(command)
    if handler is None:
        raise AppCommandError("members_only", f"{command} is a member's command")
    try:
        return handler(args, customer)
    except (BadPoint, BadAddress) as exc:
        raise AppCommandError(getattr(exc, "reason", "bad_argument"), str(exc)) from None


def _orders_kept(customer: CustomerSide) -> dict[str, Any]:
    kept = customer.kept(ORDERS)
    return dict(kept) if isinstance(kept, dict) else {}


def _order(args: Mapping[str, Value], customer: CustomerSide) -> Value:
    store = member_arg(args, "store")
    most = args.get("max")
    if type(most) is not int or most < 1:
        raise AppCommandError("bad_argument", "--max is the most you pay for the delivery, cents")
    pickup, dropoff = point_arg(args, "pickup"), point_arg(args, "dropoff")
    order = secrets.token_bytes(ORDER_LEN)
    readers = sorted({customer.me, store})
    places = (
        Address(text_arg(args, "pickup_address"), pickup),
        Address(text_arg(args, "dropoff_address"), dropoff, notes=text_arg(args, "notes")),
    )
    sealed = [
        seal_address(a, readers, stop_context(customer.community, order + bytes([i])))
        for i, a in enumerate(places)
    ]
    stops = stops_of(pickup, dropoff, args, _now_ms(), (sealed[0], sealed[1]))
    goods = args.get("goods") or 0
    if type(goods) is not int or goods < 0:
        raise AppCommandError("bad_argument", "--goods is cents, 0 or more")
    body = PlaceOrder(order, store, goods, stops, distance_m(pickup, dropoff), most, 0, "cash")
    digest = customer.send(body)
    kept = _orders_kept(customer)
    entry: dict[str, Any] = {"request": digest, "store": store.hex(), "steps": ()}
    kept[order.hex()] = entry
    customer.keep(ORDERS, kept)
    _applied(customer, digest, "order")
    priced = customer.outcome(digest, PRICED, WAIT_S)
    if priced is None:
        raise AppCommandError("no_receipts", "the order was taken but its price not receipted")
    price, version = (int(w) for w in priced.detail.split(" ")[:2])
    entry["price"], entry["rules_version"] = price, version
    customer.keep(ORDERS, kept)
    return {"order": order.hex(), "price": price, "rules_version": version, "method": "cash"}


def _applied(customer: CustomerSide, digest: bytes, what: str) -> CustomerOutcome:
    got = customer.outcome(digest, "", WAIT_S)
    if got is None:
        raise AppCommandError("no_receipts", f"no outcome of the {what} receipted yet")
    if got.status != "applied":
        raise AppCommandError(got.detail or "rejected", f"the cooperative rejected the {what}")
    return got


def _step(make: Callable[[bytes, Mapping[str, Value]], Record], name: str) -> _Handler:
    def send(args: Mapping[str, Value], customer: CustomerSide) -> Value:
        order = _order_id(args)
        digest = customer.send(make(order, args))
        got = _applied(customer, digest, name)
        return {"order": order.hex(), "submitted": name, "status": got.status}

    return send


def _show(args: Mapping[str, Value], customer: CustomerSide) -> Value:
    order = _order_id(args).hex()
    kept = _orders_kept(customer)
    entry = kept.get(order)
    if entry is None:
        raise AppCommandError("unknown_order", f"{order} is not one of your orders")
    shown = _follow(customer, order, entry)
    customer.keep(ORDERS, kept)
    return shown


def _orders(args: Mapping[str, Value], customer: CustomerSide) -> Value:
    kept = _orders_kept(customer)
    rows = [_follow(customer, order, entry) for order, entry in sorted(kept.items())]
    customer.keep(ORDERS, kept)
    return tuple({k: row[k] for k in _ROW} for row in rows)


_ROW: Final = ("order", "store", "customer", "state", "price", "rules_version", "tasks")


def _follow(customer: CustomerSide, order: str, entry: dict[str, Any]) -> dict[str, Value]:
    digest = entry["request"]
    steps: list[Any] = list(entry.get("steps") or ())
    while True:
        got = customer.outcome(digest, f"{STEP}{len(steps) + 1}")
        if got is None:
            break
        steps.append((got.detail, got.epoch, got.position, got.signers))
    entry["steps"] = tuple(steps)
    return {
        "order": order,
        "store": entry.get("store"),
        "customer": customer.me.hex(),
        "state": str(steps[-1][0]) if steps else "sent",
        "price": entry.get("price"),
        "rules_version": entry.get("rules_version"),
        "tasks": (),  # a customer sees the order through receipts: its state, not its tasks
        "steps": tuple(
            {"step": i + 1, "said": s[0], "epoch": s[1], "position": s[2], "signers": s[3]}
            for i, s in enumerate(steps)
        ),
    }


def _score(order: bytes, args: Mapping[str, Value]) -> Record:
    score = args.get("score")
    if type(score) is not int:
        raise AppCommandError("bad_argument", "--score is 1 to 5")
    return Rate(order, score)


def _now_ms() -> int:
    import time  # noqa: PLC0415 - a customer's phone clock, only when ordering

    return int(time.time() * 1000)


def _order_id(args: Mapping[str, Value]) -> bytes:
    text = args.get("order")
    try:
        order = bytes.fromhex(text.strip()) if isinstance(text, str) else b""
    except ValueError:
        order = b""
    if len(order) != ORDER_LEN:
        raise AppCommandError("bad_argument", "--order is the order's whole id (32 hex digits)")
    return order


_Handler = Callable[[Mapping[str, Value], CustomerSide], Value]
_COMMANDS: Final[dict[str, _Handler]] = {
    "order": _order,
    "show": _show,
    "orders": _orders,
    "cancel": _step(lambda o, a: CancelOrder(o, text_arg(a, "reason")), "cancel"),
    "rate": _step(_score, "rate"),
    "accept": _step(lambda o, a: StoreAnswer(o, "accept"), "accept"),
    "refuse": _step(lambda o, a: StoreAnswer(o, "refuse", text_arg(a, "reason")), "refuse"),
    "preparing": _step(lambda o, a: StoreAnswer(o, "preparing"), "preparing"),
    "ready": _step(lambda o, a: StoreAnswer(o, "ready"), "ready"),
}

__all__ = ["ORDERS", "run"]

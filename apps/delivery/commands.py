"""The delivery commands of a member's phone: a courier's, a store's, a customer's, the
dispatcher's.

Each reads the fold, computes what only the phone knows (the exact places -> cells and the
route's length, the sealed addresses, the time signed on the phone) and submits a
transaction; the fold judges it in the cooperative's order.  ``orders --json`` is a contract:
a list of ``{"order", "store", "customer", "state", "price", "rules_version", "tasks"}``,
``tasks`` a list of ``{"task", "kind", "state", "courier", "done_at"}``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Mapping
from typing import Final, TypeAlias

from peoplenet.apps.delivery.fold import DISPATCHER
from peoplenet.apps.delivery.orders import Order
from peoplenet.apps.delivery.places import (
    Address,
    BadAddress,
    address_context,
    opened,
    opened_position,
    seal_address,
    seal_position,
    stop_context,
)
from peoplenet.apps.delivery.policy import ESCROW
from peoplenet.apps.delivery.records import (
    DROPOFF,
    ORDER_LEN,
    PICKUP,
    TASK_LEN,
    AnswerTask,
    Assign,
    CancelOrder,
    CompleteTask,
    CourierOffline,
    CourierOnline,
    CustomerOrder,
    FailTask,
    MoveTour,
    PlaceOrder,
    Rate,
    Reorder,
    Repay,
    RestoreOrder,
    SettleDebt,
    StartTask,
    Stop,
    StoreAnswer,
    Track,
)
from peoplenet.apps.delivery.state import DeliveryState
from peoplenet.apps.delivery.tasks import DONE, Task
from peoplenet.plugins.api import (
    AppCommandError,
    AppTxRejected,
    Arg,
    CommandSpec,
    NodeContext,
    RemoteProtocolError,
    Value,
)
from peoplenet.plugins.kit import (
    COMMUNITY_COINS,
    CUSTOMER_COMMAND,
    BadPoint,
    InvalidCustomerRequest,
    Point,
    amount_arg,
    by_prefix,
    cell_of,
    check_carried,
    distance_m,
    member_arg,
    point_arg,
    text_arg,
)

MINUTE_MS: Final = 60_000
WINDOW_MIN: Final = 60
"""A stop's window when the order names none: from now, an hour."""

_ORDER = Arg("order", "text", "the order (its id, or a unique prefix of 6 or more hex digits)")
_TASK = Arg("task", "text", "the task (its id, or a unique prefix)")
_PLACE = (
    Arg("pickup", "text", "pickup LAT,LON"),
    Arg("dropoff", "text", "drop-off LAT,LON"),
)
_SIZE = (
    Arg("weight", "amount", "grams"),
    Arg("packages", "amount", "how many packages"),
    Arg("goods", "amount", "the goods' price, cents"),
)
COMMANDS: Final = (
    CommandSpec("online", "courier: take tasks near LAT,LON", (Arg("at", "text", "LAT,LON"),)),
    CommandSpec("offline", "courier: take no new tasks"),
    CommandSpec(
        "quote", "what a delivery would cost under the rules in force", (*_PLACE, *_SIZE), (), True
    ),
    CommandSpec(
        "order",
        "order from a store, delivered from PICKUP to DROPOFF",
        (
            Arg("store", "member", "the store"),
            *_PLACE,
            Arg("pickup_address", "text", "the pickup's street address"),
            Arg("dropoff_address", "text", "the drop-off's street address"),
            *_SIZE,
            Arg("within", "amount", "minutes from now the drop-off is due (default 60)"),
            Arg("notes", "text", "for the courier"),
            Arg("max", "amount", "(a customer, not a member) the most you pay for the delivery"),
        ),
    ),
    CommandSpec("accept", "store: take the order", (_ORDER,)),
    CommandSpec("refuse", "store: refuse the order", (_ORDER, Arg("reason"))),
    CommandSpec("preparing", "store: the order is being prepared", (_ORDER,)),
    CommandSpec("ready", "store: the order is ready for pickup", (_ORDER,)),
    CommandSpec("delay", "store: the order is late by MINUTES", (_ORDER, Arg("minutes", "amount"))),
    CommandSpec(
        "cancel", "cancel an open order (the voted fee rule applies)", (_ORDER, Arg("reason"))
    ),
    CommandSpec(
        "restore", "dispatcher: restore a cancelled order that had been accepted", (_ORDER,)
    ),
    CommandSpec("repay", "customer: pay a restored order again in coins", (_ORDER,)),
    CommandSpec(
        "assign",
        "dispatcher: give a task, or a whole order's open tasks, to a courier",
        (_TASK, _ORDER, Arg("courier", "member", "the courier")),
    ),
    CommandSpec(
        "move",
        "dispatcher: move a courier's whole tour to another courier",
        (Arg("courier", "member", "whose tour"), Arg("to", "member", "who takes it")),
    ),
    CommandSpec(
        "reorder",
        "set the route order of a courier's tour (tasks comma-separated)",
        (Arg("courier", "member"), Arg("tasks", "text")),
    ),
    CommandSpec("take", "courier: accept a task given to you", (_TASK,)),
    CommandSpec("decline", "courier: give back a task given to you", (_TASK,)),
    CommandSpec("start", "courier: on the way to the stop", (_TASK,)),
    CommandSpec(
        "done",
        "courier: the stop is done (the time is your phone's, now: offline work keeps it)",
        (
            _TASK,
            Arg("signed_by", "text", "who signed for it"),
            Arg("photo", "text", "a photo's file"),
        ),
    ),
    CommandSpec("fail", "courier: the stop could not be done", (_TASK, Arg("reason"))),
    CommandSpec(
        "track", "courier: your position, sealed to the task's parties", (_TASK, Arg("at"))
    ),
    CommandSpec(
        "rate", "rate a fulfilled order's other parties 1-5", (_ORDER, Arg("score", "int"))
    ),
    CommandSpec(
        "settle", "pay AMOUNT of what cash orders left you owing", (Arg("amount", "amount"),)
    ),
    CommandSpec("orders", "every order, with its tasks", read_only=True),
    CommandSpec(
        "show", "one order: state, price, tasks, addresses you may read", (_ORDER,), (), True
    ),
    CommandSpec(
        "tour",
        "a courier's open tasks, in route order (yours by default)",
        (Arg("courier", "member"),),
        (),
        True,
    ),
    CommandSpec(
        "board", "dispatcher: open tasks no courier holds, and couriers online", read_only=True
    ),
    CommandSpec(
        "rules", "the price rules in force (or version N)", (Arg("version", "int"),), (), True
    ),
    CommandSpec("earnings", "what you earned as courier and store, and owe", read_only=True),
    CommandSpec(
        CUSTOMER_COMMAND,
        "carry a customer's signed request (not a member) into the order",
        (Arg("request", "any", "the customer's signed request, encoded"),),
    ),
)
_Handler: TypeAlias = Callable[[DeliveryState, Mapping[str, Value], NodeContext], Value]


def run(s: DeliveryState, command: str, args: Mapping[str, Value], node: NodeContext) -> Value:
    handler = _HANDLERS.get(command)
    if handler is None:
        raise AppCommandError("unknown_command", command)
    try:
        return handler(s, args, node)
    except BadPoint as exc:
        raise AppCommandError("bad_point", str(exc)) from None
    except BadAddress as exc:
        raise AppCommandError("bad_address", str(exc)) from None
    except RemoteProtocolError as exc:
        raise AppCommandError("bad_argument", exc.detail) from None
    except AppTxRejected as exc:
        raise AppCommandError(exc.reason, exc.detail) from None


# -- couriers ----------------------------------------------------------------------------------


def _online(s: DeliveryState, args: Mapping[str, Value], node: NodeContext) -> Value:
    cell = cell_of(point_arg(args, "at"))
    node.submit(CourierOnline((cell.row, cell.col)))
    return {"online": (cell.row, cell.col)}


def _offline(s: DeliveryState, args: Mapping[str, Value], node: NodeContext) -> Value:
    if node.me not in s.fold.book.online():
        raise AppCommandError("not_online", "you take no tasks now")
    node.submit(CourierOffline())
    return {"online": None}


def _submit_task(make: Callable[[bytes], AnswerTask | StartTask], word: str) -> _Handler:
    def run(s: DeliveryState, args: Mapping[str, Value], node: NodeContext) -> Value:
        task = _task(s, args)
        if task.courier != node.me:
            raise AppCommandError("not_your_task", "the task is not yours")
        node.submit(make(task.id))
        return {"task": task.id.hex(), "submitted": word}

    return run


def _done(s: DeliveryState, args: Mapping[str, Value], node: NodeContext) -> Value:
    task = _task(s, args)
    if task.courier != node.me:
        raise AppCommandError("not_your_task", "the task is not yours")
    proof = _proof(args)
    done_ms = node.fold.now_ms  # this phone's clock: kept even if the order hears of it later
    node.submit(CompleteTask(task.id, done_ms, proof))
    return {"task": task.id.hex(), "submitted": "done", "done_at": done_ms, "proof": proof.hex()}


def _proof(args: Mapping[str, Value]) -> bytes:
    """The proof of delivery: the hash of the photo's bytes, or of who signed for it."""
    photo, signed = args.get("photo"), args.get("signed_by")
    if isinstance(photo, str) and photo.strip():
        try:
            with open(photo.strip(), "rb") as f:
                data = f.read()
        except OSError as exc:
            raise AppCommandError("bad_argument", f"--photo: {exc.strerror}") from None
        return hashlib.blake2b(b"photo\0" + data, digest_size=32).digest()
    if isinstance(signed, str) and signed.strip():
        text = signed.strip().encode("utf-8")
        return hashlib.blake2b(b"signed\0" + text, digest_size=32).digest()
    raise AppCommandError("no_proof", "give --signed-by NAME or --photo FILE")


def _fail(s: DeliveryState, args: Mapping[str, Value], node: NodeContext) -> Value:
    task = _task(s, args)
    node.submit(FailTask(task.id, text_arg(args, "reason")))
    return {"task": task.id.hex(), "submitted": "fail"}


def _track(s: DeliveryState, args: Mapping[str, Value], node: NodeContext) -> Value:
    task = _task(s, args)
    if task.courier != node.me:
        raise AppCommandError("not_your_task", "the task is not yours")
    policy = s.policy(node.fold.settings)
    seen = sorted(s.fold.may_see_courier(task.id, policy) | {node.me})
    at = point_arg(args, "at")
    node.submit(Track(task.id, seal_position(at, seen, node.fold.community, task.id)))
    return {"task": task.id.hex(), "sealed_to": tuple(m.hex() for m in seen)}


# -- customers and stores ----------------------------------------------------------------------


def stops_of(
    pickup: Point,
    dropoff: Point,
    args: Mapping[str, Value],
    now_ms: int,
    sealed: tuple[object, object] = (None, None),
) -> tuple[Stop, Stop]:
    """The pickup and the drop-off of a one-drop order: cells public, windows from now."""
    weight, packages = amount_arg(args, "weight", 0), amount_arg(args, "packages", 1)
    within = amount_arg(args, "within", WINDOW_MIN) * MINUTE_MS
    items = (("package", packages),) if packages else ()
    a, b = cell_of(pickup), cell_of(dropoff)
    first = Stop(PICKUP, (a.row, a.col), now_ms, now_ms + within, weight, items, sealed[0])  # type: ignore[arg-type]
    last = Stop(DROPOFF, (b.row, b.col), now_ms, now_ms + within, weight, items, sealed[1])  # type: ignore[arg-type]
    return first, last


def _quote(s: DeliveryState, args: Mapping[str, Value], node: NodeContext) -> Value:
    pickup, dropoff = point_arg(args, "pickup"), point_arg(args, "dropoff")
    version = s.fold.rules.current
    stops = stops_of(pickup, dropoff, args, node.fold.now_ms)
    tx = PlaceOrder(bytes(ORDER_LEN), bytes(32), amount_arg(args, "goods", 0), stops,
                    distance_m(pickup, dropoff), 0, version, "cash")  # fmt: skip
    priced = s.fold.quote(tx, version)
    return {
        "price": priced.total,
        "rules_version": version,
        "lines": tuple((line.rule, line.task, line.cents) for line in priced.lines),
        "distance_m": tx.distance_m,
        "currency": _currency(s, node),
    }


def _order(s: DeliveryState, args: Mapping[str, Value], node: NodeContext) -> Value:
    store = member_arg(args, "store")
    pickup, dropoff = point_arg(args, "pickup"), point_arg(args, "dropoff")
    ctx = node.fold
    order_id = secrets.token_bytes(ORDER_LEN)
    readers = sorted(
        {node.me, store} | ({ctx.officers[DISPATCHER]} if DISPATCHER in ctx.officers else set())
    )
    places = (
        Address(text_arg(args, "pickup_address"), pickup),
        Address(text_arg(args, "dropoff_address"), dropoff, notes=text_arg(args, "notes")),
    )
    sealed = tuple(
        seal_address(a, readers, stop_context(ctx.community, order_id + bytes([i])))
        for i, a in enumerate(places)
    )
    stops = stops_of(pickup, dropoff, args, ctx.now_ms, (sealed[0], sealed[1]))
    version = s.fold.rules.current
    draft = PlaceOrder(order_id, store, amount_arg(args, "goods", 0), stops,
                       distance_m(pickup, dropoff), 0, version, "cash")  # fmt: skip
    price = s.fold.quote(draft, version).total
    method = ESCROW if s.policy(ctx.settings).payment == ESCROW else "cash"
    tx = PlaceOrder(order_id, store, draft.goods_cents, stops, draft.distance_m, price, version,
                    method)  # fmt: skip
    node.submit(tx)
    return {
        "order": order_id.hex(),
        "price": price,
        "goods": tx.goods_cents,
        "rules_version": version,
        "method": method,
        "currency": _currency(s, node),
    }


def _store_step(step: str) -> _Handler:
    def run(s: DeliveryState, args: Mapping[str, Value], node: NodeContext) -> Value:
        order = _find_order(s, args)
        reason = text_arg(args, "reason") if step == "refuse" else ""
        minutes = amount_arg(args, "minutes", 0) if step == "delay" else 0
        node.submit(StoreAnswer(order.id, step, reason, minutes))
        return {"order": order.id.hex(), "submitted": step}

    return run


def _cancel(s: DeliveryState, args: Mapping[str, Value], node: NodeContext) -> Value:
    order = _find_order(s, args)
    node.submit(CancelOrder(order.id, text_arg(args, "reason")))
    return {"order": order.id.hex(), "submitted": "cancel"}


def _restore(s: DeliveryState, args: Mapping[str, Value], node: NodeContext) -> Value:
    order = _find_order(s, args)
    node.submit(RestoreOrder(order.id))
    return {"order": order.id.hex(), "submitted": "restore"}


def _repay(s: DeliveryState, args: Mapping[str, Value], node: NodeContext) -> Value:
    order = _find_order(s, args)
    money = s.fold.pay.money(order.id)
    if order.customer != node.me or money is None or money.state != "unpaid":
        raise AppCommandError("nothing_to_repay", "only a restored order of yours paid in coins")
    node.submit(Repay(order.id))
    return {"order": order.id.hex(), "submitted": "repay", "amount": money.amount}


def _rate(s: DeliveryState, args: Mapping[str, Value], node: NodeContext) -> Value:
    order = _find_order(s, args)
    score = args.get("score")
    if type(score) is not int:
        raise AppCommandError("bad_argument", "--score is 1 to 5")
    node.submit(Rate(order.id, score))
    return {"order": order.id.hex(), "submitted": "rate"}


def _settle(s: DeliveryState, args: Mapping[str, Value], node: NodeContext) -> Value:
    amount = amount_arg(args, "amount", 0)
    owed = s.fold.pay.debt(node.me)
    if not 0 < amount <= owed:
        raise AppCommandError("bad_amount", f"you owe {owed}; pay 1..{owed}")
    node.submit(SettleDebt(amount))
    return {"settling": amount, "owed": owed, "currency": COMMUNITY_COINS}


# -- the dispatcher ----------------------------------------------------------------------------


def _assign(s: DeliveryState, args: Mapping[str, Value], node: NodeContext) -> Value:
    courier = member_arg(args, "courier")
    if args.get("task"):
        tasks: tuple[bytes, ...] = (_task(s, args).id,)
    else:
        order = _find_order(s, args)
        tasks = tuple(t.id for t in s.fold.book.tasks_of(order.id) if t.is_open)
        if not tasks:
            raise AppCommandError("no_open_task", "the order has no open task")
    node.submit(Assign(tasks, courier))
    return {"tasks": tuple(t.hex() for t in tasks), "courier": courier.hex(), "submitted": "assign"}


def _move(s: DeliveryState, args: Mapping[str, Value], node: NodeContext) -> Value:
    courier, to = member_arg(args, "courier"), member_arg(args, "to")
    tour = s.fold.book.tour(courier)
    node.submit(MoveTour(courier, to))
    return {"courier": courier.hex(), "to": to.hex(), "tasks": len(tour), "submitted": "move"}


def _reorder(s: DeliveryState, args: Mapping[str, Value], node: NodeContext) -> Value:
    courier = member_arg(args, "courier", node.me)
    route = tuple(_task(s, {"task": t}).id for t in text_arg(args, "tasks").split(",") if t.strip())
    node.submit(Reorder(courier, route))
    return {"courier": courier.hex(), "tasks": tuple(t.hex() for t in route)}


# -- reading ------------------------------------------------------------------------------------


def order_row(s: DeliveryState, order: Order) -> dict[str, Value]:
    """One order as ``orders --json`` prints it (the contract)."""
    return {
        "order": order.id.hex(),
        "store": order.store.hex(),
        "customer": order.customer.hex(),
        "state": order.state,
        "price": order.price_cents,
        "rules_version": order.rules_version,
        "tasks": tuple(task_row(t) for t in s.fold.book.tasks_of(order.id)),
    }


def task_row(task: Task) -> dict[str, Value]:
    return {
        "task": task.id.hex(),
        "kind": task.spec.kind,
        "state": task.state,
        "courier": task.courier.hex() if task.courier else None,
        "done_at": task.done_ms if task.state == DONE else None,
    }


def _orders(s: DeliveryState, args: Mapping[str, Value], node: NodeContext) -> Value:
    every = sorted(s.fold.book.orders.values(), key=lambda o: (o.created_ms, o.id))
    return tuple(order_row(s, o) for o in every)


def _show(s: DeliveryState, args: Mapping[str, Value], node: NodeContext) -> Value:
    order = _find_order(s, args)
    fold, ctx = s.fold, node.fold
    shown = order_row(s, order)
    money = fold.pay.money(order.id)
    shown["goods"] = None if money is None else money.goods
    shown["method"] = None if money is None else money.method
    shown["money"] = None if money is None else money.state
    shown["money_stuck"] = fold.money_stuck.get(order.id)
    shown["delay_min"] = order.delay_min
    shown["log"] = tuple((what, at, by.hex()) for what, at, by in order.log)
    shown["currency"] = _currency(s, node)
    shown["ratings"] = _ratings(s, order, ctx.now_ms)
    addresses: dict[str, Value] = {}
    positions: dict[str, Value] = {}
    for task in fold.book.tasks_of(order.id):
        address = _address_for(s, task, node)
        if address is not None:
            addresses[task.id.hex()] = address.shown()
        track = fold.tracks.get(task.id)
        if track is not None:
            at = opened_position(node, track[1], ctx.community, task.id)
            if at is not None:
                positions[task.id.hex()] = {"at": at.text(), "when_ms": track[0]}
    shown["addresses"] = addresses
    shown["courier_at"] = positions
    return shown


def _ratings(s: DeliveryState, order: Order, now_ms: int) -> Value:
    """Double-blind: the scores once every party rated or the window closed, else hidden
    (``None`` before the order is fulfilled: nothing to rate yet)."""
    if order.state != "fulfilled":
        return None
    visible = s.fold.ratings.visible(order.id, now_ms)
    if visible is None:
        return "hidden"
    return {m.hex(): v for m, v in sorted(visible.items())}


def _address_for(s: DeliveryState, task: Task, node: NodeContext) -> Address | None:
    """The task's address as this member may read it: resealed to them as its courier, or as
    sealed at ordering (the customer, the store, the dispatcher)."""
    community = node.fold.community
    resealed = s.fold.addresses.get(task.id)
    if resealed is not None and resealed[0] == node.me:
        return opened(node, resealed[1], address_context(community, task.id, node.me))
    return opened(node, s.fold.stops.get(task.id), stop_context(community, task.id))


def _tour(s: DeliveryState, args: Mapping[str, Value], node: NodeContext) -> Value:
    courier = member_arg(args, "courier", node.me)
    rows = []
    for task in s.fold.book.tour(courier):
        row = task_row(task)
        row["order"] = task.order.hex()
        row["cell"] = (task.spec.cell.row, task.spec.cell.col)
        row["window"] = (task.spec.after_ms, task.spec.before_ms)
        address = _address_for(s, task, node) if courier == node.me else None
        row["address"] = None if address is None else address.shown()
        rows.append(row)
    return tuple(rows)


def _board(s: DeliveryState, args: Mapping[str, Value], node: NodeContext) -> Value:
    book = s.fold.book
    waiting = [
        {**task_row(t), "order": t.order.hex(), "cell": (t.spec.cell.row, t.spec.cell.col)}
        for t in book.unassigned()
    ]
    online: dict[str, Value] = {c.hex(): (g.row, g.col) for c, g in sorted(book.online().items())}
    dispatcher = node.fold.officers.get(DISPATCHER)
    return {
        "unassigned": tuple(waiting),
        "online": online,
        "dispatcher": None if dispatcher is None else dispatcher.hex(),
    }


def _rules(s: DeliveryState, args: Mapping[str, Value], node: NodeContext) -> Value:
    version = args.get("version") or s.fold.rules.current
    if type(version) is not int or not 1 <= version <= s.fold.rules.current:
        raise AppCommandError("unknown_rules", f"versions are 1..{s.fold.rules.current}")
    return s.fold.rules.shown(version)


def _earnings(s: DeliveryState, args: Mapping[str, Value], node: NodeContext) -> Value:
    me, book = node.me, s.fold.book
    done = [t for t in book.tasks.values() if t.courier == me and t.state == DONE]
    return {
        "tasks_done": len(done),
        "paid_as_courier": s.fold.earned.get((me, "courier"), 0),
        "paid_as_store": s.fold.earned.get((me, "store"), 0),
        "owed_to_cooperative": s.fold.pay.debt(me),
        "rating": _rating(s, me, node.fold.now_ms),
        "currency": _currency(s, node),
    }


def _rating(s: DeliveryState, member: bytes, now_ms: int) -> Value:
    average = s.fold.ratings.average(member, now_ms)
    return None if average is None else f"{average.numerator}/{average.denominator}"


def _carry(s: DeliveryState, args: Mapping[str, Value], node: NodeContext) -> Value:
    """A member's node carries a customer's signed step (checked first as the fold will)."""
    try:
        req = check_carried(args.get("request"), s.fold.customers, node.fold, "delivery")
    except (AppTxRejected, InvalidCustomerRequest) as exc:
        raise AppCommandError(exc.reason, getattr(exc, "detail", "")) from None
    node.submit(CustomerOrder(req))
    return {"carried": req.seq, "customer": req.customer.hex()}


# -- arguments ---------------------------------------------------------------------------------


def _currency(s: DeliveryState, node: NodeContext) -> str:
    policy = s.policy(node.fold.settings)
    return COMMUNITY_COINS if policy.payment == ESCROW else policy.currency


def _find_order(s: DeliveryState, args: Mapping[str, Value]) -> Order:
    return by_prefix(args.get("order"), s.fold.book.orders, ORDER_LEN, "order")


def _task(s: DeliveryState, args: Mapping[str, Value]) -> Task:
    return by_prefix(args.get("task"), s.fold.book.tasks, TASK_LEN, "task")


_HANDLERS: Final[dict[str, _Handler]] = {
    "online": _online,
    "offline": _offline,
    "quote": _quote,
    "order": _order,
    "accept": _store_step("accept"),
    "refuse": _store_step("refuse"),
    "preparing": _store_step("preparing"),
    "ready": _store_step("ready"),
    "delay": _store_step("delay"),
    "cancel": _cancel,
    "restore": _restore,
    "repay": _repay,
    "assign": _assign,
    "move": _move,
    "reorder": _reorder,
    "take": _submit_task(lambda t: AnswerTask(t, True), "take"),
    "decline": _submit_task(lambda t: AnswerTask(t, False), "decline"),
    "start": _submit_task(StartTask, "start"),
    "done": _done,
    "fail": _fail,
    "track": _track,
    "rate": _rate,
    "settle": _settle,
    "orders": _orders,
    "show": _show,
    "tour": _tour,
    "board": _board,
    "rules": _rules,
    "earnings": _earnings,
    CUSTOMER_COMMAND: _carry,
}

__all__ = ["COMMANDS", "CustomerOrder", "order_row", "run", "stops_of", "task_row"]

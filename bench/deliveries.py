"""Delivery benchmark: whole orders through the app, CPU against their blocks' signature checks.

Five members' cooperative consumers run in this one process (:mod:`peoplenet.bench.coop_net`),
each with its apps in its own keyless worker process (CPU time counts this process and the
five workers): a customer, a store, the elected dispatcher and two couriers.  The
cooperative's order is simulated, but its transactions travel in signed blocks that every
other member parses, checks and stores (:mod:`peoplenet.bench.order_blocks`).  Every order is
the whole story, each step a member's command on its own node, as a person would give it:

    order (the customer; addresses sealed to the customer, the store, the dispatcher;
    [escrow: goods and delivery held from the customer's coins]) -> the store accepts, then
    prepares -> the dispatcher assigns the whole order to courier A (the dispatcher's phone
    reseals both addresses to A) -> A takes both tasks -> the dispatcher moves A's tour to
    courier B (resealed to B) -> the store has it ready -> B starts and completes the pickup
    (signed by the store), then the drop-off (signed by the customer): fulfilled and paid ->
    the customer and B rate

The ceiling is the raw cost of the signature checks those blocks imply, timed on the run's own
blocks in the same run: each block verified once per receiving member.
``ratio = cpu_ms_per_order / verify_ms_per_order``.  ``orders_per_s`` is orders per CPU second
of the run, all five members sharing one process.  An order that does not end fulfilled and
paid on every member's node fails the run (:class:`BenchFailed`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Final

from peoplenet.actors.governance.records import Close, GovTx, Open, Vote
from peoplenet.apps.delivery.tasks import task_id
from peoplenet.bench.coop_net import CHARTER, BenchFailed, CoopNet
from peoplenet.bench.job_cost import figures, measured
from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.wire.codec import Value

APP: Final = "delivery"
DISPATCHER: Final = "dispatcher"
PAYMENTS: Final = ("cash", "escrow")
SHOP: Final = "45.4642,9.1900"
HOME: Final = "45.4700,9.2050"
GOODS_CENTS: Final = 2450
COINS_PER_ORDER: Final = 5_000
"""The customer's cooperative coins per order under escrow (goods and delivery are under 3,000)."""
CUSTOMER, STORE, BOSS, FIRST, SECOND = 0, 1, 2, 3, 4
"""Member indexes: the customer, the store, the dispatcher, courier A, courier B."""
MEMBERS: Final = 5


def run(orders: int = 50, *, payment: str = "cash", folder: Path | None = None) -> dict[str, Any]:
    """Run ``orders`` orders paid by ``payment`` (``cash`` or ``escrow``); the figures."""
    if orders < 1:
        raise LocalError("orders must be positive")
    if payment not in PAYMENTS:
        raise LocalError(f"payment is one of {', '.join(PAYMENTS)}, not {payment!r}")
    with tempfile.TemporaryDirectory() as tmp:
        net = network(folder or Path(tmp))
        try:
            return _run(net, orders, payment)
        finally:
            net.close()


def network(folder: Path) -> CoopNet:
    """The five members, in a cooperative whose charter declares the dispatcher's office."""
    charter = {**CHARTER, "officers": [DISPATCHER]}
    return CoopNet(folder, n=MEMBERS, carry=True, charter=charter)


def command(net: CoopNet, i: int, name: str, **args: Value) -> Any:
    """Member ``i``'s delivery command on its own node (as ``peoplenet delivery NAME`` sends it)."""
    result, out = net.nodes[i].command(
        "coop_app", {"app": APP, "command": name, "args": args}, net.now
    )
    net.take(i, out)
    assert isinstance(result, dict)
    return result["result"]


def elect_dispatcher(net: CoopNet, i: int) -> None:
    """An ``officer`` decision: every member ranks member ``i`` first for the office."""
    net.clocks()
    net.queue.append(
        (net.people[0], GovTx(net.now, Open("officer", DISPATCHER, (net.hexid(i),), None, None)))
    )
    net.order()
    number = len(net.nodes[0].governance.state.decisions)
    for p in net.people:
        net.queue.append((p, GovTx(net.now, Vote(number, (net.hexid(i), "vacant")))))
    net.order()
    net.now += 2_000
    for p in net.people:
        net.queue.append((p, GovTx(net.now, Close(number))))
    net.settle()
    decision = net.nodes[0].governance.state.decision(number)
    if decision is None or not (decision.adopted and decision.applied):
        raise AssertionError(f"the dispatcher was not elected: {decision}")


def setup(net: CoopNet, orders: int, payment: str) -> None:
    """Connected, the app enabled (and the customer's coins minted under escrow), the
    dispatcher elected, both couriers online at the shop."""
    net.connect()
    if payment == "escrow":
        mint: dict[str, Value] = {
            "mint": COINS_PER_ORDER * (orders + 1),
            "to": net.hexid(CUSTOMER),
        }
        net.decide_app("currency", {"ubi_per_period": 0}, action=mint)
    net.decide_app(APP, {"payment": payment})
    elect_dispatcher(net, BOSS)
    net.connect()
    for courier in (FIRST, SECOND):
        command(net, courier, "online", at=SHOP)
    net.settle()


def place(net: CoopNet) -> str:
    """The customer's order from the store; its id."""
    placed = command(
        net, CUSTOMER, "order", store=net.hexid(STORE), pickup=SHOP, dropoff=HOME,
        pickup_address="Via Dante 1, shop counter", dropoff_address="Via Lupetta 4, 2nd floor",
        goods=GOODS_CENTS, weight=1500, packages=1,
    )  # fmt: skip
    net.settle()
    return str(placed["order"])


def _step(net: CoopNet, i: int, name: str, **args: Value) -> Any:
    """Member ``i``'s command, then everything it leads to ordered (and the duties it wakes)."""
    result = command(net, i, name, **args)
    net.settle()
    return result


def _tasks(order: str) -> tuple[str, str]:
    """The order's pickup and drop-off: their ids follow from the order's (the couriers' phones
    list them; reading them there would open the sealed addresses, which no step needs)."""
    raw = bytes.fromhex(order)
    return task_id(raw, 0).hex(), task_id(raw, 1).hex()


def deliver(net: CoopNet) -> str:
    """One whole order, each step once the one before is ordered; the order's id."""
    order = place(net)
    _step(net, STORE, "accept", order=order)
    _step(net, STORE, "preparing", order=order)
    _step(net, BOSS, "assign", order=order, courier=net.hexid(FIRST))
    pickup, dropoff = _tasks(order)
    for task in (pickup, dropoff):
        command(net, FIRST, "take", task=task)
    net.settle()
    _step(net, BOSS, "move", courier=net.hexid(FIRST), to=net.hexid(SECOND))
    _step(net, STORE, "ready", order=order)
    _step(net, SECOND, "start", task=pickup)
    _step(net, SECOND, "done", task=pickup, signed_by="the store")
    _step(net, SECOND, "start", task=dropoff)
    _step(net, SECOND, "done", task=dropoff, signed_by="the customer")
    command(net, CUSTOMER, "rate", order=order, score=5)
    command(net, SECOND, "rate", order=order, score=4)
    net.settle()
    return order


def check_ended(net: CoopNet, orders: list[str]) -> int:
    """How many orders ended fulfilled and paid, as every member's node shows them;
    :class:`BenchFailed` names the first that did not."""
    for order in orders:
        for i in range(len(net.nodes)):
            shown = command(net, i, "show", order=order)
            if not (shown["state"] == "fulfilled" and shown["money"] == "paid"):
                raise BenchFailed(
                    f"order {order} ended {shown['state']} (money: {shown['money']}, "
                    f"stuck: {shown['money_stuck']}) on member {i}'s node"
                )
    return len(orders)


def _run(net: CoopNet, orders: int, payment: str) -> dict[str, Any]:
    setup(net, orders, payment)
    ids, cost = measured(net, lambda: [deliver(net) for _ in range(orders)])
    completed = check_ended(net, ids)
    head = {"orders": orders, "completed": completed, "payment": payment}
    return figures(cost, "order", orders, head)


__all__ = ["PAYMENTS", "BenchFailed", "check_ended", "command", "network", "place", "run", "setup"]

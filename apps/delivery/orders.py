"""The delivery book: a courier cooperative's orders, their tasks, and their dispatch.

    new -> accepted | refused          (the store)
    accepted -> preparing -> ready     (the store; informational: couriers need not wait)
    accepted | preparing | ready -> fulfilled    (the last non-cancelled dropoff done)
    new | accepted | preparing | ready -> cancelled -> accepted    (restore: once accepted)

Who may do what: the **store** accepts, refuses (with a reason), prepares, readies, delays and
cancels its own orders; the **customer** cancels theirs while new; a **dispatcher** (a member
elected to that officer role: the shell passes ``dispatchers``) cancels any open order,
restores a cancelled one, cancels one dropoff, and assigns, reassigns, moves and reorders
tasks; **couriers** accept, decline, start, complete and fail the tasks they hold.  A wrong
party is refused (``not_your_order``, ``not_your_task``, ``not_dispatcher``), a wrong state
too (``bad_state``, ``FROM -> TO`` in the detail), and a refusal changes nothing: every call
checks fully before it mutates.

The invariants (tested by a Hypothesis state machine): (A1) no dropoff done before its
pickup; (A2) a live order is fulfilled exactly when every non-cancelled dropoff is done; (A3)
a cancelled or refused order's open tasks are cancelled in the same call, none left assigned;
(A4) done, failed and cancelled tasks never change, but for :meth:`DeliveryBook.restore`
(audited in the order's log), which brings back the tasks the cancellation cancelled and the
failed ones, to todo and unassigned (done stays done); (A7) a completion keeps the time
signed on the phone (:func:`~.tasks.check_done_time`); a task never has two couriers, and a
done task's courier never changes.

Pure and deterministic (no clock, no money: prices arrive computed, payment follows the
returned events).  Every mutating call returns the :data:`~.tasks.Event` list the shell acts
on: ``("created" | "accepted" | "refused" | "preparing" | "ready" | "delayed" | "fulfilled" |
"cancelled" | "restored", order)``; ``("assigned" | "assignment_accepted" | "declined" |
"task_active" | "task_done" | "task_failed", task, courier)``; ``("task_cancelled" |
"task_ended", task)`` -- ``task_ended`` whenever a task leaves its courier (done, failed,
cancelled, declined, moved): position sharing for it stops.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from peoplenet.apps.delivery.dispatch import AUTO_RINGS, Dispatch
from peoplenet.apps.delivery.tasks import (
    CANCELLED,
    DOING,
    DONE,
    DROPOFF,
    FAILED,
    MEMBER_ID_LEN,
    ORDER_ID_LEN,
    PROOF_LEN,
    TASK_ID_LEN,
    TODO,
    Event,
    Task,
    TaskSpec,
    check_done_time,
    check_id,
    check_int,
    check_specs,
    check_text,
    order_of,
    reject,
    task_id,
)
from peoplenet.plugins.api import AppTxRejected, Value
from peoplenet.plugins.kit import Grid

NEW: Final = "new"
ACCEPTED: Final = "accepted"
PREPARING: Final = "preparing"
READY: Final = "ready"
FULFILLED: Final = "fulfilled"
REFUSED: Final = "refused"
ORDER_CANCELLED: Final = "cancelled"
ORDER_STATES: Final = (NEW, ACCEPTED, PREPARING, READY, FULFILLED, REFUSED, ORDER_CANCELLED)
OPEN_ORDER: Final = frozenset({NEW, ACCEPTED, PREPARING, READY})
LIVE_ORDER: Final = frozenset({ACCEPTED, PREPARING, READY})
"""Accepted and not finished: its tasks may be dispatched and done."""
MAX_DELAY_MIN: Final = 120
MAX_CENTS: Final = 2**53
AUTO: Final = b""
"""``by`` in an order's log for what the book did on its own (fulfilment, auto-assignment)."""


@dataclass(slots=True)
class Order:
    """One order and its audit log."""

    id: bytes
    store: bytes
    customer: bytes
    price_cents: int
    rules_version: int
    created_ms: int
    tasks: tuple[bytes, ...]
    """Its tasks' ids: the pickup, then the dropoffs."""
    state: str = NEW
    was_accepted: bool = False
    delay_min: int = 0
    refusal: str = ""
    log: list[tuple[str, int, bytes]] = field(default_factory=list)
    """Every step: (what, community time, by whom), restores included."""

    def to_value(self) -> Value:
        return {
            "id": self.id,
            "store": self.store,
            "customer": self.customer,
            "price_cents": self.price_cents,
            "rules_version": self.rules_version,
            "created_ms": self.created_ms,
            "tasks": self.tasks,
            "state": self.state,
            "was_accepted": self.was_accepted,
            "delay_min": self.delay_min,
            "refusal": self.refusal,
            "log": tuple(self.log),
        }


def _bad_state(state: str, to: str, why: str = "") -> AppTxRejected:
    return reject("bad_state", f"{state} -> {to}" + (f": {why}" if why else ""))


@dataclass(slots=True)
class DeliveryBook:
    """Every order and task of the cooperative, and the dispatch of the open tasks."""

    orders: dict[bytes, Order] = field(default_factory=dict)
    tasks: dict[bytes, Task] = field(default_factory=dict)
    dispatch: Dispatch = field(default_factory=Dispatch)

    # -- reading ------------------------------------------------------------------------------

    def order(self, order_id: bytes) -> Order:
        found = self.orders.get(order_id)
        if found is None:
            raise reject("unknown_order", f"no order {order_id.hex()}")
        return found

    def task(self, task: bytes) -> Task:
        found = self.tasks.get(task)
        if found is None:
            raise reject("unknown_task", f"no task {task.hex()}")
        return found

    def tasks_of(self, order_id: bytes) -> tuple[Task, ...]:
        """The order's tasks: the pickup, then its dropoffs."""
        return tuple(self.tasks[t] for t in self.order(order_id).tasks)

    def tour(self, courier: bytes) -> tuple[Task, ...]:
        """The courier's open tasks in route order."""
        return tuple(self.tasks[t] for t in self.dispatch.tour(courier))

    def open_orders(self, store: bytes) -> tuple[Order, ...]:
        """The store's orders not yet fulfilled, refused or cancelled, by id."""
        return tuple(
            o for _, o in sorted(self.orders.items()) if o.store == store and o.state in OPEN_ORDER
        )

    def unassigned(self) -> tuple[Task, ...]:
        """Open tasks of live orders that no courier holds, by id: the dispatcher's queue."""
        return tuple(
            t
            for _, t in sorted(self.tasks.items())
            if t.is_open and not t.courier and self.orders[t.order].state in LIVE_ORDER
        )

    def online(self) -> Mapping[bytes, Grid]:
        """The couriers online and the cell each waits in (read-only)."""
        return MappingProxyType(self.dispatch.online)

    # -- orders -------------------------------------------------------------------------------

    def create(
        self,
        order_id: bytes,
        store: bytes,
        customer: bytes,
        tasks: Sequence[TaskSpec],
        *,
        price_cents: int,
        rules_version: int,
        now_ms: int,
    ) -> list[Event]:
        """A new order (``order_id`` chosen by its creator) with its pickup and dropoffs."""
        check_id(order_id, ORDER_ID_LEN, "order id")
        if order_id in self.orders:
            raise reject("order_exists", order_id.hex())
        check_id(store, MEMBER_ID_LEN, "store")
        check_id(customer, MEMBER_ID_LEN, "customer")
        check_int(price_cents, 0, MAX_CENTS, "bad_price", "price_cents")
        check_int(rules_version, 0, 2**31, "bad_rules_version", "rules_version")
        check_specs(tasks)
        ids = tuple(task_id(order_id, i) for i in range(len(tasks)))
        order = Order(order_id, store, customer, price_cents, rules_version, now_ms, ids)
        order.log.append(("created", now_ms, customer))
        self.orders[order_id] = order
        for tid, spec in zip(ids, tasks, strict=True):
            self.tasks[tid] = Task(tid, spec)
        return [("created", order_id)]

    def accept(self, order_id: bytes, by: bytes, now_ms: int) -> list[Event]:
        order = self._store_step(order_id, by, ACCEPTED, (NEW,))
        order.was_accepted = True
        return self._enter(order, ACCEPTED, now_ms, by)

    def refuse(self, order_id: bytes, by: bytes, reason: str, now_ms: int) -> list[Event]:
        order = self._store_step(order_id, by, REFUSED, (NEW,))
        order.refusal = check_text(reason, "bad_reason", "the refusal's reason")
        return self._close(order, REFUSED, now_ms, by)

    def start_preparing(self, order_id: bytes, by: bytes, now_ms: int) -> list[Event]:
        order = self._store_step(order_id, by, PREPARING, (ACCEPTED,))
        return self._enter(order, PREPARING, now_ms, by)

    def ready(self, order_id: bytes, by: bytes, now_ms: int) -> list[Event]:
        order = self._store_step(order_id, by, READY, (PREPARING,))
        return self._enter(order, READY, now_ms, by)

    def delay(self, order_id: bytes, by: bytes, minutes: int, now_ms: int) -> list[Event]:
        """The store needs ``minutes`` more: every open task's window moves that much later."""
        order = self._store_step(order_id, by, "delayed", (ACCEPTED, PREPARING))
        check_int(minutes, 1, MAX_DELAY_MIN, "bad_delay", "minutes")
        shift = minutes * 60_000
        for task in self._tasks(order):
            if task.is_open:
                spec = task.spec
                task.spec = dataclasses.replace(
                    spec, after_ms=spec.after_ms + shift, before_ms=spec.before_ms + shift
                )
        order.delay_min += minutes
        order.log.append(("delayed", now_ms, by))
        return [("delayed", order.id)]

    def cancel(
        self, order_id: bytes, by: bytes, dispatchers: Collection[bytes], now_ms: int
    ) -> list[Event]:
        """The store or a dispatcher cancels an open order; its customer, only while new."""
        order = self.order(order_id)
        if by not in (order.store, order.customer) and by not in dispatchers:
            raise reject("not_your_order")
        if order.state not in OPEN_ORDER:
            raise _bad_state(order.state, ORDER_CANCELLED)
        if order.state != NEW and by != order.store and by not in dispatchers:
            raise _bad_state(order.state, ORDER_CANCELLED, "a customer cancels only a new order")
        return self._close(order, ORDER_CANCELLED, now_ms, by)

    def restore(
        self, order_id: bytes, by: bytes, dispatchers: Collection[bytes], now_ms: int
    ) -> list[Event]:
        """A dispatcher undoes a cancellation (audited): the order is accepted again, its done
        tasks stay done, those the cancellation cancelled and the failed ones are todo again,
        unassigned (a dropoff cancelled on its own stays cancelled)."""
        self._dispatcher(by, dispatchers)
        order = self.order(order_id)
        if order.state != ORDER_CANCELLED:
            raise _bad_state(order.state, ACCEPTED, "only a cancelled order is restored")
        if not order.was_accepted:
            raise reject("never_accepted", "restore brings back an accepted order only")
        for task in self._tasks(order):
            if task.state == FAILED or (task.state == CANCELLED and task.cancelled_with_order):
                task.state, task.courier, task.accepted = TODO, b"", False
                task.assigned_ms = task.started_ms = task.failed_ms = 0
                task.failure, task.cancelled_with_order = "", False
        order.state = ACCEPTED
        order.log.append(("restored", now_ms, by))
        return [("restored", order.id)]

    def cancel_task(
        self, task: bytes, by: bytes, dispatchers: Collection[bytes], now_ms: int
    ) -> list[Event]:
        """A dispatcher cancels one open dropoff (not the last one: cancel the order then);
        the order is fulfilled if every other dropoff is done."""
        self._dispatcher(by, dispatchers)
        found = self.task(task)
        if found.spec.kind != DROPOFF:
            raise reject("not_a_dropoff", "cancel the order to cancel its pickup")
        if not found.is_open:
            raise _bad_state(found.state, CANCELLED)
        order = self.orders[found.order]
        others = [t for t in self._tasks(order) if t.spec.kind == DROPOFF and t is not found]
        if all(t.state == CANCELLED for t in others):
            raise reject("last_dropoff", "cancel the order instead")
        events = self._end(found, CANCELLED)
        events.append(("task_cancelled", found.id))
        found.cancelled_with_order = False
        order.log.append(("task_cancelled", now_ms, by))
        return events + self._fulfil_if_due(order, now_ms)

    # -- dispatch -----------------------------------------------------------------------------

    def go_online(self, courier: bytes, cell: Grid) -> list[Event]:
        self.dispatch.go_online(courier, cell)
        return []

    def go_offline(self, courier: bytes) -> list[Event]:
        self.dispatch.go_offline(courier)
        return []

    def assign(
        self, task: bytes, courier: bytes, by: bytes, dispatchers: Collection[bytes], now_ms: int
    ) -> list[Event]:
        """A dispatcher gives an unassigned open task to ``courier`` (last of their tour)."""
        found = self._dispatchable(task, courier, by, dispatchers)
        if found.courier:
            raise reject("already_assigned", "reassign it")
        return self.dispatch.give(found, courier, now_ms)

    def reassign(
        self, task: bytes, courier: bytes, by: bytes, dispatchers: Collection[bytes], now_ms: int
    ) -> list[Event]:
        """A dispatcher moves an assigned open task to another courier (back to todo)."""
        found = self._dispatchable(task, courier, by, dispatchers)
        if not found.courier:
            raise reject("not_assigned", "assign it")
        if found.courier == courier:
            raise reject("same_courier")
        return self.dispatch.take(found) + self.dispatch.give(found, courier, now_ms)

    def assign_delivery(
        self,
        order_id: bytes,
        courier: bytes,
        by: bytes,
        dispatchers: Collection[bytes],
        now_ms: int,
    ) -> list[Event]:
        """A dispatcher gives a whole delivery to ``courier``: every open task of the order
        that courier does not hold yet, pickup first, taken from whoever held it."""
        self._dispatcher(by, dispatchers)
        order = self._live(order_id)
        check_id(courier, MEMBER_ID_LEN, "courier")
        moving = [t for t in self._tasks(order) if t.is_open and t.courier != courier]
        if not moving:
            raise reject("nothing_to_assign", "the courier holds every open task already")
        return self._hand(moving, courier, now_ms)

    def move_tour(
        self,
        from_courier: bytes,
        to_courier: bytes,
        by: bytes,
        dispatchers: Collection[bytes],
        now_ms: int,
    ) -> list[Event]:
        """A dispatcher moves every open task of one courier's tour to another's (a courier
        fell ill), in route order, after the tasks the other holds already."""
        self._dispatcher(by, dispatchers)
        check_id(to_courier, MEMBER_ID_LEN, "courier")
        if from_courier == to_courier:
            raise reject("same_courier")
        tour = self.tour(from_courier)
        if not tour:
            raise reject("empty_tour", "the courier holds no open task")
        return self._hand(list(tour), to_courier, now_ms)

    def reorder(
        self, courier: bytes, route: Sequence[bytes], by: bytes, dispatchers: Collection[bytes]
    ) -> list[Event]:
        """A dispatcher sets the route order of a courier's tour (the same tasks)."""
        self._dispatcher(by, dispatchers)
        self.dispatch.check_reorder(courier, route)
        self.dispatch.reorder(courier, route)
        return []

    def auto_assign(self, order_id: bytes, now_ms: int, max_rings: int = AUTO_RINGS) -> list[Event]:
        """Give the order's unassigned open tasks to the nearest free online courier who never
        declined one of them (:meth:`~.dispatch.Dispatch.nearest`); nothing if none is."""
        order = self._live(order_id)
        check_int(max_rings, 0, 1_000, "bad_rings", "max_rings")
        tasks = self._tasks(order)
        waiting = [t for t in tasks if t.is_open and not t.courier]
        if not waiting:
            return []
        declined = {c for t in tasks for c, _ in t.declined}
        courier = self.dispatch.nearest(waiting[0].spec.cell, max_rings, declined, order.id)
        if courier is None:
            return []
        order.log.append(("auto_assigned", now_ms, courier))
        return self._hand(waiting, courier, now_ms)

    def courier_accept(self, task: bytes, courier: bytes, now_ms: int) -> list[Event]:
        del now_ms  # the assignment's time counts (A7); kept for a uniform call
        found = self._held(task, courier, "assignment_accepted")
        if found.accepted:
            raise reject("already_accepted")
        found.accepted = True
        return [("assignment_accepted", found.id, courier)]

    def courier_decline(self, task: bytes, courier: bytes, now_ms: int) -> list[Event]:
        """The courier does not take it: unassigned again, the refusal recorded."""
        found = self._held(task, courier, "declined")
        if found.accepted:
            raise reject("already_accepted", "ask a dispatcher to reassign it")
        events: list[Event] = [("declined", found.id, courier)]
        events += self.dispatch.take(found)
        found.declined.append((courier, now_ms))
        return events

    # -- couriers' work -----------------------------------------------------------------------

    def start(self, task: bytes, courier: bytes, now_ms: int) -> list[Event]:
        found = self.task(task)
        if found.state != TODO:
            raise _bad_state(found.state, DOING)
        self._held(task, courier, DOING)
        found.state, found.started_ms, found.accepted = DOING, now_ms, True
        return [("task_active", found.id, courier)]

    def complete(
        self,
        task: bytes,
        courier: bytes,
        *,
        done_ms: int,
        proof: bytes,
        now_ms: int,
        tolerance_ms: int,
    ) -> list[Event]:
        """The courier did it at ``done_ms`` (signed on the phone, kept as is: A7), with the
        ``proof`` hash; the last dropoff fulfils the order."""
        found = self._held(task, courier, DONE)
        if type(proof) is not bytes or len(proof) != PROOF_LEN:
            raise reject("bad_proof", f"a proof is a {PROOF_LEN}-byte hash")
        order = self.orders[found.order]
        pickup_done: int | None = None
        if found.spec.kind == DROPOFF:
            pickup = self.tasks[order.tasks[0]]
            if pickup.state != DONE:
                raise reject("pickup_not_done", f"the pickup is {pickup.state}")
            pickup_done = pickup.done_ms
        recorded = check_done_time(found, done_ms, now_ms, tolerance_ms, pickup_done)
        found.done_ms, found.signed_ms = recorded, done_ms
        found.proof, found.accepted = proof, True
        events: list[Event] = [("task_done", found.id, courier)]
        events += self._end(found, DONE)
        return events + self._fulfil_if_due(order, now_ms)

    def fail(self, task: bytes, courier: bytes, reason: str, now_ms: int) -> list[Event]:
        """The courier could not do it (nobody home, shop closed): ``reason`` recorded."""
        found = self._held(task, courier, FAILED)
        found.failure = check_text(reason, "bad_reason", "the failure's reason")
        found.failed_ms, found.accepted = now_ms, True
        events: list[Event] = [("task_failed", found.id, courier)]
        return events + self._end(found, FAILED)

    # -- the checks (they change nothing) -----------------------------------------------------

    def _store_step(self, order_id: bytes, by: bytes, to: str, froms: tuple[str, ...]) -> Order:
        order = self.order(order_id)
        if by != order.store:
            raise reject("not_your_order", "the store's step")
        if order.state not in froms:
            raise _bad_state(order.state, to)
        return order

    @staticmethod
    def _dispatcher(by: bytes, dispatchers: Collection[bytes]) -> None:
        if by not in dispatchers:
            raise reject("not_dispatcher")

    def _live(self, order_id: bytes) -> Order:
        order = self.order(order_id)
        if order.state not in LIVE_ORDER:
            raise reject("order_not_live", f"order is {order.state}: dispatch needs it accepted")
        return order

    def _dispatchable(
        self, task: bytes, courier: bytes, by: bytes, dispatchers: Collection[bytes]
    ) -> Task:
        self._dispatcher(by, dispatchers)
        check_id(task, TASK_ID_LEN, "task id")
        found = self.task(task)
        check_id(courier, MEMBER_ID_LEN, "courier")
        if not found.is_open:
            raise _bad_state(found.state, "assigned")
        self._live(order_of(task))
        return found

    def _held(self, task: bytes, courier: bytes, to: str) -> Task:
        """``task``, open and held by ``courier``."""
        found = self.task(task)
        if not found.is_open:
            raise _bad_state(found.state, to)
        if not courier or found.courier != courier:
            raise reject("not_your_task")
        return found

    # -- the changes --------------------------------------------------------------------------

    def _tasks(self, order: Order) -> list[Task]:
        return [self.tasks[t] for t in order.tasks]

    def _enter(self, order: Order, state: str, now_ms: int, by: bytes) -> list[Event]:
        order.state = state
        order.log.append((state, now_ms, by))
        return [(state, order.id)]

    def _close(self, order: Order, state: str, now_ms: int, by: bytes) -> list[Event]:
        """A3: the order closes unfulfilled, every open task cancelled with it."""
        events = self._enter(order, state, now_ms, by)
        for task in self._tasks(order):
            if task.is_open:
                events += self._end(task, CANCELLED)
                task.cancelled_with_order = True
        return events

    def _end(self, task: Task, state: str) -> list[Event]:
        """An open task ends: out of its courier's tour (a cancelled one loses its courier)."""
        events: list[Event] = []
        if task.courier:
            self.dispatch.drop(task)
            events.append(("task_ended", task.id))
            if state == CANCELLED:
                task.courier, task.accepted = b"", False
        task.state = state
        return events

    def _hand(self, tasks: list[Task], courier: bytes, now_ms: int) -> list[Event]:
        events: list[Event] = []
        for task in tasks:
            if task.courier:
                events += self.dispatch.take(task)
            events += self.dispatch.give(task, courier, now_ms)
        return events

    def _fulfil_if_due(self, order: Order, now_ms: int) -> list[Event]:
        """A2: a live order is fulfilled once its last non-cancelled dropoff is done."""
        dropoffs = [t for t in self._tasks(order) if t.spec.kind == DROPOFF]
        if order.state in LIVE_ORDER and all(t.state in (DONE, CANCELLED) for t in dropoffs):
            return self._enter(order, FULFILLED, now_ms, AUTO)
        return []

    # -- the snapshot -------------------------------------------------------------------------

    def to_value(self) -> Value:
        return {
            "orders": tuple(o.to_value() for _, o in sorted(self.orders.items())),
            "tasks": tuple(t.to_value() for _, t in sorted(self.tasks.items())),
            "dispatch": self.dispatch.to_value(),
        }


__all__ = [
    "ACCEPTED",
    "FULFILLED",
    "LIVE_ORDER",
    "NEW",
    "OPEN_ORDER",
    "ORDER_CANCELLED",
    "ORDER_STATES",
    "PREPARING",
    "READY",
    "REFUSED",
    "DeliveryBook",
    "Order",
]

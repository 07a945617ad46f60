"""A Hypothesis state machine over the delivery book: the invariants hold whatever happens.

Stores, customers, a dispatcher, couriers and a stranger act on random orders and tasks
(every call, by every party, in every state); couriers go online and offline, time passes,
completions arrive with signed times early, late, in the future or in any order.  After every
step:

* (A1) no dropoff is done unless its pickup is;
* (A2) a live or fulfilled order is fulfilled exactly when every non-cancelled dropoff is
  done, and a fulfilled order's tasks are all done or cancelled;
* (A3) a cancelled or refused order has no open task and no cancelled task keeps a courier;
* (A4) a done, failed or cancelled task never changes (but for a restore, which brings back
  only the cancelled and failed tasks, leaving done ones as they were);
* (A7) a done task keeps the time signed for it when that is within its window plus the
  tolerance (else the order's time), never before its assignment nor after the community
  time plus the skew allowance;
* a task is in at most one tour, its courier's, exactly while it is open and held;
* tours keep route order (unless the dispatcher reordered that tour);
* a move of a tour moves every open task of it, in order, and changes nothing else;
* a refused call changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from peoplenet.apps.delivery.orders import (
    FULFILLED,
    LIVE_ORDER,
    ORDER_CANCELLED,
    REFUSED,
    DeliveryBook,
)
from peoplenet.apps.delivery.tasks import (
    CANCELLED,
    CLOCK_SKEW_MS,
    DONE,
    DROPOFF,
    FAILED,
    PICKUP,
    TERMINAL_TASK,
    Event,
    TaskSpec,
)
from peoplenet.plugins.api import AppTxRejected, Value
from peoplenet.plugins.kit import Grid

S1, S2 = b"\x11" * 32, b"\x12" * 32
U1, U2 = b"\x21" * 32, b"\x22" * 32
DISPATCHER = b"\x31" * 32
C1, C2, C3 = b"\x41" * 32, b"\x42" * 32, b"\x43" * 32
STRANGER = b"\x51" * 32
PARTIES = (S1, S2, U1, U2, DISPATCHER, C1, C2, C3, STRANGER)
COURIERS = (C1, C2, C3)
DISPATCHERS = frozenset({DISPATCHER})
T0 = 1_000_000_000
MINUTE = 60_000
HOUR = 60 * MINUTE
PROOF = b"\x77" * 32
MAX_ORDERS = 5
"""Few orders, so that random steps meet each one often and carry it to its end."""

picks = st.integers(0, 1_000)
parties = st.sampled_from(PARTIES)
couriers = st.sampled_from(COURIERS)
roles = st.sampled_from(("store", "store", "store", "customer", "dispatcher", "other"))
cells = st.builds(Grid, st.integers(0, 3), st.integers(0, 3))


class DeliveryMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.book = DeliveryBook()
        self.now = T0
        self.ids: list[bytes] = []
        self.signed: dict[bytes, int] = {}
        """Task -> the done time its completion carried."""
        self.tolerance: dict[bytes, int] = {}
        self.arrived: dict[bytes, int] = {}
        """Task -> the community time its completion reached the order."""
        self.terminal: dict[bytes, Value] = {}
        self.tours: dict[bytes, tuple[bytes, ...]] = {}
        self.reordered: set[bytes] = set()

    # -- helpers ------------------------------------------------------------------------------

    def attempt(self, call: Callable[[], list[Event]]) -> list[Event] | None:
        before = self.book.to_value()
        try:
            return call()
        except AppTxRejected:
            assert self.book.to_value() == before, "a refusal changed the book"
            return None

    def order_id(self, pick: int) -> bytes:
        return self.ids[pick % len(self.ids)]

    def task_id(self, pick: int, index: int) -> bytes:
        tasks = self.book.order(self.order_id(pick)).tasks
        return tasks[index % len(tasks)]

    def tasks_value(self, excluded: set[bytes]) -> list[Value]:
        return [t.to_value() for i, t in sorted(self.book.tasks.items()) if i not in excluded]

    # -- time and couriers --------------------------------------------------------------------

    @rule(ms=st.integers(0, 30 * MINUTE))
    def tick(self, ms: int) -> None:
        self.now += ms

    @rule(courier=couriers, cell=cells)
    def go_online(self, courier: bytes, cell: Grid) -> None:
        self.attempt(lambda: self.book.go_online(courier, cell))

    @rule(courier=couriers)
    def go_offline(self, courier: bytes) -> None:
        self.attempt(lambda: self.book.go_offline(courier))

    # -- orders -------------------------------------------------------------------------------

    @precondition(lambda self: len(self.ids) < MAX_ORDERS)
    @rule(
        store=st.sampled_from((S1, S2)),
        customer=st.sampled_from((U1, U2)),
        cells=st.lists(cells, min_size=2, max_size=4),
        opens=st.integers(0, 20 * MINUTE),
        length=st.integers(10 * MINUTE, 120 * MINUTE),
        reuse=st.booleans(),
    )
    def create(
        self,
        store: bytes,
        customer: bytes,
        cells: list[Grid],
        opens: int,
        length: int,
        reuse: bool,
    ) -> None:
        oid = self.ids[-1] if reuse and self.ids else len(self.ids).to_bytes(16, "big")
        after = self.now + opens - 10 * MINUTE
        specs = [
            TaskSpec(PICKUP if i == 0 else DROPOFF, cell, after, after + length, 100, (), b"a")
            for i, cell in enumerate(cells)
        ]
        book = self.book
        created = self.attempt(
            lambda: book.create(
                oid, store, customer, specs, price_cents=500, rules_version=1, now_ms=self.now
            )
        )
        assert (created is None) == (reuse and bool(self.ids))
        if created is not None:
            self.ids.append(oid)

    @precondition(lambda self: self.ids)
    @rule(
        pick=picks,
        role=roles,
        other=parties,
        step=st.sampled_from(
            ("accept",) * 4
            + ("start_preparing", "ready") * 2
            + ("refuse", "delay", "cancel", "restore")
        ),
    )
    def order_step(self, pick: int, role: str, other: bytes, step: str) -> None:
        oid, book, now = self.order_id(pick), self.book, self.now
        order = book.order(oid)
        by = {"store": order.store, "customer": order.customer, "dispatcher": DISPATCHER}.get(
            role, other
        )
        calls: dict[str, Callable[[], list[Event]]] = {
            "accept": lambda: book.accept(oid, by, now),
            "refuse": lambda: book.refuse(oid, by, "closed", now),
            "start_preparing": lambda: book.start_preparing(oid, by, now),
            "ready": lambda: book.ready(oid, by, now),
            "delay": lambda: book.delay(oid, by, 10, now),
            "cancel": lambda: book.cancel(oid, by, DISPATCHERS, now),
        }
        if step == "restore":
            self.restore(oid, by)
        else:
            self.attempt(calls[step])

    def restore(self, oid: bytes, by: bytes) -> None:
        """A restore changes no done task: only the cancelled and failed ones (A4's exception)."""
        book = self.book
        done_before = [t.to_value() for t in book.tasks_of(oid) if t.state == DONE]
        if self.attempt(lambda: book.restore(oid, by, DISPATCHERS, self.now)) is None:
            return
        assert [t.to_value() for t in book.tasks_of(oid) if t.state == DONE] == done_before
        for task in book.tasks_of(oid):
            if task.state != DONE:
                self.terminal.pop(task.id, None)

    @precondition(lambda self: self.ids)
    @rule(pick=picks, index=st.integers(0, 3), by=st.sampled_from((DISPATCHER,) * 3 + (S1,)))
    def cancel_task(self, pick: int, index: int, by: bytes) -> None:
        task = self.task_id(pick, index)
        self.attempt(lambda: self.book.cancel_task(task, by, DISPATCHERS, self.now))

    # -- dispatch -----------------------------------------------------------------------------

    @precondition(lambda self: self.ids)
    @rule(
        pick=picks,
        index=st.integers(0, 3),
        courier=couriers,
        by=st.sampled_from((DISPATCHER,) * 6 + (C1, S1)),
        how=st.sampled_from(("assign", "reassign", "assign_delivery")),
    )
    def assign(self, pick: int, index: int, courier: bytes, by: bytes, how: str) -> None:
        book, now = self.book, self.now
        task, oid = self.task_id(pick, index), self.order_id(pick)
        calls: dict[str, Callable[[], list[Event]]] = {
            "assign": lambda: book.assign(task, courier, by, DISPATCHERS, now),
            "reassign": lambda: book.reassign(task, courier, by, DISPATCHERS, now),
            "assign_delivery": lambda: book.assign_delivery(oid, courier, by, DISPATCHERS, now),
        }
        self.attempt(calls[how])

    @precondition(lambda self: self.ids)
    @rule(pick=picks, rings=st.integers(0, 4))
    def auto_assign(self, pick: int, rings: int) -> None:
        oid = self.order_id(pick)
        events = self.attempt(lambda: self.book.auto_assign(oid, self.now, rings))
        for event in events or ():
            assert event[0] == "assigned"
            courier = event[2]  # type: ignore[misc]
            assert courier in self.book.online()
            declined = {c for t in self.book.tasks_of(oid) for c, _ in t.declined}
            assert courier not in declined

    @rule(source=couriers, to=couriers, by=st.sampled_from((DISPATCHER,) * 3 + (C1,)))
    def move_tour(self, source: bytes, to: bytes, by: bytes) -> None:
        moving = self.book.dispatch.tour(source)
        kept = self.book.dispatch.tour(to)
        others = self.tasks_value(set(moving))
        orders = [o.to_value() for _, o in sorted(self.book.orders.items())]
        events = self.attempt(lambda: self.book.move_tour(source, to, by, DISPATCHERS, self.now))
        if events is not None:
            assert moving
            assert self.book.dispatch.tour(to) == kept + moving
            assert self.book.dispatch.tour(source) == ()
            assert self.tasks_value(set(moving)) == others, "a move changed another task"
            assert [o.to_value() for _, o in sorted(self.book.orders.items())] == orders

    @rule(courier=couriers, rotate=st.integers(0, 5), by=st.sampled_from((DISPATCHER,) * 3 + (C2,)))
    def reorder(self, courier: bytes, rotate: int, by: bytes) -> None:
        tour = list(self.book.dispatch.tour(courier))
        if tour:
            k = rotate % len(tour)
            tour = tour[k:] + tour[:k]
        if self.attempt(lambda: self.book.reorder(courier, tour, by, DISPATCHERS)) is not None:
            self.reordered.add(courier)

    # -- couriers' work -----------------------------------------------------------------------

    @precondition(lambda self: self.ids)
    @rule(
        pick=picks,
        index=st.integers(0, 3),
        holder=st.sampled_from((True, True, True, False)),
        stranger=couriers,
        step=st.sampled_from(("accept", "accept", "start", "start", "decline", "fail")),
    )
    def courier_step(self, pick: int, index: int, holder: bool, stranger: bytes, step: str) -> None:
        book, now, task = self.book, self.now, self.task_id(pick, index)
        tours = sorted(t for tour in book.dispatch.tours.values() for t in tour)
        if holder and tours:
            task = tours[(pick + index) % len(tours)]
        held = book.task(task).courier
        courier = held if holder and held else stranger
        calls: dict[str, Callable[[], list[Event]]] = {
            "accept": lambda: book.courier_accept(task, courier, now),
            "decline": lambda: book.courier_decline(task, courier, now),
            "start": lambda: book.start(task, courier, now),
            "fail": lambda: book.fail(task, courier, "nobody home", now),
        }
        self.attempt(calls[step])

    @precondition(lambda self: self.ids)
    @rule(
        pick=picks,
        index=st.integers(0, 3),
        holder=st.sampled_from((True, True, True, False)),
        stranger=couriers,
        offset=st.integers(-40 * MINUTE, CLOCK_SKEW_MS + MINUTE),
        tolerance=st.sampled_from((0, 10 * MINUTE)),
    )
    def complete(
        self, pick: int, index: int, holder: bool, stranger: bytes, offset: int, tolerance: int
    ) -> None:
        task = self.book.task(self.task_id(pick, index))
        courier = task.courier if holder and task.courier else stranger
        done_ms = self.now + offset
        events = self.attempt(
            lambda: self.book.complete(
                task.id,
                courier,
                done_ms=done_ms,
                proof=PROOF,
                now_ms=self.now,
                tolerance_ms=tolerance,
            )
        )
        if events is not None:
            assert ("task_done", task.id, courier) in events
            assert task.assigned_ms <= done_ms <= self.now + CLOCK_SKEW_MS
            self.signed[task.id] = done_ms
            self.tolerance[task.id] = tolerance
            self.arrived[task.id] = self.now

    @precondition(lambda self: self.ids)
    @rule(pick=picks, courier=couriers)
    def progress(self, pick: int, courier: bytes) -> None:
        """The next natural step of an order, by the right party (so that orders get done)."""
        book, now = self.book, self.now
        order = book.order(self.order_id(pick))
        if order.state == "new":
            self.attempt(lambda: book.accept(order.id, order.store, now))
            return
        if order.state == ORDER_CANCELLED:
            self.restore(order.id, DISPATCHER)
            return
        waiting = [t for t in book.tasks_of(order.id) if t.is_open]
        if order.state not in LIVE_ORDER or not waiting:
            return
        task = waiting[0] if waiting[0].spec.kind == PICKUP else waiting[-1]
        if not task.courier:
            self.attempt(lambda: book.assign(task.id, courier, DISPATCHER, DISPATCHERS, now))
            return
        pickup = book.tasks_of(order.id)[0]
        done_ms = max(task.spec.after_ms, task.assigned_ms, pickup.done_ms)
        if done_ms > now:
            self.now = done_ms
        events = self.attempt(
            lambda: book.complete(
                task.id,
                task.courier,
                done_ms=done_ms,
                proof=PROOF,
                now_ms=self.now,
                tolerance_ms=HOUR,
            )
        )
        if events is not None:
            self.signed[task.id], self.tolerance[task.id] = done_ms, HOUR
            self.arrived[task.id] = self.now

    # -- the invariants -----------------------------------------------------------------------

    @invariant()
    def a1_a2_a3(self) -> None:
        for order in self.book.orders.values():
            tasks = [self.book.tasks[t] for t in order.tasks]
            pickup, dropoffs = tasks[0], tasks[1:]
            if any(d.state == DONE for d in dropoffs):
                assert pickup.state == DONE, "A1"
            if order.state in LIVE_ORDER or order.state == FULFILLED:
                every = all(d.state == DONE for d in dropoffs if d.state != CANCELLED)
                assert every == (order.state == FULFILLED), "A2"
                assert any(d.state != CANCELLED for d in dropoffs)
            if order.state == FULFILLED:
                assert all(t.state in (DONE, CANCELLED) for t in tasks)
            if order.state in (ORDER_CANCELLED, REFUSED):
                assert all(t.state in TERMINAL_TASK for t in tasks), "A3"
            for task in tasks:
                if task.state == CANCELLED:
                    assert not task.courier, "A3: a cancelled task stays assigned"
                if task.state in (DONE, FAILED):
                    assert task.courier

    @invariant()
    def a4_terminal_tasks_never_change(self) -> None:
        for tid, value in self.terminal.items():
            assert self.book.tasks[tid].to_value() == value, "A4"
        for tid, task in self.book.tasks.items():
            if task.state in TERMINAL_TASK:
                self.terminal[tid] = task.to_value()

    @invariant()
    def a7_signed_times_are_kept(self) -> None:
        for tid, signed in self.signed.items():
            task = self.book.tasks[tid]
            if task.state == DONE:
                assert task.signed_ms == signed
                high = task.spec.before_ms + self.tolerance[tid]
                if task.spec.after_ms <= signed <= high:
                    assert task.done_ms == signed  # a plausible signed time is kept
                else:  # else the order's time: no phone back-dates a late delivery
                    pickup = self.book.tasks[self.book.orders[task.order].tasks[0]]
                    floor = pickup.done_ms if task.spec.kind == DROPOFF else 0
                    assert task.done_ms == max(self.arrived[tid], floor)

    @invariant()
    def one_courier_per_task_and_tours_match(self) -> None:
        seen: set[bytes] = set()
        for courier, tour in self.book.dispatch.tours.items():
            assert tour, "an empty tour is kept"
            for tid in tour:
                task = self.book.tasks[tid]
                assert tid not in seen, "a task in two tours"
                seen.add(tid)
                assert task.is_open
                assert task.courier == courier
        held = {t for t, task in self.book.tasks.items() if task.is_open and task.courier}
        assert held == seen

    @invariant()
    def tours_keep_route_order(self) -> None:
        now = {c: tuple(t) for c, t in self.book.dispatch.tours.items()}
        for courier, tour in now.items():
            if courier in self.reordered:
                continue
            before = self.tours.get(courier, ())
            kept = [t for t in tour if t in before]
            assert kept == [t for t in before if t in tour], "a tour lost its route order"
        self.tours, self.reordered = now, set()


DeliveryMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=80, deadline=None
)
TestDeliveryMachine = DeliveryMachine.TestCase

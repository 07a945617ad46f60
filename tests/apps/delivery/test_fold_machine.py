"""A Hypothesis state machine over the whole delivery fold, through the real app host.

The cooperative has six members and the bundled currency as its funds provider: member 0 is
the dispatcher (and orders too), members 1 and 2 are stores, members 3 and 4 couriers, member
5 a customer; members 0, 3, 4 and 5 hold minted coins.  A customer who is not a member orders,
cancels and rates through :class:`CustomerOrder` s a member's node carries.  Random steps place
orders (cash and escrow), answer them as the store, cancel and restore them, dispatch tasks,
whole deliveries and tours, take, decline, start, complete and fail tasks, share positions,
reseal addresses (the dispatcher's duty), rate, settle cash debts, re-vote the policy (a pay
rule that is no rule among them) and the price rules, let parties leave the cooperative and
come back, read the node's commands, and now and then send a transaction from the wrong party
or one the fold must refuse.  ``advance`` carries one order several steps along its way to the
door, so that runs reach fulfilment often.  ``-m slow`` runs the same machine longer.

After every step:

* (M1) money is conserved: every coin minted is in some account and none is negative; the
  escrow book's totals and debts add up, and what it holds is the escrow account's balance;
* (M2) no order is paid twice (one payout per order, whatever its restores);
* (M3) a fulfilled, cancelled or refused order's money is settled, or the reason it could not
  move is recorded; an open order's money is open and nothing is recorded as stuck;
* (M4) what the fold says each member earned is what the escrow and cash records paid them;
* (R) a refused transaction changes neither app's snapshot (nor the fold's unsnapshotted
  bookkeeping: tasks to reseal, customers to tell);
* (T1) a task is in at most one tour, its courier's, while open; (T2) a done task's state,
  courier and time never change; (T3) positions only for active tasks; (T4) addresses wait
  to be resealed only for open tasks a courier holds;
* (T5) tasks are given to members only;
* (C) the customer who is not a member is told every change of their open order;
* no hook raised anything but a refusal, and the node kept running the app.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from dataclasses import replace
from typing import Final

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from peoplenet.apps.currency import plugin as currency
from peoplenet.apps.delivery import plugin
from peoplenet.apps.delivery.conformance import CUSTOMER, HOME, SHOP, cell
from peoplenet.apps.delivery.fold import DeliveryFold
from peoplenet.apps.delivery.orders import FULFILLED, OPEN_ORDER, ORDER_CANCELLED, REFUSED
from peoplenet.apps.delivery.payment import CANCELLED, OPEN, PAID
from peoplenet.apps.delivery.payment import REFUSED as MONEY_REFUSED
from peoplenet.apps.delivery.places import Address as Place
from peoplenet.apps.delivery.places import (
    address_context,
    seal_address,
    seal_position,
    stop_context,
)
from peoplenet.apps.delivery.records import (
    DROPOFF,
    PICKUP,
    Address,
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
    RestoreOrder,
    SettleDebt,
    StartTask,
    Stop,
    StoreAnswer,
    Track,
)
from peoplenet.apps.delivery.state import DeliveryState
from peoplenet.apps.delivery.tasks import DOING, DONE
from peoplenet.plugins.api import AppCommandError, FoldContext
from peoplenet.plugins.harness import AppHarness
from peoplenet.plugins.kit import COMMUNITY_COINS, distance_m, escrow_account, parse_point
from peoplenet.plugins.testing import COMMUNITY, START_MS
from peoplenet.runtime.wire.codec import Record, Value

MEMBERS: Final = 6
DISPATCHER: Final = 0
STORES: Final = (1, 2)
COURIERS: Final = (3, 4)
FUNDED: Final = (0, 3, 4, 5)
MINTED: Final = 30_000
"""Cents minted to each funded member: a few escrow orders each, then insufficient funds."""
AWAY: Final = parse_point("45.476000,9.215000")
DAY_MS: Final = 86_400_000
PROOF: Final = bytes(range(32))
MAX_ORDERS: Final = 6
"""Few orders, so that random steps meet each one often and carry it to its end."""
DEADLINE_S: Final = 30.0
"""A hook that runs longer is hung (the node's 2 s is for phones, not a loaded test machine)."""
REFUSALS_THAT_ARE_FAULTS: Final = frozenset({"plugin_failed", "app_faulted", "unknown_tx"})

PHASES: Final = tuple(p for p in Phase if p != Phase.explain)
"""No explain phase: tracing every line of the host makes a failure take minutes to report."""
STUCK_BECAUSE: Final = frozenset({"", "unknown_account", "not_paid"})
"""Why an order's money may wait: a payee left (``unknown_account``), or an order restored
after its coins went back was never paid again (``not_paid``: no transaction pays it again)."""
picks = st.integers(0, 1_000)
anyone = st.integers(0, MEMBERS - 1)
wrong = st.integers(0, 9)
"""0 sends the step from ``anyone`` instead of the right party."""
POLICIES: Final = st.fixed_dictionaries(
    {
        "payment": st.sampled_from(("escrow", "escrow", "cash")),
        "auto_assign": st.booleans(),
        "cancel_fee_cents": st.sampled_from((0, 300, 10**6)),
        "pay_rule": st.sampled_from(("equal", "1:2", "fast")),  # "fast": a rule that is no rule
        "store_sees_courier": st.sampled_from(("pickup", "assignment")),
        "courier_share": st.sampled_from(("4/5", "1/3", "1")),
    }
)


def task_of(order: bytes, index: int) -> bytes:
    return order + bytes([index])


class Coop(AppHarness):
    """The harness's cooperative, where members may leave (and come back): a member who left
    is not in ``ctx.members``, so no money may go to them and they send nothing."""

    def __init__(self) -> None:
        self.left: set[bytes] = set()
        super().__init__(plugin, members=MEMBERS, others=[currency], deadline_s=DEADLINE_S)

    def context(
        self,
        name: str,
        sender: bytes = b"",
        position: tuple[int, int] = (0, 0),
        beacon: bytes = b"",
    ) -> FoldContext:
        ctx = super().context(name, sender, position, beacon)
        return dataclasses.replace(ctx, members=ctx.members - self.left)


class FoldMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.h = Coop()
        self.coins = self.h.others[0]
        for m in FUNDED:
            self.h.enable_app(self.coins, {}, {"mint": MINTED, "to": self.h.members[m].hex()})
        self.h.officers["dispatcher"] = self.h.members[DISPATCHER]
        self.policy: dict[str, Value] = {"payment": "escrow"}
        self.h.enable(self.policy)
        self.orders: list[bytes] = []
        self.customer_orders: list[bytes] = []
        self.customer_seq = 0
        self.last_customer_step: CustomerOrder | None = None
        self.done: dict[bytes, tuple[bytes, int]] = {}
        self.refused: dict[str, int] = {}
        self.applied = 0

    def teardown(self) -> None:
        self.h.close()

    # -- reading -------------------------------------------------------------------------------

    @property
    def fold(self) -> DeliveryFold:
        s = self.h.state
        assert isinstance(s, DeliveryState)
        return s.fold

    def member(self, index: int) -> bytes:
        return self.h.members[index]

    def index_of(self, member: bytes) -> int:
        return self.h.members.index(member) if member in self.h.members else DISPATCHER

    def pick_order(self, pick: int) -> bytes | None:
        """Mostly an open order (where most steps apply), else any."""
        book = self.fold.book
        live = [o for o in self.orders if book.order(o).state in OPEN_ORDER]
        among = live if live and pick % 3 else self.orders
        return among[pick // 3 % len(among)] if among else None

    def pick_task(self, pick: int) -> bytes | None:
        tasks = sorted(self.fold.book.tasks)
        return tasks[pick % len(tasks)] if tasks else None

    def sender(self, right: int, flip: int, other: int) -> int:
        return other if flip == 0 else right

    def probe(self) -> tuple[Value, Value, object]:
        """Both apps' snapshots and the fold's bookkeeping that no snapshot shows."""
        fold = self.fold
        s = self.h.state
        assert isinstance(s, DeliveryState)
        extra = (
            sorted(fold.to_reseal),
            sorted((o, t.request, t.told, t.steps) for o, t in fold.telling.items()),
            sorted(s.nudged),
        )
        return self.h.snapshot(), self.h.snapshot_of(self.coins), extra

    def send(self, tx: Record, member: int) -> bool:
        """Submit ``tx`` from ``member``; a refusal must change nothing (R)."""
        before = self.probe()
        result = self.h.submit(tx, member)
        if result["status"] == "applied":
            self.applied += 1
            self.only_members_given_tasks(result["result"])
            return True
        reason = result.get("reason")
        assert reason not in REFUSALS_THAT_ARE_FAULTS, result
        assert isinstance(reason, str)
        key = f"{type(tx).__name__}:{reason}"
        self.refused[key] = self.refused.get(key, 0) + 1
        assert self.probe() == before, (type(tx).__name__, reason)
        return False

    def only_members_given_tasks(self, result: Value) -> None:
        """(T5) Whoever a step gives a task to (a dispatcher, or automatic dispatch) is a member."""
        assert isinstance(result, dict)
        members = {m.hex() for m in self.h.members if m not in self.h.left}
        for event in result.get("events", ()):  # type: ignore[union-attr]
            assert isinstance(event, tuple)
            if event[0] == "assigned":
                assert event[2] in members, event

    # -- orders --------------------------------------------------------------------------------

    def stops(self, order: bytes, readers: tuple[bytes, ...], dropoffs: int) -> tuple[Stop, ...]:
        places = (("Via Dante 1", SHOP), ("Via Lupetta 4", HOME), ("Via Tortona 9", AWAY))
        window = (START_MS, START_MS + DAY_MS)
        out = []
        for i, (text, at) in enumerate(places[: dropoffs + 1]):
            sealed = seal_address(
                Place(text, at), readers, stop_context(COMMUNITY, order + bytes([i]))
            )
            kind = PICKUP if i == 0 else DROPOFF
            out.append(Stop(kind, cell(at), *window, 1500, (("box", 1),), sealed))
        return tuple(out)

    def draft(
        self, order: bytes, store: int, customer: bytes, goods: int, dropoffs: int, method: str
    ) -> PlaceOrder:
        readers = (customer, self.member(store), self.member(DISPATCHER))
        stops = self.stops(order, tuple(dict.fromkeys(readers)), dropoffs)
        distance = distance_m(SHOP, HOME) + (distance_m(HOME, AWAY) if dropoffs > 1 else 0)
        version = self.fold.rules.current
        draft = PlaceOrder(order, self.member(store), goods, stops, distance, 0, version, method)
        return replace(draft, price_cents=self.fold.quote(draft, version).total)

    def new_order_id(self) -> bytes:
        return bytes([len(self.orders) + 1]) * 16

    @initialize(
        customer=st.sampled_from(FUNDED),
        store=st.sampled_from(STORES),
        method=st.sampled_from(("escrow", "cash")),
    )
    def first_order(self, customer: int, store: int, method: str) -> None:
        """Every run starts with an order, so that its steps have something to act on."""
        self.place(customer, store, 2450, 1, method, 1)

    @rule(
        customer=st.sampled_from((*FUNDED, *FUNDED, *STORES)),
        store=st.sampled_from(STORES),
        goods=st.sampled_from((0, 250, 2450, 9000)),
        dropoffs=st.integers(1, 2),
        method=st.sampled_from(("escrow", "escrow", "cash")),
        mispriced=wrong,
    )
    def place(
        self, customer: int, store: int, goods: int, dropoffs: int, method: str, mispriced: int
    ) -> None:
        if len(self.orders) >= MAX_ORDERS:
            return
        order = self.new_order_id()
        tx = self.draft(order, store, self.member(customer), goods, dropoffs, method)
        if mispriced == 0:
            tx = replace(tx, price_cents=tx.price_cents + 1)
        if self.send(tx, customer):
            self.orders.append(order)

    @rule(
        store=st.sampled_from(STORES),
        carrier=anyone,
        limit=st.sampled_from((10**6, 10**6, 1)),
        dropoffs=st.integers(1, 2),
    )
    def customer_places(self, store: int, carrier: int, limit: int, dropoffs: int) -> None:
        if len(self.orders) >= MAX_ORDERS:
            return
        order = self.new_order_id()
        tx = self.draft(order, store, CUSTOMER.member_id, 2450, dropoffs, "escrow")
        tx = replace(tx, rules_version=0, price_cents=limit)
        if self.customer_step(tx, carrier):
            self.orders.append(order)
            self.customer_orders.append(order)

    def customer_step(self, body: PlaceOrder | CancelOrder | Rate, carrier: int) -> bool:
        step = CUSTOMER.step(self.customer_seq + 1, body)
        if not self.send(step, carrier):
            return False
        self.customer_seq += 1
        self.last_customer_step = step
        return True

    @rule(pick=picks, carrier=anyone, score=st.integers(1, 5), cancel=st.booleans())
    def customer_cancels_or_rates(self, pick: int, carrier: int, score: int, cancel: bool) -> None:
        if not self.customer_orders:
            return
        order = self.customer_orders[pick % len(self.customer_orders)]
        body = CancelOrder(order, "changed my mind") if cancel else Rate(order, score)
        self.customer_step(body, carrier)

    @rule(carrier=anyone)
    def customer_step_replayed(self, carrier: int) -> None:
        if self.last_customer_step is not None:
            assert not self.send(self.last_customer_step, carrier)

    @rule(
        pick=picks,
        step=st.sampled_from(("accept", "accept", "refuse", "preparing", "ready", "delay")),
        minutes=st.integers(1, 30),
        flip=wrong,
        other=anyone,
    )
    def store_answers(self, pick: int, step: str, minutes: int, flip: int, other: int) -> None:
        order = self.pick_order(pick)
        if order is None:
            return
        store = self.index_of(self.fold.book.order(order).store)
        reason = "closing" if step == "refuse" else ""
        tx = StoreAnswer(order, step, reason, minutes if step == "delay" else 0)
        self.send(tx, self.sender(store, flip, other))

    @rule(
        pick=picks,
        by=st.sampled_from(("store", "customer", "dispatcher")),
        flip=wrong,
        other=anyone,
    )
    def cancel(self, pick: int, by: str, flip: int, other: int) -> None:
        """Mostly an open order a party of which left (if any), else any."""
        book = self.fold.book
        gone = [
            o
            for o in self.orders
            if book.order(o).state in OPEN_ORDER
            and self.h.left & {book.order(o).customer, *(t.courier for t in book.tasks_of(o))}
        ]
        order = gone[pick % len(gone)] if gone and pick % 2 else self.pick_order(pick)
        if order is None:
            return
        o = self.fold.book.order(order)
        right = {"store": o.store, "customer": o.customer, "dispatcher": self.member(DISPATCHER)}
        self.send(
            CancelOrder(order, "sold out"), self.sender(self.index_of(right[by]), flip, other)
        )

    @rule(pick=picks, flip=wrong, other=anyone)
    def restore(self, pick: int, flip: int, other: int) -> None:
        """Mostly a cancelled order (where a restore applies), else any."""
        book = self.fold.book
        cancelled = [o for o in self.orders if book.order(o).state == ORDER_CANCELLED]
        order = cancelled[pick % len(cancelled)] if cancelled and pick % 3 else None
        order = order or self.pick_order(pick)
        if order is not None:
            self.send(RestoreOrder(order), self.sender(DISPATCHER, flip, other))

    @rule(pick=picks, courier=st.sampled_from(COURIERS), steps=st.integers(1, 8))
    def advance(self, pick: int, courier: int, steps: int) -> None:
        """Up to ``steps`` of an open order's way to the door, each by the right party: the
        store accepts, the dispatcher gives its waiting tasks to ``courier``, the courier
        starts or completes the first task of their tour (so that random runs reach fulfilment
        often); the invariants are checked after each."""
        book = self.fold.book
        live = [o for o in self.orders if book.order(o).state in OPEN_ORDER]
        if not live:
            return
        order_id = live[pick % len(live)]
        for _ in range(steps):
            if not self.next_step(order_id, courier):
                return
            self.check_all()

    @rule(pick=picks, courier=st.sampled_from(COURIERS), steps=st.integers(1, 8))
    def advance_too(self, pick: int, courier: int, steps: int) -> None:
        """:meth:`advance` again, so that it is not left out of a run (or rarely)."""
        self.advance(pick, courier, steps)

    def next_step(self, order_id: bytes, courier: int) -> bool:
        book = self.fold.book
        order = book.order(order_id)
        if order.state == "new":
            return self.send(StoreAnswer(order_id, "accept"), self.index_of(order.store))
        if order.state not in OPEN_ORDER:
            return False
        waiting = tuple(t.id for t in book.tasks_of(order_id) if t.is_open and not t.courier)
        if waiting:
            return self.send(Assign(waiting, self.member(courier)), DISPATCHER)
        held = next((t for t in book.tasks_of(order_id) if t.is_open), None)
        if held is None:
            return False
        first = book.tour(held.courier)[0]
        holder = self.index_of(first.courier)
        if first.state == DOING:
            return self.send(CompleteTask(first.id, self.h.now_ms + 1000, PROOF), holder)
        return self.send(StartTask(first.id), holder)

    def check_all(self) -> None:
        self.the_app_runs_and_no_hook_misbehaved()
        self.money_is_conserved()
        self.no_order_is_paid_twice()
        self.finished_orders_are_settled_or_say_why()
        self.earnings_are_what_the_records_paid()
        self.tasks_have_one_courier_and_done_is_done()
        self.positions_and_reseals_only_for_held_tasks()
        self.a_customer_is_told_where_their_open_order_stands()

    # -- dispatch ------------------------------------------------------------------------------

    @rule(courier=st.sampled_from(COURIERS), online=st.booleans(), away=st.booleans())
    def online(self, courier: int, online: bool, away: bool) -> None:
        tx = CourierOnline(cell(AWAY if away else SHOP)) if online else CourierOffline()
        self.send(tx, courier)

    @rule(pick=picks, courier=st.sampled_from(COURIERS), flip=wrong, other=anyone)
    def assign_task(self, pick: int, courier: int, flip: int, other: int) -> None:
        task = self.pick_task(pick)
        if task is not None:
            tx = Assign((task,), self.member(courier))
            self.send(tx, self.sender(DISPATCHER, flip, other))

    @rule(pick=picks, courier=st.sampled_from(COURIERS), flip=wrong, other=anyone)
    def assign_delivery(self, pick: int, courier: int, flip: int, other: int) -> None:
        order = self.pick_order(pick)
        if order is None:
            return
        tasks = tuple(t.id for t in self.fold.book.tasks_of(order) if t.is_open)
        if tasks:
            tx = Assign(tasks, self.member(courier))
            self.send(tx, self.sender(DISPATCHER, flip, other))

    @rule(frm=st.sampled_from(COURIERS), to=anyone, flip=wrong, other=anyone)
    def move_tour(self, frm: int, to: int, flip: int, other: int) -> None:
        tx = MoveTour(self.member(frm), self.member(to))
        self.send(tx, self.sender(DISPATCHER, flip, other))

    @rule(courier=st.sampled_from(COURIERS), by_courier=st.booleans(), data=st.data())
    def reorder(self, courier: int, by_courier: bool, data: st.DataObject) -> None:
        tour = [t.id for t in self.fold.book.tour(self.member(courier))]
        shuffled = data.draw(st.permutations(tour))
        self.send(Reorder(self.member(courier), tuple(shuffled)), courier if by_courier else 0)

    @rule(pick=picks, accept=st.booleans(), flip=wrong, other=anyone)
    def courier_answers(self, pick: int, accept: bool, flip: int, other: int) -> None:
        task = self.pick_task(pick)
        if task is None:
            return
        holder = self.index_of(self.fold.book.task(task).courier or self.member(COURIERS[0]))
        self.send(AnswerTask(task, accept), self.sender(holder, flip, other))

    # -- the couriers' work --------------------------------------------------------------------

    def holder(self, task: bytes) -> int:
        return self.index_of(self.fold.book.task(task).courier or self.member(COURIERS[0]))

    @rule(pick=picks, flip=wrong, other=anyone)
    def start(self, pick: int, flip: int, other: int) -> None:
        task = self.pick_task(pick)
        if task is not None:
            self.send(StartTask(task), self.sender(self.holder(task), flip, other))

    @rule(
        pick=picks,
        signed=st.sampled_from((0, 0, 500, 30_000, -5_000, 10 * 60_000)),
        flip=wrong,
        other=anyone,
    )
    def complete(self, pick: int, signed: int, flip: int, other: int) -> None:
        """Done now, a little before, long before (offline), or signed in the future."""
        task = self.pick_task(pick)
        if task is None:
            return
        done_ms = self.h.now_ms + 1000 - signed
        self.send(CompleteTask(task, done_ms, PROOF), self.sender(self.holder(task), flip, other))

    @rule(pick=picks, flip=wrong, other=anyone)
    def fail(self, pick: int, flip: int, other: int) -> None:
        task = self.pick_task(pick)
        if task is not None:
            self.send(FailTask(task, "flat tyre"), self.sender(self.holder(task), flip, other))

    @rule(pick=picks, readers=st.sets(anyone, max_size=3), customer=st.booleans(), flip=wrong)
    def track(self, pick: int, readers: set[int], customer: bool, flip: int) -> None:
        task = self.pick_task(pick)
        if task is None:
            return
        holder = self.holder(task)
        to = [self.member(m) for m in sorted(readers | {holder})]
        if customer:
            to.append(self.fold.book.order(task[:16]).customer)
        sealed = seal_position(HOME, tuple(dict.fromkeys(to)), COMMUNITY, task)
        self.send(Track(task, sealed), holder if flip else (holder + 1) % MEMBERS)

    @rule()
    def duties_reseal(self) -> None:
        """The dispatcher's node reseals every newly held stop's address to its courier."""
        for tx in self.h.duties():
            assert isinstance(tx, Address)
            assert self.send(tx, DISPATCHER), tx.task.hex()

    @rule(pick=picks, stranger=anyone)
    def address_to_a_stranger(self, pick: int, stranger: int) -> None:
        task = self.pick_task(pick)
        if task is None:
            return
        courier = self.fold.book.task(task).courier or self.member(COURIERS[0])
        to = (courier, self.member(stranger))
        sealed = seal_address(
            Place("Via Dante 1", SHOP), to, address_context(COMMUNITY, task, courier)
        )
        accepted = self.send(Address(task, courier, sealed), DISPATCHER)
        order = self.fold.book.order(task[:16])
        assert not accepted or self.member(stranger) in {order.customer, order.store, courier}

    # -- after -----------------------------------------------------------------------------------

    @rule(
        pick=picks, who=st.sampled_from(("customer", "store", "courier")), score=st.integers(1, 5)
    )
    def rate(self, pick: int, who: str, score: int) -> None:
        order = self.pick_order(pick)
        if order is None:
            return
        o = self.fold.book.order(order)
        party = {"customer": o.customer, "store": o.store}.get(who, self.member(COURIERS[0]))
        self.send(Rate(order, score), self.index_of(party))

    @rule(member=anyone, part=st.sampled_from((1, 2, 0)))
    def settle_debt(self, member: int, part: int) -> None:
        """Pay all, half or one cent more than the cash debt (over_settle, no_debt)."""
        owed = self.fold.pay.debt(self.member(member))
        cents = max(1, {1: owed, 2: owed // 2, 0: owed + 1}[part])
        self.send(SettleDebt(cents), member)

    @rule(pick=picks, who=st.sampled_from(("customer", "store", "courier", "online")))
    def a_party_leaves(self, pick: int, who: str) -> None:
        """A party of an order (or a courier online) leaves the cooperative: what is owed to
        them cannot reach them, so it waits, its reason recorded (M3); they send nothing and
        are given nothing (T5)."""
        book = self.fold.book
        order_id = self.pick_order(pick)
        if who == "online" or order_id is None:
            among = sorted(book.online())
        elif who in ("customer", "store"):
            order = book.order(order_id)
            among = [order.customer if who == "customer" else order.store]
        else:
            among = [t.courier for t in book.tasks_of(order_id) if t.courier]
        party = among[pick % len(among)] if among else None
        if party is not None and party != self.member(DISPATCHER):
            self.h.left.add(party)

    @rule(member=anyone)
    def comes_back(self, member: int) -> None:
        self.h.left.discard(self.member(member))

    @rule(policy=POLICIES)
    def revote(self, policy: dict[str, Value]) -> None:
        """The members vote the app's settings again (new orders follow them)."""
        self.policy = policy
        self.h.enable(policy)

    @rule(kind=st.integers(0, 6), pick=picks, member=anyone)
    def bad_transaction(self, kind: int, pick: int, member: int) -> None:
        """Transactions the fold must refuse, changing nothing."""
        order = self.pick_order(pick) or bytes([99]) * 16
        txs: list[Callable[[], Record]] = [
            lambda: Assign((task_of(order, 0), task_of(bytes([98]) * 16, 1)), self.member(3)),
            lambda: Assign((task_of(bytes([98]) * 16, 0),), self.member(3)),
            lambda: replace(self.draft(order, 1, self.member(5), 100, 1, "cash"), distance_m=10**6),
            lambda: StoreAnswer(order, "dance"),
            lambda: Reorder(self.member(3), (task_of(order, 0), task_of(order, 0))),
            lambda: CUSTOMER.step(self.customer_seq + 1, StartTask(task_of(order, 0))),  # type: ignore[arg-type]
            lambda: self.forged(order),
        ]
        tx = txs[kind]()
        before = self.probe()
        result = self.h.submit(tx, member)
        assert result["status"] == "rejected", (type(tx).__name__, result)
        assert result.get("reason") not in REFUSALS_THAT_ARE_FAULTS, result
        assert self.probe() == before

    @rule(op=st.sampled_from(("orders", "board", "earnings", "tour", "rules", "show")), pick=picks)
    def the_node_reads(self, op: str, pick: int) -> None:
        """Member 0's node answers the read-only commands whatever the state (or refuses
        with an AppCommandError; anything else is a problem of the app)."""
        order = self.pick_order(pick)
        if op == "show" and order is None:
            return
        args: dict[str, Value] = {"order": order.hex()} if op == "show" and order else {}
        with contextlib.suppress(AppCommandError):
            self.h.command(op, args)

    def forged(self, order: bytes) -> CustomerOrder:
        """A customer's cancellation whose signature is not theirs."""
        signed = CUSTOMER.step(self.customer_seq + 1, CancelOrder(order, "not me"))
        return replace(signed, request=replace(signed.request, signature=bytes(64)))

    @rule(fixed=st.sampled_from((100, 700)), stale=wrong)
    def new_prices(self, fixed: int, stale: int) -> None:
        """The members adopt a new price rule set: orders priced under the old one are stale
        (a customer's, at version 0, take the new one up to their limit)."""
        rule: dict[str, Value] = {
            "target": "delivery",
            "when": (("distance_m", ">=", 0),),
            "price": {"fixed": fixed},
        }
        self.h.enable(self.policy, {"pricing": {"strategy": "first", "rules": (rule,)}})
        if stale == 0 and len(self.orders) < MAX_ORDERS:
            draft = self.draft(self.new_order_id(), 1, self.member(5), 100, 1, "cash")
            old = replace(draft, rules_version=draft.rules_version - 1)
            assert not self.send(old, 5)

    # -- invariants ----------------------------------------------------------------------------

    @invariant()
    def the_app_runs_and_no_hook_misbehaved(self) -> None:
        # (a hook's running time is not judged here: the machine shares its cores)
        assert [p for p in self.h.problems() if " took " not in p] == []
        self.h.calls.clear()  # judged: the next check reads only the calls after this one

    @invariant()
    def money_is_conserved(self) -> None:
        coins = self.h.snapshot_of(self.coins)
        assert isinstance(coins, dict)
        ledger = coins["cooperative"]
        assert isinstance(ledger, dict)
        rows = ledger["balances"]
        assert isinstance(rows, tuple)
        balances: dict[bytes, int] = {}
        for row in rows:
            assert isinstance(row, tuple)
            account, balance = row
            assert isinstance(account, bytes) and isinstance(balance, int)
            balances[account] = balance
        assert all(b >= 0 for b in balances.values()), balances
        assert sum(balances.values()) == ledger["minted"]
        book = self.fold.pay.book
        assert book.conserved()
        escrow = escrow_account(COMMUNITY, plugin.NAME)
        assert balances.get(escrow, 0) == book.held(COMMUNITY_COINS)

    @invariant()
    def no_order_is_paid_twice(self) -> None:
        payouts: dict[bytes, int] = {}
        for job_id, job in self.fold.pay.book.jobs.items():
            if job.to_payee or job.commission:
                order = job_id[:16]
                payouts[order] = payouts.get(order, 0) + 1
        assert all(n == 1 for n in payouts.values()), payouts
        for order, money in self.fold.pay.orders.items():
            state = self.fold.book.order(order).state
            assert money.state != PAID or state == FULFILLED, (money.state, state)

    @invariant()
    def finished_orders_are_settled_or_say_why(self) -> None:
        fold = self.fold
        settled = {FULFILLED: (PAID,), ORDER_CANCELLED: (CANCELLED,), REFUSED: (MONEY_REFUSED,)}
        for order_id, order in fold.book.orders.items():
            money = fold.pay.money(order_id)
            assert money is not None
            if order.state in OPEN_ORDER:
                assert money.state in OPEN and order_id not in fold.money_stuck
            else:
                stuck = fold.money_stuck.get(order_id, "")
                assert money.state in settled[order.state] or stuck, (order.state, money.state)
                assert stuck.split(":")[0] in STUCK_BECAUSE, stuck

    @invariant()
    def earnings_are_what_the_records_paid(self) -> None:
        paid: dict[bytes, int] = {}
        for job in self.fold.pay.book.jobs.values():
            for payee, cents in job.payouts:
                paid[payee] = paid.get(payee, 0) + cents
        earned: dict[bytes, int] = {}
        for (member, _), cents in self.fold.earned.items():
            earned[member] = earned.get(member, 0) + cents
        assert {m: n for m, n in earned.items() if n} == {m: n for m, n in paid.items() if n}

    @invariant()
    def tasks_have_one_courier_and_done_is_done(self) -> None:
        book = self.fold.book
        toured: dict[bytes, bytes] = {}
        for courier, tour in book.dispatch.tours.items():
            for held in tour:
                assert held not in toured, held.hex()
                toured[held] = courier
        for task in book.tasks.values():
            if task.is_open and task.courier:
                assert toured.get(task.id) == task.courier
            else:
                assert task.id not in toured
            if task.state == DONE:
                self.done.setdefault(task.id, (task.courier, task.done_ms))
        for task_id, (courier, done_ms) in self.done.items():
            done = book.task(task_id)
            assert (done.state, done.courier, done.done_ms) == (DONE, courier, done_ms)

    @invariant()
    def a_customer_is_told_where_their_open_order_stands(self) -> None:
        """(C) The customer who is not a member hears every change of an open order."""
        fold = self.fold
        for order_id in self.customer_orders:
            if fold.book.order(order_id).state in OPEN_ORDER:
                telling = fold.telling.get(order_id)
                assert telling is not None, order_id.hex()
                assert telling.told == fold.book.order(order_id).state

    @invariant()
    def positions_and_reseals_only_for_held_tasks(self) -> None:
        fold = self.fold
        for task_id in fold.tracks:
            assert fold.book.task(task_id).state == DOING
        for task_id in fold.to_reseal:
            task = fold.book.task(task_id)
            assert task.is_open and task.courier


FoldMachine.TestCase.settings = settings(
    max_examples=50,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=PHASES,
)
TestFoldMachine = FoldMachine.TestCase


class SlowFoldMachine(FoldMachine):
    """The same machine, longer runs and more of them (``-m slow``)."""


SlowFoldMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=PHASES,
)
TestSlowFoldMachine = pytest.mark.timeout(1800)(pytest.mark.slow(SlowFoldMachine.TestCase))

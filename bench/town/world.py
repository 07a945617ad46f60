"""The people of the simulated town: customers who order, stores, couriers and the dispatcher.

:class:`Town` is one simulator node playing everyone's fingers.  A member's tap reaches their
own phone (:data:`~peoplenet.bench.city.phones.OWN`, not network traffic).  A customer is not
a member: the customer's phone signs the order (the app's :class:`~.records.CustomerOrder`
around a :class:`~.records.PlaceOrder`) with the customer's own key and sends it to the
store's phone, which carries it into consensus (counted as bytes the store receives).

What the people do is scripted and seeded (``sim.rng_for("city")``):

* customers order at uniform random times within the hours, from a random store, to a door
  within about 1.5 km of it; a few cancel within a minute (it counts only while the order is
  new);
* the store accepts 10-60 s after seeing the order (or refuses a few), starts preparing
  15-60 s later, and has it ready after the preparation time;
* the cooperative voted automatic assignment: the store's accept gives the delivery to the
  nearest free courier online; an order accepted while every courier is busy waits, and the
  elected dispatcher's phone gives it, oldest first, to the nearest courier whose tour is
  empty (the app assigns automatically only at the accept);
* a courier takes a delivery 5-20 s after seeing it (accepting its pickup), rides to the
  store (the straight line times the detour, at cycling speed), waits until the order is
  ready, hands over (signed completion of the pickup, with a proof hash), rides to the door,
  hands over (the dropoff's completion: the order is fulfilled, cash recorded), and tells
  the cooperative the cell they now wait in.  A courier holding several deliveries (a
  dispatcher's choice overtaken by an automatic one) does their tour in route order.

The exact door stays off the order: the dropoff carries its cell only, and once a courier
holds the delivery the customer's phone seals the address to the customer, the store and that
courier (the app's own sealing) and sends it to the courier's phone directly.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Final

from peoplenet.apps.delivery.orders import ACCEPTED, LIVE_ORDER, NEW, PREPARING, READY
from peoplenet.apps.delivery.places import Address, address_context, seal_address
from peoplenet.apps.delivery.records import (
    AnswerTask,
    Assign,
    CancelOrder,
    CompleteTask,
    CourierOnline,
    CustomerOrder,
    PlaceOrder,
    Stop,
    StoreAnswer,
)
from peoplenet.apps.delivery.tasks import DONE, PICKUP, Task
from peoplenet.bench.city.phones import CARRIED, DIRECT, OWN
from peoplenet.bench.city.replica import community_ms
from peoplenet.bench.city.world import ORIGIN, phone
from peoplenet.bench.town.config import TownConfig
from peoplenet.bench.town.replica import APP, TownReplica, app_tx
from peoplenet.plugins.api import AppTxRejected, Record
from peoplenet.plugins.kit import Grid, chebyshev, geo, sign_request
from peoplenet.plugins.testing import COMMUNITY
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.sim.simulator import Action, Send, SetTimer
from peoplenet.runtime.wire.codec import encode

REACH_UD: Final = (13_500, 19_000)
"""How far from its store a customer's door may be, in micro-degrees (lat, lon): about
1.5 km each way at the town's latitude."""
ANSWER_S: Final = (10.0, 60.0)
"""A store answers a new order this long after seeing it."""
PREPARE_START_S: Final = (15.0, 60.0)
TAKE_S: Final = (5.0, 20.0)
"""A courier takes a delivery this long after seeing it."""
CANCEL_S: Final = (5.0, 60.0)
WINDOW_MS: Final = 3 * 3_600_000
"""Every stop's window: from the order on, three hours."""


@dataclass(slots=True)
class Customer:
    identity: Identity
    orders_at: float
    store: int
    door: geo.Point
    seq: int = 0
    order: bytes = b""


@dataclass(slots=True)
class Tally:
    """What the people did (their side, for the audit): taps, not the fold's counters."""

    ordered_at: dict[bytes, float] = field(default_factory=dict)
    """Order -> the simulated second its customer tapped ``order``."""
    orders_sent: int = 0


@dataclass(slots=True)
class Courier:
    """A courier's own side: where they are, and what they are doing now."""

    index: int
    where: geo.Point
    busy: bool = False
    """Riding, or handing over (a timer will free them)."""
    waiting_at: bytes = b""
    """The pickup task whose order they wait for at the store (empty: not waiting)."""
    finished: set[bytes] = field(default_factory=set)
    """Tasks whose completion they submitted (the fold may not have it yet)."""


class Town:
    """Everyone's fingers (a :class:`~peoplenet.runtime.sim.simulator.SimNode`)."""

    def __init__(self, config: TownConfig, replica: TownReplica, rng: random.Random) -> None:
        self.config = config
        self.replica = replica
        self.rng = rng
        self.tally = Tally()
        self.stores = [self._point() for _ in range(config.stores)]
        first = config.stores
        self.couriers = [Courier(first + c, self._point()) for c in range(config.couriers)]
        self.dispatcher = config.stores + config.couriers
        self._members = [bytes(ident.member_id) for ident in replica.identities]
        self._courier_of = {self._members[c.index]: c for c in self.couriers}
        self.customers: list[Customer] = []
        window = config.hours * 3600.0
        for j in range(config.orders):
            seed = hashlib.blake2b(f"sim-deliveries/{config.seed}/customer/{j}".encode())
            store = rng.randrange(config.stores)
            self.customers.append(
                Customer(
                    Identity.from_seed(seed.digest()[:32]),
                    rng.uniform(0.0, window),
                    store,
                    self._near(self.stores[store]),
                )
            )
        self.by_order: dict[bytes, Customer] = {}
        self.open: set[bytes] = set()
        """Orders placed and not yet seen closed (what the people look at)."""
        self.pending: dict[bytes, bytes] = {}
        """The dispatcher's assignments not yet ordered: courier -> order."""
        self._later: dict[str, Callable[[float], list[Action]]] = {}
        self._seq = 0
        self._done: set[tuple[str, bytes, bytes]] = set()

    # -- the simulator node -----------------------------------------------------------------

    def start(self, now: float) -> Iterable[Action]:
        out: list[Action] = []
        for courier in self.couriers:
            out.append(self._at(now + self.rng.uniform(0.0, 30.0), partial(self._online, courier)))
        for customer in self.customers:
            out.append(self._at(customer.orders_at, partial(self._order, customer)))
        return out

    def receive(self, src: str, data: bytes, now: float) -> Iterable[Action]:
        """The reference phone folded something: everyone looks at their screen."""
        return self._react(now)

    def timer(self, key: str, now: float) -> Iterable[Action]:
        act = self._later.pop(key, None)
        return act(now) if act is not None else ()

    # -- scheduling -------------------------------------------------------------------------

    def _at(self, at: float, act: Callable[[float], list[Action]]) -> Action:
        self._seq += 1
        key = f"t{self._seq}"
        self._later[key] = act
        return SetTimer(key, at)

    def _once(self, what: str, subject: bytes, who: bytes = b"") -> bool:
        key = (what, subject, who)
        if key in self._done:
            return False
        self._done.add(key)
        return True

    def _point(self) -> geo.Point:
        span = self.config.grid * geo.CELL_UD
        return geo.Point(
            ORIGIN.lat + self.rng.randrange(span), ORIGIN.lon + self.rng.randrange(span)
        )

    def _near(self, store: geo.Point) -> geo.Point:
        """A door within reach of ``store``, inside the town."""
        span = self.config.grid * geo.CELL_UD - 1
        lat = store.lat + self.rng.randint(-REACH_UD[0], REACH_UD[0])
        lon = store.lon + self.rng.randint(-REACH_UD[1], REACH_UD[1])
        return geo.Point(
            min(max(lat, ORIGIN.lat), ORIGIN.lat + span),
            min(max(lon, ORIGIN.lon), ORIGIN.lon + span),
        )

    def _ride_s(self, a: geo.Point, b: geo.Point) -> float:
        return geo.distance_m(a, b) * self.config.detour / self.config.speed_mps

    # -- taps -------------------------------------------------------------------------------

    def _member(self, i: int, record: Record) -> Action:
        return Send(phone(i), OWN + encode(app_tx(record)))

    def _customer(self, customer: Customer, record: Record) -> Action:
        customer.seq += 1
        signed = sign_request(customer.identity, COMMUNITY, APP, customer.seq, record)
        carried = app_tx(CustomerOrder(signed))
        return Send(phone(customer.store), CARRIED + encode(carried))

    def _online(self, courier: Courier, now: float) -> list[Action]:
        cell = geo.cell_of(courier.where)
        return [self._member(courier.index, CourierOnline((cell.row, cell.col)))]

    def _order(self, customer: Customer, now: float) -> list[Action]:
        fold = self.replica.fold_state
        at = community_ms(now)
        store = self.stores[customer.store]
        a, b = geo.cell_of(store), geo.cell_of(customer.door)
        stops = (
            Stop(PICKUP, (a.row, a.col), at, at + WINDOW_MS, 2000, (("bag", 1),), None),
            Stop("dropoff", (b.row, b.col), at, at + WINDOW_MS, 2000, (("bag", 1),), None),
        )
        order_id = self.rng.randbytes(16)
        goods = self.rng.randint(800, 4500)
        distance = geo.distance_m(store, customer.door)
        draft = PlaceOrder(
            order_id, self._members[customer.store], goods, stops, distance, 0, 0, "cash"
        )
        try:  # the price the customer's app shows, under the rules in force
            price = fold.quote(draft, fold.rules.current).total
        except AppTxRejected:
            return []
        record = PlaceOrder(
            order_id, draft.store, goods, stops, distance, price, 0, "cash"
        )  # rules version 0: the rules in force, up to ``price``
        customer.order = order_id
        self.by_order[order_id] = customer
        self.open.add(order_id)
        self.tally.ordered_at[order_id] = now
        self.tally.orders_sent += 1
        out = [self._customer(customer, record)]
        if self.rng.random() < self.config.customer_cancel_p:
            out.append(self._at(now + self.rng.uniform(*CANCEL_S), partial(self._cancel, order_id)))
        return out

    def _cancel(self, order_id: bytes, now: float) -> list[Action]:
        order = self.replica.book.orders.get(order_id)
        if order is None or order.state != NEW:
            return []
        return [self._customer(self.by_order[order_id], CancelOrder(order_id, "changed my mind"))]

    # -- reacting to the fold ---------------------------------------------------------------

    def _react(self, now: float) -> list[Action]:
        book = self.replica.book
        out: list[Action] = []
        for order_id in sorted(self.open):
            order = book.orders.get(order_id)
            if order is None:
                continue
            if order.state not in LIVE_ORDER and order.state != NEW:
                self.open.discard(order_id)
                continue
            out.extend(self._store(order.id, order.state, now))
            for task_id in order.tasks:
                task = book.tasks[task_id]
                taking = task.courier and task.spec.kind == PICKUP and not task.accepted
                if taking and self._once("take", task.id, task.courier):
                    out.extend(self._take(task, now))
                if task.courier and self._once("door", task.id, task.courier):
                    out.extend(self._tell_courier(task))
        for courier in self.couriers:
            out.extend(self._courier(courier, now))
        out.extend(self._dispatch(now))
        return out

    def _store(self, order_id: bytes, state: str, now: float) -> list[Action]:
        store = self.by_order[order_id].store
        if state == NEW and self._once(NEW, order_id):
            at = now + self.rng.uniform(*ANSWER_S)
            return [self._at(at, partial(self._answer, order_id, store))]
        if state == ACCEPTED and self._once(ACCEPTED, order_id):
            at = now + self.rng.uniform(*PREPARE_START_S)
            return [self._at(at, partial(self._step, order_id, store, ACCEPTED, PREPARING))]
        if state == PREPARING and self._once(PREPARING, order_id):
            at = now + self.rng.uniform(*self.config.prepare_s)
            return [self._at(at, partial(self._step, order_id, store, PREPARING, READY))]
        return []

    def _answer(self, order_id: bytes, store: int, now: float) -> list[Action]:
        if self.replica.book.orders[order_id].state != NEW:
            return []
        if self.rng.random() < self.config.refuse_p:
            return [self._member(store, StoreAnswer(order_id, "refuse", "out of stock"))]
        return [self._member(store, StoreAnswer(order_id, "accept"))]

    def _step(self, order_id: bytes, store: int, was: str, to: str, now: float) -> list[Action]:
        if self.replica.book.orders[order_id].state != was:
            return []
        return [self._member(store, StoreAnswer(order_id, to))]

    def _take(self, task: Task, now: float) -> list[Action]:
        courier = self._courier_of[task.courier]
        taken = AnswerTask(task.id, accept=True)

        def take(t: float) -> list[Action]:
            current = self.replica.book.tasks[task.id]
            if current.courier != task.courier or current.accepted or not current.is_open:
                return []
            return [self._member(courier.index, taken)]

        return [self._at(now + self.rng.uniform(*TAKE_S), take)]

    def _tell_courier(self, task: Task) -> list[Action]:
        """The customer's phone seals the door to the courier now holding the dropoff."""
        if task.spec.kind == PICKUP:
            return []
        order = self.replica.book.orders[task.order]
        customer = self.by_order[task.order]
        door = Address(f"door of order {task.order.hex()[:8]}", customer.door, "+00 000 000")
        parties = (order.customer, order.store, task.courier)
        sealed = seal_address(door, parties, address_context(COMMUNITY, task.id, task.courier))
        return [Send(phone(self._courier_of[task.courier].index), DIRECT + encode(sealed))]

    # -- a courier's tour -------------------------------------------------------------------

    def _next(self, courier: Courier) -> Task | None:
        """The first task of the courier's tour they have not finished yet."""
        member = self._members[courier.index]
        for task in self.replica.book.tour(member):
            if task.id not in courier.finished:
                return task
        return None

    def _courier(self, courier: Courier, now: float) -> list[Action]:
        if courier.busy:
            return []
        if courier.waiting_at:
            return self._collect(courier, now)
        task = self._next(courier)
        if task is None:
            return []
        customer = self.by_order[task.order]
        stop = self.stores[customer.store] if task.spec.kind == PICKUP else customer.door
        courier.busy = True
        ride = self._ride_s(courier.where, stop)
        courier.where = stop
        return [self._at(now + ride, partial(self._arrive, courier, task.id))]

    def _held(self, courier: Courier, task_id: bytes) -> bool:
        task = self.replica.book.tasks[task_id]
        return task.is_open and task.courier == self._members[courier.index]

    def _arrive(self, courier: Courier, task_id: bytes, now: float) -> list[Action]:
        courier.busy = False
        if not self._held(courier, task_id):  # cancelled or moved while riding
            return self._courier(courier, now)
        if self.replica.book.tasks[task_id].spec.kind == PICKUP:
            courier.waiting_at = task_id
            return self._collect(courier, now)
        return self._hand_over(courier, task_id, now)

    def _collect(self, courier: Courier, now: float) -> list[Action]:
        """At the store: the courier takes the goods once the order is ready."""
        task_id = courier.waiting_at
        if not self._held(courier, task_id):
            courier.waiting_at = b""
            return self._courier(courier, now)
        if self.replica.book.orders[task_id[:16]].state != READY:
            return []
        courier.waiting_at = b""
        return self._hand_over(courier, task_id, now)

    def _hand_over(self, courier: Courier, task_id: bytes, now: float) -> list[Action]:
        courier.busy = True

        def done(t: float) -> list[Action]:
            courier.busy = False
            if not self._held(courier, task_id):
                return self._courier(courier, t)
            courier.finished.add(task_id)
            proof = hashlib.blake2b(b"signed at the door " + task_id, digest_size=32).digest()
            out = [self._member(courier.index, CompleteTask(task_id, community_ms(t), proof))]
            cell = geo.cell_of(courier.where)
            member = self._members[courier.index]
            if self.replica.book.online().get(member) != Grid(cell.row, cell.col):
                out.append(self._member(courier.index, CourierOnline((cell.row, cell.col))))
            return out + self._courier(courier, t)

        return [self._at(now + self.rng.uniform(*self.config.handover_s), done)]

    # -- the dispatcher ---------------------------------------------------------------------

    def _dispatch(self, now: float) -> list[Action]:
        """The dispatcher's phone: each waiting order, oldest first, to the nearest courier
        online whose tour is empty and who is not already given one."""
        book = self.replica.book
        for courier_id, order_id in list(self.pending.items()):
            order = book.orders[order_id]
            if order.state not in LIVE_ORDER or any(book.tasks[t].courier for t in order.tasks):
                del self.pending[courier_id]
        free = {
            c: cell
            for c, cell in book.online().items()
            if c not in self.pending and not book.dispatch.tour(c)
        }
        if not free:
            return []
        given = set(self.pending.values())
        waiting = []
        for order_id in self.open:
            live = book.orders.get(order_id)
            if live is None or live.state not in LIVE_ORDER or order_id in given:
                continue
            held = [book.tasks[t] for t in live.tasks]
            if any(t.courier for t in held) or held[0].state == DONE:
                continue
            waiting.append((live.created_ms, order_id, held[0].spec.cell))
        out: list[Action] = []
        for _, order_id, cell in sorted(waiting):
            if not free:
                break
            courier_id = min(free, key=lambda c: (chebyshev(cell, free[c]), c))
            del free[courier_id]
            self.pending[courier_id] = order_id
            ids = tuple(t for t in book.orders[order_id].tasks if book.tasks[t].is_open)
            out.append(self._member(self.dispatcher, Assign(ids, courier_id)))
        return out


__all__ = ["Courier", "Customer", "Tally", "Town"]

"""The delivery app's fold: every transaction, judged and applied on every member's phone.

:class:`DeliveryFold` joins the pure pieces -- the orders, tasks and dispatch
(:mod:`.orders`), the money (:mod:`.payment`), the price rules (:mod:`.pricing`,
:mod:`.rules`), the kit's customers and ratings -- and the sealed addresses and positions
(:mod:`.places`).  A transaction applies whole or not at all: every piece checks before it
changes anything, and the pieces that can refuse run before those that cannot (an order's
money is checked before the order is created).

Money that cannot move when an order is fulfilled or cancelled (a payee who left the
cooperative, say) does not undo the delivery: the order stands, the money stays held, and the
reason is shown with the order (``money``).

The fold also guards privacy: a courier's position (:class:`~.records.Track`) is taken only
while the task is active, only from its courier, and only sealed to the task's parties (the
store from the pickup on, or from the assignment if the cooperative voted so); an address
resealed to a courier (:class:`~.records.Address`) only to that courier and the order's
parties.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Final

from peoplenet.apps.delivery import records as r
from peoplenet.apps.delivery.orders import (
    LIVE_ORDER,
    ORDER_CANCELLED,
    PREPARING,
    READY,
    DeliveryBook,
    Order,
)
from peoplenet.apps.delivery.payment import (
    CANCELLED,
    CASH,
    DROPOFF,
    ESCROW,
    DeliveryPayments,
    DeliveryRates,
    Paid,
    TaskPay,
)
from peoplenet.apps.delivery.policy import FROM_ASSIGNMENT, Env, Policy
from peoplenet.apps.delivery.pricing import DeliveryFacts, PriceBreakdown, TaskFacts
from peoplenet.apps.delivery.rules import RuleVersions
from peoplenet.apps.delivery.tasks import DOING, DONE, Event, TaskSpec
from peoplenet.plugins.api import AppTxRejected, FoldContext, Value
from peoplenet.plugins.kit import (
    CustomerBook,
    Grid,
    RatingBook,
    Sealed,
    cell_distance_bounds,
    customer_event,
)

APP: Final = "delivery"
DISPATCHER: Final = "dispatcher"
"""The officer role whose holder dispatches (``peoplenet coop propose officer dispatcher``)."""
CUSTOMER_STEPS: Final = (r.PlaceOrder, r.CancelOrder, r.StoreAnswer, r.Rate)
"""What a customer (not a member) may sign: order, cancel, a store's answers, rate."""
STEP: Final = "step_"
PRICED: Final = "priced"
FINAL: Final = frozenset({"fulfilled", "cancelled", "refused"})
_FREEING: Final = frozenset({"task_done", "task_failed", "task_ended", "declined"})
"""Events after which a courier may be free for a waiting order."""

DeliveryTx = (
    r.CourierOnline | r.CourierOffline | r.PlaceOrder | r.StoreAnswer | r.CancelOrder
    | r.RestoreOrder | r.Assign | r.MoveTour | r.Reorder | r.AnswerTask | r.StartTask
    | r.CompleteTask | r.FailTask | r.Track | r.Address | r.Rate | r.SettleDebt
    | r.CustomerOrder | r.Repay
)  # fmt: skip
TX_TYPES: Final = (
    r.CourierOnline, r.CourierOffline, r.PlaceOrder, r.StoreAnswer, r.CancelOrder,
    r.RestoreOrder, r.Assign, r.MoveTour, r.Reorder, r.AnswerTask, r.StartTask,
    r.CompleteTask, r.FailTask, r.Track, r.Address, r.Rate, r.SettleDebt, r.CustomerOrder,
    r.Repay,
)  # fmt: skip


def _reject(reason: str, detail: str = "") -> AppTxRejected:
    return AppTxRejected(reason, detail)


@dataclass(slots=True)
class Telling:
    """A customer's order whose changes are declared to them, one ``step_N`` per change."""

    request: bytes
    told: str = ""
    steps: int = 0


@dataclass(slots=True)
class DeliveryFold:
    """One cooperative's deliveries, as every member's phone folds them."""

    book: DeliveryBook = field(default_factory=DeliveryBook)
    pay: DeliveryPayments = field(default_factory=lambda: DeliveryPayments(APP))
    rules: RuleVersions = field(default_factory=RuleVersions)
    customers: CustomerBook = field(default_factory=CustomerBook)
    ratings: RatingBook = field(default_factory=lambda: RatingBook(7 * 86_400_000, 3))
    stops: dict[bytes, Sealed | None] = field(default_factory=dict)
    """Task -> its address, sealed to the customer, the store and the dispatcher."""
    addresses: dict[bytes, tuple[bytes, Sealed]] = field(default_factory=dict)
    """Task -> (courier, the address resealed to them)."""
    tracks: dict[bytes, tuple[int, Sealed]] = field(default_factory=dict)
    """Active task -> (when, the courier's last sealed position); dropped when it ends."""
    money_stuck: dict[bytes, str] = field(default_factory=dict)
    """Order -> why its money could not move when it was fulfilled or cancelled."""
    telling: dict[bytes, Telling] = field(default_factory=dict)
    waiting: set[bytes] = field(default_factory=set)
    """Live orders with tasks automatic dispatch found no courier for (yet): given out when a
    courier is free again."""
    earned: dict[tuple[bytes, str], int] = field(default_factory=dict)
    """(member, ``store`` or ``courier``) -> cents paid to them (or due to them in cash)."""
    to_reseal: set[bytes] = field(default_factory=set)
    """Open tasks whose courier has no resealed address yet (what the resealer's duty reads)."""

    # -- the environment -------------------------------------------------------------------------

    @staticmethod
    def env(ctx: FoldContext, policy: Policy) -> Env:
        holder = ctx.officers.get(DISPATCHER)
        return Env(
            ctx.now_ms,
            policy,
            _commission(ctx.rates.get("commission", "0")),
            ctx.members,
            frozenset() if holder is None else frozenset({holder}),
            ctx.community,
            ctx.funds,
        )

    def rates(self, env: Env) -> DeliveryRates:
        p = env.policy
        return DeliveryRates.of(env.commission, p.courier_share, p.cancel_fee_cents, p.pay_rule)

    # -- a transaction -------------------------------------------------------------------------

    def apply(self, tx: DeliveryTx, sender: bytes, ctx: FoldContext, policy: Policy) -> Value:
        """Apply ``tx`` from ``sender`` whole, or raise :class:`AppTxRejected` and change
        nothing; the result (with the events declared to customers)."""
        env = self.env(ctx, policy)
        if isinstance(tx, r.CustomerOrder):
            result = self._customer(tx, ctx, env)
        else:
            if sender not in env.members:
                raise _reject("not_a_member", "only members send delivery transactions")
            result = self._one(tx, sender, ctx, env, None)
        told = self._tell()
        if told:
            result["customer_events"] = tuple(customer_event(*e) for e in told)
        return result

    def _one(
        self, tx: DeliveryTx, sender: bytes, ctx: FoldContext, env: Env, request: bytes | None
    ) -> dict[str, Value]:
        handler = _HANDLERS.get(type(tx))
        if handler is None:
            raise _reject("bad_tx", f"{type(tx).__name__} is not a delivery step")
        events = handler(self, tx, sender, ctx, env, request)
        freed = isinstance(tx, r.CourierOnline) or any(e[0] in _FREEING for e in events)
        if freed and self.waiting and env.policy.auto_assign:
            events += self._auto_waiting(env)
        self._follow(events)
        return {"tx": type(tx).__name__, "events": tuple(_event_value(e) for e in events)}

    def _customer(self, tx: r.CustomerOrder, ctx: FoldContext, env: Env) -> dict[str, Value]:
        body = self.customers.admit(tx.request, ctx, APP)
        if not isinstance(body, CUSTOMER_STEPS):
            raise _reject("not_a_customer_step", f"a customer cannot sign {type(body).__name__}")
        who = tx.request.customer
        result = self._one(body, who, ctx, env, tx.request.digest)
        self.customers.accept(tx.request, ctx, APP)
        result["customer"] = who
        return result

    # -- couriers online --------------------------------------------------------------------

    def _online(self, tx: r.CourierOnline, sender: bytes, *_: object) -> list[Event]:
        return self.book.go_online(sender, Grid(*tx.cell))

    def _offline(self, tx: r.CourierOffline, sender: bytes, *_: object) -> list[Event]:
        if sender not in self.book.online():
            raise _reject("not_online", "you take no tasks now")
        return self.book.go_offline(sender)

    # -- orders ------------------------------------------------------------------------------

    def quote(self, tx: r.PlaceOrder, version: int) -> PriceBreakdown:
        """The order's price under rules ``version`` (``no_price_rule`` if none matches)."""
        self._check_distance(tx)
        facts = DeliveryFacts(
            tx.distance_m,
            tuple(
                TaskFacts(s.kind, Grid(*s.cell), s.weight_g, s.packages, s.after_ms, s.before_ms)
                for s in tx.stops
            ),
            tx.goods_cents,
        )
        return self.rules.get(version).price(facts)

    @staticmethod
    def _check_distance(tx: r.PlaceOrder) -> None:
        low = high = 0
        for a, b in zip(tx.stops, tx.stops[1:], strict=False):
            near, far = cell_distance_bounds(Grid(*a.cell), Grid(*b.cell))
            low, high = low + near, high + far
        if not low <= tx.distance_m <= high:
            raise _reject("bad_distance", f"{tx.distance_m} m is not {low}..{high} m by the cells")

    def _place(
        self, tx: r.PlaceOrder, sender: bytes, ctx: FoldContext, env: Env, request: bytes | None
    ) -> list[Event]:
        if tx.order in self.book.orders:
            raise _reject("order_exists", tx.order.hex())
        if tx.store == sender:
            raise _reject("self_order", "a store does not order from itself")
        version = tx.rules_version
        if request is not None and version == 0:  # a customer: the rules in force, up to a limit
            version = self.rules.current
        elif version != self.rules.current:
            raise _reject("stale_rules", f"rules version {self.rules.current} is in force")
        price = self.quote(tx, version).total
        if request is not None and tx.rules_version == 0:
            if price > tx.price_cents:
                raise _reject("over_your_limit", f"the price is {price}, above {tx.price_cents}")
        elif price != tx.price_cents:
            raise _reject("price_mismatch", f"the rules give {price}, not {tx.price_cents}")
        method = tx.method if env.policy.payment == ESCROW else CASH
        if method not in (CASH, ESCROW):
            raise _reject("bad_method", f"pay by {CASH} or {ESCROW}, not {tx.method!r}")
        self.pay.check_checkout(tx.order, sender, tx.store, tx.goods_cents, price, method, ctx)
        specs = [
            TaskSpec(s.kind, Grid(*s.cell), s.after_ms, s.before_ms, s.weight_g, s.packages)
            for s in tx.stops
        ]
        events = self.book.create(
            tx.order, tx.store, sender, specs, price_cents=price, rules_version=version,
            now_ms=env.now_ms,
        )  # fmt: skip
        self.pay.checkout(tx.order, sender, tx.store, tx.goods_cents, price, method, ctx)
        for task, stop in zip(self.book.order(tx.order).tasks, tx.stops, strict=True):
            self.stops[task] = stop.sealed
        if request is not None:
            self.telling[tx.order] = Telling(request)
        return events

    def _answer(
        self, tx: r.StoreAnswer, sender: bytes, ctx: FoldContext, env: Env, _: object
    ) -> list[Event]:
        now, book = env.now_ms, self.book
        if tx.step == "accept":
            events = book.accept(tx.order, sender, now)
            return events + self._auto(tx.order, env)
        if tx.step == "refuse":
            self.pay.check_refuse(tx.order, ctx)
            events = book.refuse(tx.order, sender, tx.reason, now)
            self._settle(tx.order, lambda: self.pay.refuse(tx.order, ctx))
            return events
        if tx.step == "preparing":
            return book.start_preparing(tx.order, sender, now)
        if tx.step == "ready":
            return book.ready(tx.order, sender, now)
        if tx.step == "delay":
            return book.delay(tx.order, sender, tx.minutes, now)
        raise _reject("bad_step", f"{tx.step!r}: accept, refuse, preparing, ready or delay")

    def _cancel(
        self, tx: r.CancelOrder, sender: bytes, ctx: FoldContext, env: Env, _: object
    ) -> list[Event]:
        order = self.book.order(tx.order)
        preparing = order.state in (PREPARING, READY)
        before = self._task_pay(order)
        rates = self.rates(env)  # a voted rate that is no rate refuses before the book changes
        events = self.book.cancel(tx.order, sender, env.dispatchers, env.now_ms)
        self._settle(tx.order, lambda: self.pay.cancel(tx.order, preparing, before, rates, ctx))
        return events

    def _restore(
        self, tx: r.RestoreOrder, sender: bytes, ctx: FoldContext, env: Env, _: object
    ) -> list[Event]:
        money = self.pay.money(tx.order)
        if money is not None and money.moved:
            raise _reject("money_moved", "its cancellation paid the store or couriers")
        # Money the cancellation could not move (money_stuck) is still held or due as before:
        # the restored order keeps it.  Money it moved back is due again (pay.restore), which
        # may refuse, so it goes first and is put back if the book refuses the restore.
        again = money is not None and money.state == CANCELLED
        kept = (money.round, money.state) if money is not None else (0, "")
        if again:
            self.pay.restore(tx.order)
        try:
            events = self.book.restore(tx.order, sender, env.dispatchers, env.now_ms)
        except AppTxRejected:
            if money is not None:
                money.round, money.state = kept
            raise
        self.money_stuck.pop(tx.order, None)
        return events

    def _repay(
        self, tx: r.Repay, sender: bytes, ctx: FoldContext, env: Env, _: object
    ) -> list[Event]:
        """A restored order paid in coins is paid again by its customer (a new hold)."""
        order = self.book.order(tx.order)
        if sender != order.customer:
            raise _reject("not_your_order", "the customer pays their order")
        self.pay.repay(tx.order, ctx)
        self.money_stuck.pop(tx.order, None)
        return []

    # -- dispatch -----------------------------------------------------------------------------

    def _assign(
        self, tx: r.Assign, sender: bytes, ctx: FoldContext, env: Env, _: object
    ) -> list[Event]:
        if tx.courier not in env.members:
            raise _reject("not_a_member", "a courier is a member")
        book, now = self.book, env.now_ms
        if len(tx.tasks) == 1:
            task = book.task(tx.tasks[0])
            move = book.reassign if task.courier else book.assign
            events = move(task.id, tx.courier, sender, env.dispatchers, now)
        else:
            order = book.order(tx.tasks[0][: r.ORDER_LEN])
            if set(tx.tasks) != {t.id for t in book.tasks_of(order.id) if t.is_open}:
                raise _reject(
                    "not_one_delivery", "assign one task, or every open task of one order"
                )
            events = book.assign_delivery(order.id, tx.courier, sender, env.dispatchers, now)
        return events

    def _move_tour(
        self, tx: r.MoveTour, sender: bytes, ctx: FoldContext, env: Env, _: object
    ) -> list[Event]:
        if tx.to not in env.members:
            raise _reject("not_a_member", "a courier is a member")
        return self.book.move_tour(tx.courier, tx.to, sender, env.dispatchers, env.now_ms)

    def _reorder(
        self, tx: r.Reorder, sender: bytes, ctx: FoldContext, env: Env, _: object
    ) -> list[Event]:
        deciders = env.dispatchers | {tx.courier}  # a courier orders their own route too
        return self.book.reorder(tx.courier, tx.tasks, sender, deciders)

    def _answer_task(
        self, tx: r.AnswerTask, sender: bytes, ctx: FoldContext, env: Env, _: object
    ) -> list[Event]:
        if tx.accept:
            return self.book.courier_accept(tx.task, sender, env.now_ms)
        events = self.book.courier_decline(tx.task, sender, env.now_ms)
        events += self._auto(tx.task[: r.ORDER_LEN], env)
        return events

    def _auto(self, order_id: bytes, env: Env) -> list[Event]:
        """Automatic dispatch, where the members enabled it: the order's waiting tasks to the
        nearest free courier online (:meth:`DeliveryBook.auto_assign`) who is a member (one who
        left goes offline first).  An order left with tasks no courier could take waits
        (:attr:`waiting`) for the next courier to be free."""
        if not env.policy.auto_assign or self.book.order(order_id).state not in LIVE_ORDER:
            self.waiting.discard(order_id)
            return []
        events: list[Event] = []
        for gone in [c for c in self.book.online() if c not in env.members]:
            events += self.book.go_offline(gone)  # left the cooperative: takes no tasks
        events += self.book.auto_assign(order_id, env.now_ms, env.policy.auto_rings)
        if any(t.is_open and not t.courier for t in self.book.tasks_of(order_id)):
            self.waiting.add(order_id)
        else:
            self.waiting.discard(order_id)
        return events

    def _auto_waiting(self, env: Env) -> list[Event]:
        """A courier is free (online, or done with a task): the waiting orders, oldest first,
        each to the nearest free courier, as far as there are couriers."""
        events: list[Event] = []
        book = self.book
        for order_id in sorted(self.waiting, key=lambda o: (book.order(o).created_ms, o)):
            events += self._auto(order_id, env)
        return events

    # -- the couriers' work ------------------------------------------------------------------

    def _start(
        self, tx: r.StartTask, sender: bytes, ctx: FoldContext, env: Env, _: object
    ) -> list[Event]:
        return self.book.start(tx.task, sender, env.now_ms)

    def _complete(
        self, tx: r.CompleteTask, sender: bytes, ctx: FoldContext, env: Env, _: object
    ) -> list[Event]:
        rates = self.rates(env)  # the last completion pays: refuse before the book changes
        events = self.book.complete(
            tx.task, sender, done_ms=tx.done_ms, proof=tx.proof, now_ms=env.now_ms,
            tolerance_ms=env.policy.done_tolerance_ms,
        )  # fmt: skip
        for event in events:
            if event[0] == "fulfilled":
                self._fulfilled(event[1], ctx, env, rates)
        return events

    def _fulfilled(self, order_id: bytes, ctx: FoldContext, env: Env, rates: DeliveryRates) -> None:
        order = self.book.order(order_id)
        done = self._task_pay(order)
        collector = _collector(order, done)
        self._settle(
            order_id, lambda: self.pay.fulfil(order_id, done, rates, ctx, collector=collector)
        )
        couriers = {t.courier for t in self.book.tasks_of(order_id) if t.state == DONE}
        parties = sorted({order.customer, order.store} | couriers)
        self.ratings.open(order_id, parties, env.now_ms)

    def _fail(
        self, tx: r.FailTask, sender: bytes, ctx: FoldContext, env: Env, _: object
    ) -> list[Event]:
        return self.book.fail(tx.task, sender, tx.reason, env.now_ms)

    def _track(
        self, tx: r.Track, sender: bytes, ctx: FoldContext, env: Env, _: object
    ) -> list[Event]:
        task = self.book.task(tx.task)
        if task.courier != sender:
            raise _reject("not_your_task", "only the task's courier shares a position")
        if task.state != DOING:
            raise _reject("task_not_active", f"the task is {task.state}: positions stop")
        last = self.tracks.get(tx.task)
        if last is not None and env.now_ms - last[0] < env.policy.track_every_ms:
            raise _reject("too_often", f"one position every {env.policy.track_every_ms} ms")
        allowed = self.may_see_courier(task.id, env.policy) | {sender}
        _recipients_within(tx.sealed, allowed)
        self.tracks[tx.task] = (env.now_ms, tx.sealed)
        return []

    def may_see_courier(self, task_id: bytes, policy: Policy) -> set[bytes]:
        """Who may see the courier's position for an active task: the customer always; the
        store from the pickup done (or from the assignment, if the members voted so)."""
        task = self.book.task(task_id)
        order = self.book.order(task.order)
        pickup = self.book.task(order.tasks[0])
        seen = {order.customer}
        if policy.store_sees_courier == FROM_ASSIGNMENT or pickup.state == DONE:
            seen.add(order.store)
        return seen

    def _address(
        self, tx: r.Address, sender: bytes, ctx: FoldContext, env: Env, _: object
    ) -> list[Event]:
        task = self.book.task(tx.task)
        order = self.book.order(task.order)
        if sender not in env.dispatchers | {order.store, order.customer}:
            raise _reject("not_your_order", "the dispatcher or the order's parties reseal")
        if task.courier != tx.courier or not task.is_open:
            raise _reject("not_the_courier", "reseal an open task's address to its courier")
        _recipients_within(tx.sealed, {order.customer, order.store, tx.courier})
        self.addresses[tx.task] = (tx.courier, tx.sealed)
        self.to_reseal.discard(tx.task)
        return []

    def _rate(
        self, tx: r.Rate, sender: bytes, ctx: FoldContext, env: Env, _: object
    ) -> list[Event]:
        self.ratings.rate(tx.order, sender, tx.score, env.now_ms)
        return []

    def _settle_debt(
        self, tx: r.SettleDebt, sender: bytes, ctx: FoldContext, env: Env, _: object
    ) -> list[Event]:
        self.pay.settle_debt(sender, tx.cents, ctx)
        return []

    # -- what follows ------------------------------------------------------------------------

    def _settle(self, order_id: bytes, move: Callable[[], Paid]) -> None:
        """Move an order's money; if the funds refuse, the order stands and the money waits."""
        money = self.pay.money(order_id)
        if money is None:
            return
        try:
            paid = move()
        except AppTxRejected as exc:
            self.money_stuck[order_id] = f"{exc.reason}: {exc.detail}"
            return
        self.money_stuck.pop(order_id, None)
        if paid.store:
            key = (money.store, "store")
            self.earned[key] = self.earned.get(key, 0) + paid.store
        for courier, cents in paid.couriers:
            key = (courier, "courier")
            self.earned[key] = self.earned.get(key, 0) + cents

    def _follow(self, events: list[Event]) -> None:
        """Positions stop for every task that left its courier; a task given to a courier
        waits for its address to be resealed to them (:attr:`to_reseal`)."""
        for event in events:
            if event[0] == "assigned":
                self.to_reseal.add(event[1])
            elif event[0] in ("task_ended", "task_done", "task_failed", "task_cancelled"):
                self.tracks.pop(event[1], None)
                self.to_reseal.discard(event[1])

    def _task_pay(self, order: Order) -> list[TaskPay]:
        return [
            TaskPay(t.id, t.spec.kind, t.courier if t.state == DONE else b"")
            for t in self.book.tasks_of(order.id)
        ]

    def _tell(self) -> list[tuple[bytes, str, str]]:
        told = []
        for order_id in sorted(self.telling):
            tell = self.telling[order_id]
            order = self.book.order(order_id)
            if not tell.told:
                told.append((tell.request, PRICED, f"{order.price_cents} {order.rules_version}"))
            if order.state != tell.told:
                tell.told, tell.steps = order.state, tell.steps + 1
                told.append((tell.request, f"{STEP}{tell.steps}", order.state))
            if order.state in FINAL and not self._restorable(order):
                del self.telling[order_id]
        return told

    def _restorable(self, order: Order) -> bool:
        """A cancelled order a dispatcher may still restore (:meth:`_restore`): its customer
        will be told of it again."""
        money = self.pay.money(order.id)
        moved = money is not None and money.moved
        return order.state == ORDER_CANCELLED and order.was_accepted and not moved

    def to_value(self) -> Value:
        return {
            "book": self.book.to_value(),
            "pay": self.pay.to_value(),
            "rules": self.rules.to_value(),
            "customers": self.customers.to_value(),
            "ratings": self.ratings.to_value(),
            "stops": tuple((t, s) for t, s in sorted(self.stops.items())),
            "addresses": tuple((t, c, s) for t, (c, s) in sorted(self.addresses.items())),
            "tracks": tuple((t, at, s) for t, (at, s) in sorted(self.tracks.items())),
            "money_stuck": tuple(sorted(self.money_stuck.items())),
            "earned": tuple((m, role, n) for (m, role), n in sorted(self.earned.items())),
            "waiting": tuple(sorted(self.waiting)),
        }


@lru_cache(maxsize=64)
def _commission(text: str) -> Fraction:
    """The cooperative's commission rate (percent above 1), read once per text: every
    transaction asks, and it changes only by vote."""
    try:
        rate = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise _reject("bad_rate", f"commission {text!r}") from None
    return rate / 100 if rate > 1 else rate


def _collector(order: Order, tasks: list[TaskPay]) -> bytes:
    """Who takes cash at the door: the courier of the last dropoff (the payment's default), but
    never the customer who carried their own order (one does not pay oneself): then the last
    other courier of it, else the store."""
    others = [t for t in tasks if t.courier and t.courier != order.customer]
    dropoffs = [t.courier for t in others if t.kind == DROPOFF]
    return (dropoffs or [t.courier for t in others] or [order.store])[-1]


def _recipients_within(sealed: Sealed, allowed: set[bytes]) -> None:
    recipients = {k.recipient for k in sealed.keys}
    extra = recipients - allowed
    if extra:
        raise _reject("sealed_to_others", f"{len(extra)} recipient(s) may not see it")


def _event_value(event: Event) -> Value:
    return tuple(e.hex() if isinstance(e, bytes) else e for e in event)


_Handler = Callable[
    ["DeliveryFold", DeliveryTx, bytes, FoldContext, Env, "bytes | None"], list[Event]
]
_HANDLERS: Final[Mapping[type, _Handler]] = {
    r.CourierOnline: DeliveryFold._online,  # type: ignore[dict-item]
    r.CourierOffline: DeliveryFold._offline,  # type: ignore[dict-item]
    r.PlaceOrder: DeliveryFold._place,  # type: ignore[dict-item]
    r.StoreAnswer: DeliveryFold._answer,  # type: ignore[dict-item]
    r.CancelOrder: DeliveryFold._cancel,  # type: ignore[dict-item]
    r.RestoreOrder: DeliveryFold._restore,  # type: ignore[dict-item]
    r.Assign: DeliveryFold._assign,  # type: ignore[dict-item]
    r.MoveTour: DeliveryFold._move_tour,  # type: ignore[dict-item]
    r.Reorder: DeliveryFold._reorder,  # type: ignore[dict-item]
    r.AnswerTask: DeliveryFold._answer_task,  # type: ignore[dict-item]
    r.StartTask: DeliveryFold._start,  # type: ignore[dict-item]
    r.CompleteTask: DeliveryFold._complete,  # type: ignore[dict-item]
    r.FailTask: DeliveryFold._fail,  # type: ignore[dict-item]
    r.Track: DeliveryFold._track,  # type: ignore[dict-item]
    r.Address: DeliveryFold._address,  # type: ignore[dict-item]
    r.Rate: DeliveryFold._rate,  # type: ignore[dict-item]
    r.SettleDebt: DeliveryFold._settle_debt,  # type: ignore[dict-item]
    r.Repay: DeliveryFold._repay,  # type: ignore[dict-item]
}

__all__ = ["APP", "CUSTOMER_STEPS", "DISPATCHER", "TX_TYPES", "DeliveryFold", "DeliveryTx"]

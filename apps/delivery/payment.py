"""How a delivery is paid: the customer's money held at checkout, shared out on fulfilment.

One order pays a store and one or more couriers, and who the couriers are is known only when
the tasks are done, so the money is a *shared* job of the kit's :class:`EscrowBook`
(``hold_open`` at checkout, ``settle`` on fulfilment; ``docs/work-kit.md``):

* **checkout** (the customer's transaction): the customer pays ``goods + price`` (the goods'
  cents and the delivery's price).  A member paying in coins (the voted method ``escrow``)
  has it held in the app's escrow; otherwise it is cash, paid at the door.  A customer who is
  not a member holds no coins: always cash, whatever the vote.
* **fulfilment**: the store gets ``goods`` less the cooperative's ``commission`` rate on them;
  the couriers get the voted ``courier_share`` of the price (the *pool*), split across the
  done tasks by the voted :class:`PayRule`; the treasury gets the rest (the commission on the
  goods and the price less the pool).  In cash, the collector (by default the courier of the
  last dropoff) owes the treasury's part to the cooperative as a debt.
* **cancellation** before the store started preparing, or **refusal**: everything back.
  After: the store gets the voted ``cancel_fee_cents`` (at most the goods), the couriers of
  the tasks already done their share of the pool (as at fulfilment, over all the order's
  tasks), the treasury nothing, the customer the rest.
* **restore** of a cancelled order: refused (``money_moved``) when its cancellation paid anyone
  (a settled job never changes, and paying a restored order again would pay them twice);
  otherwise the order is due again: in cash, at the door; in coins, by a new hold the customer
  makes in their own transaction (:meth:`DeliveryPayments.repay`; only the customer can
  consent to move their coins).  Until then it is ``unpaid`` and fulfilment is refused.

Every amount is integer cents, every rate a ``Fraction``; rounding is the kit's (half up, the
rest to the other side), so the parts always add up to what was paid.  A refusal is an
:class:`AppTxRejected` and changes nothing.  Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass, field
from fractions import Fraction
from math import gcd
from typing import Final, NamedTuple, Protocol

from peoplenet.plugins.api import AppTxRejected, Value
from peoplenet.plugins.kit import (
    COMMUNITY_COINS,
    EscrowBook,
    Funds,
    escrow_account,
    parse_rate,
    round_half_up,
    treasury_account,
)

ESCROW: Final = "escrow"
CASH: Final = "cash"
METHODS: Final = (CASH, ESCROW)
PICKUP: Final = "pickup"
DROPOFF: Final = "dropoff"
KINDS: Final = (PICKUP, DROPOFF)

HELD: Final = "held"
"""Paid in coins, held in escrow."""
DUE: Final = "due"
"""Paid in cash, at the door: nothing recorded until fulfilment or cancellation."""
UNPAID: Final = "unpaid"
"""A restored order paid in coins, waiting for the customer's new hold."""
PAID: Final = "paid"
CANCELLED: Final = "cancelled"
REFUSED: Final = "refused"
OPEN: Final = (HELD, DUE, UNPAID)

ORDER_LEN: Final = 16
ACCOUNT_LEN: Final = 32
MAX_TASK_ID: Final = 32
MAX_CENTS: Final = 10**15
MAX_ROUNDS: Final = 256
"""An order is paid at most this many times (first checkout and restores): the round is the
last byte of its escrow job's id."""
MAX_WEIGHT: Final = 100


class Step(Protocol):
    """What a payment needs of the transaction (``FoldContext`` is one): the community, its
    time and members, and the funds."""

    @property
    def community(self) -> bytes: ...

    @property
    def now_ms(self) -> int: ...

    @property
    def members(self) -> Set[bytes]: ...

    @property
    def funds(self) -> Funds | None: ...


class TaskPay(NamedTuple):
    """A task as its pay sees it: its id, ``pickup`` or ``dropoff``, and the courier who did
    it (``b""``: not done, so not paid)."""

    task: bytes
    kind: str
    courier: bytes = b""


@dataclass(frozen=True, slots=True)
class PayRule:
    """How the couriers' pool is split across tasks: each task weighs ``pickup`` or
    ``dropoff`` (1..100); ``equal`` is 1:1.

    A task's share is ``pool * weight / total weight``, rounded down; the cents left go one
    each to the tasks with the largest remainders, ties to the smaller task id, so the split is
    the same whatever order the tasks come in and adds up to the pool exactly."""

    pickup: int = 1
    dropoff: int = 1

    @classmethod
    def parse(cls, text: str | PayRule) -> PayRule:
        """``"equal"`` or ``"P:D"`` (weights of a pickup and a dropoff); ``bad_pay_rule``."""
        if isinstance(text, PayRule):
            return cls._checked(text.pickup, text.dropoff)
        if text == "equal":
            return cls()
        p, sep, d = text.partition(":") if type(text) is str else ("", "", "")
        if not sep or not (p.isdigit() and d.isdigit()) or not (p.isascii() and d.isascii()):
            raise AppTxRejected("bad_pay_rule", f'{text!r} is not "equal" or "P:D" weights')
        return cls._checked(int(p), int(d))

    @classmethod
    def _checked(cls, pickup: int, dropoff: int) -> PayRule:
        for weight in (pickup, dropoff):
            if type(weight) is not int or not 1 <= weight <= MAX_WEIGHT:
                raise AppTxRejected("bad_pay_rule", f"a weight is 1..{MAX_WEIGHT}, not {weight!r}")
        return cls(pickup, dropoff)

    def text(self) -> str:
        """The canonical text: ``"equal"`` for equal weights, else ``"P:D"`` in lowest terms."""
        common = gcd(self.pickup, self.dropoff)
        p, d = self.pickup // common, self.dropoff // common
        return "equal" if p == d else f"{p}:{d}"

    def split(self, pool: int, tasks: Sequence[TaskPay]) -> dict[bytes, int]:
        """Task id -> its cents of ``pool`` (every task, done or not; they add up to ``pool``)."""
        if not tasks:
            return {}
        weights = {t.task: self.pickup if t.kind == PICKUP else self.dropoff for t in tasks}
        total = sum(weights.values())
        shares = {task: pool * w // total for task, w in weights.items()}
        left = pool - sum(shares.values())
        by_remainder = sorted(weights, key=lambda task: (-(pool * weights[task] % total), task))
        for task in by_remainder[:left]:
            shares[task] += 1
        return shares


@dataclass(frozen=True, slots=True)
class DeliveryRates:
    """The voted numbers a payment uses (the shell reads them from the cooperative's rates and
    the app's settings and passes them in)."""

    commission: Fraction = Fraction(0)
    """The cooperative's share of the goods (and its share of a cash fare's debt)."""
    courier_share: Fraction = Fraction(4, 5)
    """The couriers' share of the delivery price (the pool)."""
    cancel_fee_cents: int = 0
    """What the store keeps of a cancellation after it started preparing (at most the goods)."""
    pay_rule: PayRule = field(default_factory=PayRule)

    @classmethod
    def of(
        cls,
        commission: str | Fraction,
        courier_share: str | Fraction,
        cancel_fee_cents: int,
        pay_rule: str | PayRule = "equal",
    ) -> DeliveryRates:
        """Checked rates: ``commission`` as the charter gives it (above 1 it counts in percent:
        ``"10"`` is 10 %), ``courier_share`` a share 0..1 (``"4/5"``).  Refusals:
        ``bad_rate``, ``bad_courier_share``, ``bad_cancel_fee``, ``bad_pay_rule``."""
        rate = parse_rate(commission)
        rate = rate / 100 if rate > 1 else rate
        if not 0 <= rate <= 1:
            raise AppTxRejected("bad_rate", f"commission {rate} is outside 0..1 (or 0..100 %)")
        try:
            share = parse_rate(courier_share)
        except AppTxRejected as exc:
            raise AppTxRejected("bad_courier_share", exc.detail) from None
        if not 0 <= share <= 1:
            raise AppTxRejected("bad_courier_share", f"courier share {share} is outside 0..1")
        if type(cancel_fee_cents) is not int or not 0 <= cancel_fee_cents <= MAX_CENTS:
            raise AppTxRejected("bad_cancel_fee", f"cents >= 0, not {cancel_fee_cents!r}")
        return cls(rate, share, cancel_fee_cents, PayRule.parse(pay_rule))


@dataclass(frozen=True, slots=True)
class Paid:
    """What a step paid: the store, each courier, the treasury, the customer's money back.

    In cash, nothing moved: the same parts are what the customer paid the ``collector``, and
    ``commission`` is the collector's new debt to the cooperative."""

    method: str
    store: int = 0
    couriers: tuple[tuple[bytes, int], ...] = ()
    commission: int = 0
    refunded: int = 0
    collector: bytes = b""

    @property
    def total(self) -> int:
        return self.store + sum(n for _, n in self.couriers) + self.commission + self.refunded


@dataclass(slots=True)
class OrderMoney:
    """One order's money: who pays whom, how, and where it stands."""

    customer: bytes
    store: bytes
    goods: int
    price: int
    method: str
    state: str
    round: int = 0
    """How many times the order was restored: the last byte of its escrow job's id."""
    moved: bool = False
    """Its cancellation paid someone (a fee, a courier): it cannot be restored."""

    @property
    def amount(self) -> int:
        return self.goods + self.price

    def to_value(self) -> Value:
        return {
            "customer": self.customer,
            "store": self.store,
            "goods": self.goods,
            "price": self.price,
            "method": self.method,
            "state": self.state,
            "round": self.round,
            "moved": self.moved,
        }


@dataclass(frozen=True, slots=True)
class _Parts:
    """An order's money split (before the payer's own parts are folded into its refund)."""

    store: int
    couriers: dict[bytes, int]
    commission: int


def job_id(order: bytes, round_: int) -> bytes:
    """The escrow job of an order's ``round``-th payment: the order id and one byte."""
    return order + bytes([round_])


@dataclass(slots=True)
class DeliveryPayments:
    """The deliveries' money: one order's money per order id, over the kit's escrow book."""

    app: str
    book: EscrowBook = field(init=False)
    orders: dict[bytes, OrderMoney] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.book = EscrowBook(self.app)

    # -- queries ------------------------------------------------------------------------------

    def money(self, order: bytes) -> OrderMoney | None:
        return self.orders.get(order)

    def is_paid(self, order: bytes) -> bool:
        """The order's money is there: held in escrow or due in cash at the door."""
        record = self.orders.get(order)
        return record is not None and record.state in {HELD, DUE}

    def debt(self, member: bytes) -> int:
        """What ``member`` owes the cooperative on cash it collected (cooperative coins)."""
        return self.book.debts(member, COMMUNITY_COINS)

    # -- checkout -----------------------------------------------------------------------------

    def check_checkout(  # noqa: PLR0917 - the order's parties and its money
        self,
        order: bytes,
        customer: bytes,
        store: bytes,
        goods: int,
        price: int,
        method: str,
        step: Step,
    ) -> str:
        """The method the checkout would use, or its refusal (changing nothing)."""
        used = self._checkout_method(order, customer, store, goods, price, method, step)
        if used == ESCROW:
            self._can_hold(customer, goods + price, step)
        return used

    def checkout(  # noqa: PLR0917 - the order's parties and its money
        self,
        order: bytes,
        customer: bytes,
        store: bytes,
        goods: int,
        price: int,
        method: str,
        step: Step,
    ) -> str:
        """The customer pays ``goods + price``: held from their coins (``escrow``, a member's
        own transaction) or due in cash; the method used.  Refusals: ``bad_order``,
        ``already_checked_out``, ``bad_account``, ``self_payment``, ``bad_amount``,
        ``bad_method``, and the funds' (``insufficient_funds``, ``not_your_funds``...)."""
        used = self._checkout_method(order, customer, store, goods, price, method, step)
        if used == ESCROW:
            job = job_id(order, 0)
            self.book.hold_open(
                job, customer, COMMUNITY_COINS, goods + price, funds=step.funds, ctx=step
            )
        state = HELD if used == ESCROW else DUE
        self.orders[order] = OrderMoney(customer, store, goods, price, used, state)
        return used

    # -- fulfilment ---------------------------------------------------------------------------

    def check_fulfil(
        self,
        order: bytes,
        tasks: Sequence[TaskPay],
        rates: DeliveryRates,
        step: Step,
        *,
        collector: bytes = b"",
    ) -> Paid:
        """What :meth:`fulfil` would pay, or its refusal (changing nothing)."""
        paid = self._fulfilment(order, tasks, rates, collector)
        self._can_pay_out(self.orders[order], paid, step)
        return paid

    def fulfil(
        self,
        order: bytes,
        tasks: Sequence[TaskPay],
        rates: DeliveryRates,
        step: Step,
        *,
        collector: bytes = b"",
    ) -> Paid:
        """The order is fulfilled: pay the store, the couriers of ``tasks`` (every task done,
        each with its courier) and the treasury, all at once.  In cash the customer paid
        ``collector`` (a courier of the order or the store; by default the courier of the last
        dropoff in ``tasks``), who now owes the treasury's part.  Refusals: ``no_such_order``,
        ``not_paid`` (a restored order not paid again), ``already_settled``, ``bad_tasks``,
        ``bad_collector``, and the funds' (``unknown_account``: a payee who left)."""
        paid = self._fulfilment(order, tasks, rates, collector)
        self._pay_out(order, paid, step)
        self.orders[order].state = PAID
        return paid

    # -- cancellation, refusal, restore ---------------------------------------------------------

    def check_cancel(
        self,
        order: bytes,
        preparing: bool,
        tasks: Sequence[TaskPay],
        rates: DeliveryRates,
        step: Step,
    ) -> Paid:
        """What :meth:`cancel` would pay, or its refusal (changing nothing)."""
        paid = self._cancellation(order, preparing, tasks, rates)
        self._can_pay_out(self.orders[order], paid, step)
        return paid

    def cancel(
        self,
        order: bytes,
        preparing: bool,
        tasks: Sequence[TaskPay],
        rates: DeliveryRates,
        step: Step,
    ) -> Paid:
        """The order is cancelled.  Not ``preparing`` yet: everything back.  Preparing: the
        store gets the cancellation fee (at most the goods), the couriers of the done tasks
        among ``tasks`` (the order's tasks, as they were) their share, the customer the rest.
        Refusals: ``no_such_order``, ``already_settled``, ``bad_tasks``, and the funds'."""
        paid = self._cancellation(order, preparing, tasks, rates)
        record = self.orders[order]
        self._pay_out(order, paid, step)
        record.state = CANCELLED
        record.moved = paid.store + sum(n for _, n in paid.couriers) > 0
        return paid

    def check_refuse(self, order: bytes, step: Step) -> Paid:
        paid = self._refund_all(order)
        self._can_pay_out(self.orders[order], paid, step)
        return paid

    def refuse(self, order: bytes, step: Step) -> Paid:
        """The store refused the order: everything back.  Refusals as :meth:`cancel`."""
        paid = self._refund_all(order)
        self._pay_out(order, paid, step)
        self.orders[order].state = REFUSED
        return paid

    def restore(self, order: bytes) -> str:
        """A cancelled order is restored: due again (cash) or ``unpaid`` until the customer's
        :meth:`repay` (coins); the new state.  Refusals: ``no_such_order``,
        ``not_cancelled``, ``money_moved`` (the cancellation paid someone),
        ``too_many_restores``."""
        record = self._order(order)
        if record.state != CANCELLED:
            raise AppTxRejected("not_cancelled", f"the order's money is {record.state}")
        if record.moved:
            raise AppTxRejected(
                "money_moved", "its cancellation paid the store or couriers: order it again"
            )
        if record.round + 1 >= MAX_ROUNDS:
            raise AppTxRejected("too_many_restores", f"restored {record.round} times already")
        record.round += 1
        record.state = UNPAID if record.method == ESCROW else DUE
        return record.state

    def check_repay(self, order: bytes, step: Step) -> None:
        record = self._unpaid(order)
        self._can_hold(record.customer, record.amount, step)

    def repay(self, order: bytes, step: Step) -> None:
        """The customer pays a restored order again: a new hold of the same amount, in their
        own transaction.  Refusals: ``no_such_order``, ``not_unpaid``, and the funds'."""
        record = self._unpaid(order)
        job = job_id(order, record.round)
        self.book.hold_open(
            job, record.customer, COMMUNITY_COINS, record.amount, funds=step.funds, ctx=step
        )
        record.state = HELD

    # -- debts --------------------------------------------------------------------------------

    def check_settle(self, member: bytes, amount: int, step: Step) -> None:
        """Refuse (changing nothing) a debt payment the book or the coins would refuse."""
        owed = self.debt(member)
        if type(amount) is not int or not 0 < amount <= MAX_CENTS:
            raise AppTxRejected("bad_amount", f"amount is 1..{MAX_CENTS}, not {amount!r}")
        if owed == 0:
            raise AppTxRejected("no_debt", "you owe nothing on cash you collected")
        if amount > owed:
            raise AppTxRejected("over_settle", f"you owe {owed}, not {amount}")
        why = _funds(step).can_move(
            member, treasury_account(step.community), COMMUNITY_COINS, amount
        )
        if why:
            raise AppTxRejected(why, f"paying {amount} of your coins to the treasury")

    def settle_debt(self, member: bytes, amount: int, step: Step) -> int:
        """``member`` pays ``amount`` of its debt to the treasury, in its own transaction; what
        it still owes.  Refusals: ``bad_amount``, ``no_debt``, ``over_settle``, the funds'."""
        return self.book.settle_debt(
            member, amount, funds=step.funds, ctx=step, currency=COMMUNITY_COINS
        )

    # -- snapshot -------------------------------------------------------------------------------

    def to_value(self) -> Value:
        return {
            "book": self.book.to_value(),
            "orders": tuple((o, m.to_value()) for o, m in sorted(self.orders.items())),
        }

    # -- inside ---------------------------------------------------------------------------------

    def _checkout_method(  # noqa: PLR0917
        self,
        order: bytes,
        customer: bytes,
        store: bytes,
        goods: int,
        price: int,
        method: str,
        step: Step,
    ) -> str:
        if type(order) is not bytes or len(order) != ORDER_LEN:
            raise AppTxRejected("bad_order", f"an order id is {ORDER_LEN} bytes")
        if order in self.orders:
            raise AppTxRejected("already_checked_out", f"order {order.hex()} is paid for")
        for who, account in (("customer", customer), ("store", store)):
            if type(account) is not bytes or len(account) != ACCOUNT_LEN:
                raise AppTxRejected("bad_account", f"the {who} is a {ACCOUNT_LEN}-byte id")
        if customer == store:
            raise AppTxRejected("self_payment", "the customer is the store")
        for name, cents in (("goods", goods), ("price", price)):
            if type(cents) is not int or not 0 <= cents <= MAX_CENTS:
                raise AppTxRejected("bad_amount", f"{name} is 0..{MAX_CENTS} cents, not {cents!r}")
        if not 0 < goods + price <= MAX_CENTS:
            raise AppTxRejected("bad_amount", f"an order costs 1..{MAX_CENTS} cents")
        if method not in METHODS:
            raise AppTxRejected("bad_method", f"the method is one of {METHODS}, not {method!r}")
        return ESCROW if method == ESCROW and customer in step.members else CASH

    def _can_hold(self, customer: bytes, amount: int, step: Step) -> None:
        escrow = escrow_account(step.community, self.app)
        why = _funds(step).can_move(customer, escrow, COMMUNITY_COINS, amount)
        if why:
            raise AppTxRejected(why, f"holding {amount} of the customer's coins")

    def _order(self, order: bytes) -> OrderMoney:
        record = self.orders.get(order) if type(order) is bytes else None
        if record is None:
            raise AppTxRejected("no_such_order", "no money of this order")
        return record

    def _open(self, order: bytes) -> OrderMoney:
        record = self._order(order)
        if record.state not in OPEN:
            raise AppTxRejected("already_settled", f"the order's money was {record.state}")
        return record

    def _unpaid(self, order: bytes) -> OrderMoney:
        record = self._order(order)
        if record.state != UNPAID:
            raise AppTxRejected("not_unpaid", f"the order's money is {record.state}")
        return record

    def _fulfilment(
        self, order: bytes, tasks: Sequence[TaskPay], rates: DeliveryRates, collector: bytes
    ) -> Paid:
        record = self._open(order)
        if record.state == UNPAID:
            raise AppTxRejected("not_paid", "the restored order was not paid again")
        done = _tasks(tasks, done=True)
        if not done:
            raise AppTxRejected("bad_tasks", "a fulfilled order has done tasks")
        commission = round_half_up(record.goods * rates.commission)
        pool = round_half_up(record.price * rates.courier_share)
        parts = _Parts(
            record.goods - commission,
            _by_courier(done, rates.pay_rule.split(pool, done)),
            commission + record.price - pool,
        )
        paid = _paid(record, parts)
        if record.method == ESCROW:
            return paid
        couriers = {t.courier for t in done}
        if not collector:
            dropoffs = [t.courier for t in done if t.kind == DROPOFF]
            collector = dropoffs[-1] if dropoffs else done[-1].courier
        if collector not in couriers | {record.store} or collector == record.customer:
            raise AppTxRejected("bad_collector", "the store or one of its couriers collects")
        return Paid(CASH, paid.store, paid.couriers, paid.commission, 0, collector)

    def _cancellation(
        self,
        order: bytes,
        preparing: bool,
        tasks: Sequence[TaskPay],
        rates: DeliveryRates,
    ) -> Paid:
        record = self._open(order)
        every = _tasks(tasks, done=False)
        if not preparing or record.state == UNPAID:
            return self._refund_all(order)
        pool = round_half_up(record.price * rates.courier_share)
        shares = rates.pay_rule.split(pool, every)
        done = [t for t in every if t.courier]
        parts = _Parts(
            min(rates.cancel_fee_cents, record.goods), _by_courier(done, shares), commission=0
        )
        paid = _paid(record, parts)
        if record.method == ESCROW:
            return paid
        return Paid(CASH, paid.store, paid.couriers, 0, 0, record.store)

    def _refund_all(self, order: bytes) -> Paid:
        record = self._open(order)
        if record.state == HELD:
            return Paid(ESCROW, refunded=record.amount)
        return Paid(record.method)

    def _pay_out(self, order: bytes, paid: Paid, step: Step) -> None:
        """Take ``paid`` in the book (the only step that moves or records; all or nothing)."""
        record = self.orders[order]
        job = job_id(order, record.round)
        payouts = _payouts(record, paid)
        if record.state == HELD:
            if paid.refunded == record.amount:
                self.book.refund(job, funds=step.funds, ctx=step)
            else:
                self.book.settle(job, payouts, paid.commission, funds=step.funds, ctx=step)
        elif record.state == DUE and paid.total:
            self.book.cash_shared(
                job, record.customer, paid.collector, payouts, paid.commission, ctx=step
            )

    def _can_pay_out(self, record: OrderMoney, paid: Paid, step: Step) -> None:
        if record.state != HELD:
            return
        escrow = escrow_account(step.community, self.app)
        funds = _funds(step)
        for payee, cents in _payouts(record, paid):
            why = funds.can_move(escrow, payee, COMMUNITY_COINS, cents) if cents else ""
            if why:
                raise AppTxRejected(why, f"paying {cents} to {payee.hex()[:16]}")


def _tasks(tasks: Iterable[object], *, done: bool) -> list[TaskPay]:
    """``tasks`` checked (``bad_tasks``): distinct ids, known kinds, couriers 32-byte ids (or
    ``b""``, not done, unless ``done``)."""
    checked: list[TaskPay] = []
    seen: set[bytes] = set()
    for item in tasks:
        if not isinstance(item, tuple) or len(item) != len(TaskPay._fields):
            raise AppTxRejected("bad_tasks", f"{item!r} is not (task, kind, courier)")
        task, kind, courier = item
        if type(task) is not bytes or not 0 < len(task) <= MAX_TASK_ID or task in seen:
            raise AppTxRejected("bad_tasks", f"task ids are distinct, 1..{MAX_TASK_ID} bytes")
        if kind not in KINDS:
            raise AppTxRejected("bad_tasks", f"a task is one of {KINDS}, not {kind!r}")
        if type(courier) is not bytes or len(courier) not in {0, ACCOUNT_LEN}:
            raise AppTxRejected("bad_tasks", f"a courier is a {ACCOUNT_LEN}-byte id")
        if done and not courier:
            raise AppTxRejected("bad_tasks", f"task {task.hex()} names no courier")
        seen.add(task)
        checked.append(TaskPay(task, kind, courier))
    return checked


def _by_courier(done: Sequence[TaskPay], shares: dict[bytes, int]) -> dict[bytes, int]:
    paid: dict[bytes, int] = {}
    for t in done:
        paid[t.courier] = paid.get(t.courier, 0) + shares[t.task]
    return paid


def _paid(record: OrderMoney, parts: _Parts) -> Paid:
    """The parts as paid.  A customer who also carried a task of the order is not paid for it
    (one cannot pay oneself): in coins that share comes back with the refund, in cash it is
    simply not owed.  A store that carried a task is listed among the couriers too."""
    couriers = {c: n for c, n in parts.couriers.items() if n and c != record.customer}
    refunded = 0
    if record.method == ESCROW:
        refunded = record.amount - parts.store - sum(couriers.values()) - parts.commission
    return Paid(
        record.method, parts.store, tuple(sorted(couriers.items())), parts.commission, refunded
    )


def _payouts(record: OrderMoney, paid: Paid) -> list[tuple[bytes, int]]:
    """One (payee, cents) per party for the book (the store's goods and courier pay merged)."""
    merged: dict[bytes, int] = {record.store: paid.store}
    for courier, cents in paid.couriers:
        merged[courier] = merged.get(courier, 0) + cents
    return [(p, n) for p, n in sorted(merged.items()) if n]


def _funds(step: Step) -> Funds:
    if step.funds is None:
        raise AppTxRejected("no_funds_provider", "no app provides the cooperative's coins")
    return step.funds


__all__ = [
    "CANCELLED",
    "CASH",
    "DROPOFF",
    "DUE",
    "ESCROW",
    "HELD",
    "METHODS",
    "PAID",
    "PICKUP",
    "REFUSED",
    "UNPAID",
    "DeliveryPayments",
    "DeliveryRates",
    "OrderMoney",
    "Paid",
    "PayRule",
    "Step",
    "TaskPay",
    "job_id",
]

"""A delivery's money over the real currency ledger: checkout, fulfilment, cancellation, cash.

:class:`Shop` plays the host: each ``tx`` is one ordered transaction of the delivery app whose
``ctx.funds`` is the real funds handle on the currency app's real ledger (moves taken when the
transaction returns, none if it raises).  Every refusal is checked to change nothing: the
payments' snapshot and the ledger's are compared before and after.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, multiple, rule

from peoplenet.apps.currency.funds import serve_funds
from peoplenet.apps.delivery.payment import (
    CANCELLED,
    CASH,
    DUE,
    ESCROW,
    HELD,
    PAID,
    REFUSED,
    UNPAID,
    DeliveryPayments,
    DeliveryRates,
    Paid,
    PayRule,
    TaskPay,
    job_id,
)
from peoplenet.plugins.api import AppTxRejected, FoldContext, Value
from peoplenet.plugins.funds import FundsHandle
from peoplenet.plugins.kit import SETTLED, escrow_account, treasury_account
from tests.actors.work.coop_money import COMMUNITY, MEMBERS, OUTSIDER, Coop

APP = "delivery"
ESCROW_ACCOUNT = escrow_account(COMMUNITY, APP)
TREASURY = treasury_account(COMMUNITY)
CUSTOMER, STORE, C1, C2 = MEMBERS
ORDER = bytes(range(16))
RATES = DeliveryRates.of("1/10", "4/5", 300, "equal")
PICK, DROP = b"\x01" * 16 + b"\x00", b"\x01" * 16 + b"\x01"

Step = Callable[[FundsHandle, FoldContext], Any]


class Shop(Coop):
    """The cooperative's coins and the delivery app's payments."""

    def __init__(self, coins: int = 10_000) -> None:
        super().__init__(coins)
        self.pay = DeliveryPayments(APP)

    def handle(self, sender: bytes) -> FundsHandle:
        return FundsHandle(
            self._serve, app=APP, community=COMMUNITY, sender=sender, members=frozenset(MEMBERS)
        )

    def _serve(self, op: str, args: Any) -> Value:
        return serve_funds(self.ledger, op, args, self.now_ms)

    def snapshot(self) -> tuple[Value, Value]:
        return self.pay.to_value(), self.ledger.snapshot()


def tasks(*done: tuple[bytes, str, bytes]) -> list[TaskPay]:
    return [TaskPay(*t) for t in done]


TWO = tasks((PICK, "pickup", C1), (DROP, "dropoff", C2))


def checkout(
    shop: Shop,
    goods: int = 2000,
    price: int = 500,
    method: str = ESCROW,
    customer: bytes = CUSTOMER,
    order: bytes = ORDER,
) -> str:
    sender = customer if customer in MEMBERS else STORE
    return shop.tx(
        sender,
        lambda f, ctx: shop.pay.checkout(order, customer, STORE, goods, price, method, ctx),
    )


def refused(shop: Shop, sender: bytes, step: Step, reason: str) -> None:
    before = shop.snapshot()
    with pytest.raises(AppTxRejected) as caught:
        shop.tx(sender, step)
    assert caught.value.reason == reason, caught.value
    assert shop.snapshot() == before
    assert shop.pay.book.conserved()


# -- the worked example (docs/delivery.md, "A worked example") --------------------------------


def test_fulfilment_pays_the_store_the_couriers_and_the_treasury_at_once() -> None:
    shop = Shop()
    assert checkout(shop) == ESCROW
    assert shop.balance(CUSTOMER) == 7500
    assert shop.balance(ESCROW_ACCOUNT) == 2500
    assert shop.pay.is_paid(ORDER)
    paid = shop.tx(C2, lambda f, ctx: shop.pay.fulfil(ORDER, TWO, RATES, ctx))
    # goods 2000: commission 200, store 1800; price 500: pool 400 (4/5), 200 a task; treasury
    # 200 + 100
    assert paid == Paid(ESCROW, 1800, ((C1, 200), (C2, 200)), 300, 0)
    assert paid.total == 2500
    assert (shop.balance(STORE), shop.balance(C1), shop.balance(C2)) == (11800, 10200, 10200)
    assert (shop.balance(TREASURY), shop.balance(ESCROW_ACCOUNT)) == (300, 0)
    job = shop.pay.book.jobs[job_id(ORDER, 0)]
    assert (job.state, job.payouts) == (SETTLED, ((STORE, 1800), (C1, 200), (C2, 200)))
    assert shop.pay.money(ORDER).state == PAID  # type: ignore[union-attr]
    assert shop.pay.book.conserved()
    assert shop.ledger.total() == shop.ledger.minted


def test_a_weighted_pay_rule_pays_the_dropoff_more() -> None:
    shop = Shop()
    checkout(shop)
    rates = DeliveryRates.of("1/10", "4/5", 300, "1:3")
    paid = shop.tx(C2, lambda f, ctx: shop.pay.fulfil(ORDER, TWO, rates, ctx))
    assert paid.couriers == ((C1, 100), (C2, 300))


def test_one_courier_on_several_tasks_is_paid_once_for_all_of_them() -> None:
    shop = Shop()
    checkout(shop, price=700)
    three = tasks((PICK, "pickup", C1), (DROP, "dropoff", C1), (b"d2", "dropoff", C2))
    paid = shop.tx(C2, lambda f, ctx: shop.pay.fulfil(ORDER, three, RATES, ctx))
    # pool 560 over 3 tasks: 186 each and 2 cents left, to the two smaller ids (C1's tasks)
    assert paid.couriers == ((C1, 374), (C2, 186))
    assert paid.total == 2700


def test_the_percent_commission_of_a_charter_is_a_share() -> None:
    assert DeliveryRates.of("10", "4/5", 0).commission == Fraction(1, 10)
    assert DeliveryRates.of(Fraction(1, 10), Fraction(4, 5), 0).courier_share == Fraction(4, 5)


@pytest.mark.parametrize(
    ("pool", "weights", "kinds", "expected"),
    [
        (100, "equal", ("pickup", "dropoff", "dropoff"), (34, 33, 33)),
        (100, "1:2", ("pickup", "dropoff", "dropoff"), (20, 40, 40)),
        (101, "1:2", ("pickup", "dropoff", "dropoff"), (20, 41, 40)),
        (2, "equal", ("pickup", "dropoff", "dropoff"), (1, 1, 0)),
        (0, "3:1", ("pickup", "dropoff"), (0, 0)),
    ],
)
def test_the_pool_splits_exactly_whatever_the_order_of_the_tasks(
    pool: int, weights: str, kinds: tuple[str, ...], expected: tuple[int, ...]
) -> None:
    given = [TaskPay(bytes([i + 1]), kind, C1) for i, kind in enumerate(kinds)]
    rule = PayRule.parse(weights)
    shares = rule.split(pool, given)
    assert tuple(shares[t.task] for t in given) == expected
    assert rule.split(pool, list(reversed(given))) == shares
    assert sum(shares.values()) == pool


@pytest.mark.parametrize(
    ("text", "canonical"), [("equal", "equal"), ("2:2", "equal"), ("2:6", "1:3"), ("3:1", "3:1")]
)
def test_pay_rules_have_one_canonical_text(text: str, canonical: str) -> None:
    assert PayRule.parse(text).text() == canonical
    assert PayRule.parse(PayRule.parse(text).text()).text() == canonical


@pytest.mark.parametrize("text", ["", "1", "0:1", "1:0", "1:101", "a:b", "1:-1", "²:1", "1.5:1"])
def test_bad_pay_rules_are_refused(text: str) -> None:
    with pytest.raises(AppTxRejected, match="bad_pay_rule"):
        PayRule.parse(text)


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("x", "4/5", 0), "bad_rate"),
        (("-1/10", "4/5", 0), "bad_rate"),
        (("101", "4/5", 0), "bad_rate"),
        (("1/10", "5/4", 0), "bad_courier_share"),
        (("1/10", "0.8", 0), "bad_courier_share"),
        (("1/10", "4/5", -1), "bad_cancel_fee"),
        (("1/10", "4/5", True), "bad_cancel_fee"),
        (("1/10", "4/5", 0, "nope"), "bad_pay_rule"),
    ],
)
def test_bad_rates_are_refused(args: tuple[Any, ...], reason: str) -> None:
    with pytest.raises(AppTxRejected) as caught:
        DeliveryRates.of(*args)
    assert caught.value.reason == reason


# -- customers and cash ---------------------------------------------------------------------------


def test_a_customer_who_is_not_a_member_pays_cash_whatever_the_vote() -> None:
    shop = Shop()
    before = shop.ledger.snapshot()
    assert checkout(shop, customer=OUTSIDER, method=ESCROW) == CASH
    assert shop.pay.money(ORDER).state == DUE  # type: ignore[union-attr]
    paid = shop.tx(C2, lambda f, ctx: shop.pay.fulfil(ORDER, TWO, RATES, ctx))
    assert paid == Paid(CASH, 1800, ((C1, 200), (C2, 200)), 300, 0, collector=C2)
    assert shop.ledger.snapshot() == before  # paid at the door: no coin moved
    assert shop.pay.debt(C2) == 300  # the collector owes the treasury's part
    job = shop.pay.book.jobs[job_id(ORDER, 0)]
    assert (job.payee, job.amount, job.payouts) == (C2, 2500, ((STORE, 1800), (C1, 200), (C2, 200)))
    left = shop.tx(C2, lambda f, ctx: shop.pay.settle_debt(C2, 100, ctx))
    assert left == 200 == shop.pay.debt(C2)
    assert shop.balance(TREASURY) == 100
    assert shop.pay.book.conserved()


def test_a_member_may_pay_cash_when_the_cooperative_votes_cash() -> None:
    shop = Shop()
    assert checkout(shop, method=CASH) == CASH
    paid = shop.tx(STORE, lambda f, ctx: shop.pay.fulfil(ORDER, TWO, RATES, ctx, collector=STORE))
    assert (paid.collector, shop.pay.debt(STORE), shop.balance(CUSTOMER)) == (STORE, 300, 10_000)


def test_the_collector_is_the_store_or_a_courier_of_the_order() -> None:
    shop = Shop()
    checkout(shop, customer=OUTSIDER)
    refused(
        shop,
        C2,
        lambda f, ctx: shop.pay.fulfil(ORDER, TWO, RATES, ctx, collector=CUSTOMER),
        "bad_collector",
    )


def test_settling_a_debt_is_refused_beyond_what_is_owed() -> None:
    shop = Shop(coins=100)
    checkout(shop, customer=OUTSIDER)
    shop.tx(C2, lambda f, ctx: shop.pay.fulfil(ORDER, TWO, RATES, ctx))  # C2 owes 300
    for sender, member, amount, reason in (
        (C1, C1, 1, "no_debt"),
        (C2, C2, 301, "over_settle"),
        (C2, C2, 0, "bad_amount"),
        (C2, C2, 101, "insufficient_funds"),
        (C1, C2, 5, "not_your_funds"),
    ):
        refused(shop, sender, _settle(shop, member, amount), reason)
        with pytest.raises(AppTxRejected, match=reason):
            shop.tx(sender, _settle(shop, member, amount, check=True))


def _settle(shop: Shop, member: bytes, amount: int, *, check: bool = False) -> Step:
    if check:
        return lambda f, ctx: shop.pay.check_settle(member, amount, ctx)
    return lambda f, ctx: shop.pay.settle_debt(member, amount, ctx)


# -- cancellation, refusal, restore ---------------------------------------------------------------


def test_a_cancellation_before_preparing_refunds_everything() -> None:
    shop = Shop()
    checkout(shop)
    paid = shop.tx(STORE, lambda f, ctx: shop.pay.cancel(ORDER, False, TWO, RATES, ctx))
    assert paid == Paid(ESCROW, refunded=2500)
    assert (shop.balance(CUSTOMER), shop.balance(ESCROW_ACCOUNT)) == (10_000, 0)
    assert shop.pay.money(ORDER).state == CANCELLED  # type: ignore[union-attr]


def test_a_cancellation_while_preparing_pays_the_fee_and_the_done_tasks() -> None:
    shop = Shop()
    checkout(shop)
    half = tasks((PICK, "pickup", C1), (DROP, "dropoff", b""))  # the pickup was done
    paid = shop.tx(CUSTOMER, lambda f, ctx: shop.pay.cancel(ORDER, True, half, RATES, ctx))
    assert paid == Paid(ESCROW, 300, ((C1, 200),), 0, 2000)
    assert (shop.balance(STORE), shop.balance(C1), shop.balance(CUSTOMER)) == (10300, 10200, 9500)
    assert shop.balance(TREASURY) == 0
    assert shop.pay.book.conserved()


def test_the_cancellation_fee_is_at_most_the_goods() -> None:
    shop = Shop()
    checkout(shop, goods=100)
    paid = shop.tx(CUSTOMER, lambda f, ctx: shop.pay.cancel(ORDER, True, [], RATES, ctx))
    assert (paid.store, paid.refunded) == (100, 500)


def test_a_cash_cancellation_records_what_the_customer_owes_the_store() -> None:
    shop = Shop()
    checkout(shop, customer=OUTSIDER)
    paid = shop.tx(STORE, lambda f, ctx: shop.pay.cancel(ORDER, True, TWO[:1], RATES, ctx))
    assert paid == Paid(CASH, 300, ((C1, 400),), 0, 0, collector=STORE)
    assert shop.pay.debt(STORE) == 0  # no commission on a cancellation
    assert shop.pay.book.jobs[job_id(ORDER, 0)].payouts == ((STORE, 300), (C1, 400))


def test_a_refused_order_is_refunded_in_full() -> None:
    shop = Shop()
    checkout(shop)
    paid = shop.tx(STORE, lambda f, ctx: shop.pay.refuse(ORDER, ctx))
    assert (paid.refunded, shop.balance(CUSTOMER)) == (2500, 10_000)
    assert shop.pay.money(ORDER).state == REFUSED  # type: ignore[union-attr]
    refused(shop, STORE, lambda f, ctx: shop.pay.refuse(ORDER, ctx), "already_settled")
    with pytest.raises(AppTxRejected, match="not_cancelled"):
        shop.pay.restore(ORDER)


def test_a_restored_order_is_paid_again_by_a_new_hold_of_the_customer() -> None:
    shop = Shop()
    checkout(shop)
    shop.tx(STORE, lambda f, ctx: shop.pay.cancel(ORDER, False, TWO, RATES, ctx))
    assert shop.pay.restore(ORDER) == UNPAID
    assert not shop.pay.is_paid(ORDER)
    refused(shop, C2, lambda f, ctx: shop.pay.fulfil(ORDER, TWO, RATES, ctx), "not_paid")
    refused(shop, STORE, lambda f, ctx: shop.pay.repay(ORDER, ctx), "not_your_funds")
    shop.tx(CUSTOMER, lambda f, ctx: shop.pay.check_repay(ORDER, ctx))
    shop.tx(CUSTOMER, lambda f, ctx: shop.pay.repay(ORDER, ctx))
    assert shop.pay.money(ORDER).state == HELD  # type: ignore[union-attr]
    refused(shop, CUSTOMER, lambda f, ctx: shop.pay.repay(ORDER, ctx), "not_unpaid")
    paid = shop.tx(C2, lambda f, ctx: shop.pay.fulfil(ORDER, TWO, RATES, ctx))
    assert paid.total == 2500
    assert shop.pay.book.jobs[job_id(ORDER, 1)].state == SETTLED
    assert shop.balance(CUSTOMER) == 7500


def test_a_restored_cash_order_is_due_again() -> None:
    shop = Shop()
    checkout(shop, customer=OUTSIDER)
    shop.tx(STORE, lambda f, ctx: shop.pay.cancel(ORDER, False, TWO, RATES, ctx))
    assert shop.pay.restore(ORDER) == DUE
    shop.tx(C2, lambda f, ctx: shop.pay.fulfil(ORDER, TWO, RATES, ctx))
    assert shop.pay.debt(C2) == 300


def test_an_order_whose_cancellation_paid_someone_is_not_restored() -> None:
    shop = Shop()
    checkout(shop)
    shop.tx(STORE, lambda f, ctx: shop.pay.cancel(ORDER, True, TWO[:1], RATES, ctx))
    before = shop.snapshot()
    with pytest.raises(AppTxRejected, match="money_moved"):
        shop.pay.restore(ORDER)
    assert shop.snapshot() == before


# -- refusals change nothing ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "customer", "store", "goods", "price", "method", "reason"),
    [
        (b"short", CUSTOMER, STORE, 1, 1, ESCROW, "bad_order"),
        (ORDER, b"short", STORE, 1, 1, ESCROW, "bad_account"),
        (ORDER, CUSTOMER, b"", 1, 1, ESCROW, "bad_account"),
        (ORDER, STORE, STORE, 1, 1, ESCROW, "self_payment"),
        (ORDER, CUSTOMER, STORE, -1, 1, ESCROW, "bad_amount"),
        (ORDER, CUSTOMER, STORE, 1, True, ESCROW, "bad_amount"),
        (ORDER, CUSTOMER, STORE, 0, 0, ESCROW, "bad_amount"),
        (ORDER, CUSTOMER, STORE, 10**15, 1, ESCROW, "bad_amount"),
        (ORDER, CUSTOMER, STORE, 1, 1, "card", "bad_method"),
        (ORDER, CUSTOMER, STORE, 10_000, 1, ESCROW, "insufficient_funds"),
    ],
)
def test_checkout_refusals_change_nothing(
    order: bytes,
    customer: bytes,
    store: bytes,
    goods: int,
    price: int,
    method: str,
    reason: str,
) -> None:
    shop = Shop()
    step: Step = lambda f, ctx: shop.pay.checkout(order, customer, store, goods, price, method, ctx)  # noqa: E731
    check: Step = lambda f, ctx: shop.pay.check_checkout(  # noqa: E731
        order, customer, store, goods, price, method, ctx
    )
    refused(shop, CUSTOMER, check, reason)
    refused(shop, CUSTOMER, step, reason)


def test_checkout_refuses_someone_elses_coins_and_a_second_checkout() -> None:
    shop = Shop()
    refused(
        shop,
        C1,
        lambda f, ctx: shop.pay.checkout(ORDER, CUSTOMER, STORE, 5, 5, ESCROW, ctx),
        "not_your_funds",
    )
    checkout(shop)
    refused(
        shop,
        CUSTOMER,
        lambda f, ctx: shop.pay.checkout(ORDER, CUSTOMER, STORE, 5, 5, ESCROW, ctx),
        "already_checked_out",
    )


def test_checkout_without_a_funds_provider_is_refused_in_coins_but_cash_works() -> None:
    shop = Shop()
    shop.provider = False
    shop.handle = lambda sender: FundsHandle(  # type: ignore[method-assign]
        None, app=APP, community=COMMUNITY, sender=sender, members=frozenset(MEMBERS)
    )
    refused(
        shop,
        CUSTOMER,
        lambda f, ctx: shop.pay.checkout(ORDER, CUSTOMER, STORE, 5, 5, ESCROW, ctx),
        "no_funds_provider",
    )
    assert checkout(shop, method=CASH) == CASH


BAD_TASKS: list[tuple[Sequence[Any], str]] = [
    ([], "bad_tasks"),
    ([(PICK, "pickup", C1), (PICK, "dropoff", C2)], "bad_tasks"),
    ([(PICK, "lunch", C1)], "bad_tasks"),
    ([(b"", "pickup", C1)], "bad_tasks"),
    ([(b"x" * 33, "pickup", C1)], "bad_tasks"),
    ([(PICK, "pickup", b"short")], "bad_tasks"),
    ([(PICK, "pickup", b"")], "bad_tasks"),  # not done: a fulfilment pays done tasks
    ([(PICK, "pickup")], "bad_tasks"),
    ([PICK], "bad_tasks"),
    ([(PICK, "pickup", OUTSIDER)], "unknown_account"),  # a courier who is not a member
]


@pytest.mark.parametrize(("given", "reason"), BAD_TASKS)
def test_fulfilment_refusals_change_nothing(given: Sequence[Any], reason: str) -> None:
    shop = Shop()
    checkout(shop)
    refused(shop, C2, lambda f, ctx: shop.pay.check_fulfil(ORDER, given, RATES, ctx), reason)
    refused(shop, C2, lambda f, ctx: shop.pay.fulfil(ORDER, given, RATES, ctx), reason)
    assert shop.pay.money(ORDER).state == HELD  # type: ignore[union-attr]


def test_an_order_settles_once() -> None:
    shop = Shop()
    checkout(shop)
    shop.tx(C2, lambda f, ctx: shop.pay.fulfil(ORDER, TWO, RATES, ctx))
    settled: tuple[Step, ...] = (
        lambda f, ctx: shop.pay.fulfil(ORDER, TWO, RATES, ctx),
        lambda f, ctx: shop.pay.cancel(ORDER, True, TWO, RATES, ctx),
        lambda f, ctx: shop.pay.refuse(ORDER, ctx),
    )
    for step in settled:
        refused(shop, C2, step, "already_settled")
    unknown: tuple[Step, ...] = (
        lambda f, ctx: shop.pay.fulfil(b"\x09" * 16, TWO, RATES, ctx),
        lambda f, ctx: shop.pay.cancel(b"\x09" * 16, True, TWO, RATES, ctx),
        lambda f, ctx: shop.pay.refuse(b"\x09" * 16, ctx),
        lambda f, ctx: shop.pay.repay(b"\x09" * 16, ctx),
    )
    for step in unknown:
        refused(shop, C2, step, "no_such_order")
    with pytest.raises(AppTxRejected, match="not_cancelled"):
        shop.pay.restore(ORDER)


def test_a_cancellation_naming_a_bad_task_changes_nothing() -> None:
    shop = Shop()
    checkout(shop)
    bad: Any = [(PICK, "pickup", C1), (PICK, "dropoff", b"")]
    refused(
        shop, STORE, lambda f, ctx: shop.pay.check_cancel(ORDER, True, bad, RATES, ctx), "bad_tasks"
    )
    refused(shop, STORE, lambda f, ctx: shop.pay.cancel(ORDER, True, bad, RATES, ctx), "bad_tasks")


def test_the_checks_say_what_the_steps_will_pay() -> None:
    shop = Shop()
    checkout(shop)
    before = shop.snapshot()
    half = tasks((PICK, "pickup", C1), (DROP, "dropoff", b""))
    fulfil = shop.tx(C2, lambda f, ctx: shop.pay.check_fulfil(ORDER, TWO, RATES, ctx))
    cancel = shop.tx(C2, lambda f, ctx: shop.pay.check_cancel(ORDER, True, half, RATES, ctx))
    refuse = shop.tx(C2, lambda f, ctx: shop.pay.check_refuse(ORDER, ctx))
    assert shop.snapshot() == before
    assert (fulfil.store, cancel.store, refuse.refunded) == (1800, 300, 2500)
    assert shop.tx(C2, lambda f, ctx: shop.pay.fulfil(ORDER, TWO, RATES, ctx)) == fulfil


def test_a_customer_who_carried_a_task_gets_that_share_back() -> None:
    shop = Shop()
    checkout(shop)
    mine = tasks((PICK, "pickup", C1), (DROP, "dropoff", CUSTOMER))
    paid = shop.tx(C1, lambda f, ctx: shop.pay.fulfil(ORDER, mine, RATES, ctx))
    assert paid == Paid(ESCROW, 1800, ((C1, 200),), 300, 200)
    assert shop.balance(CUSTOMER) == 7700


def test_the_snapshot_is_sorted_and_deterministic() -> None:
    first, second = Shop(), Shop()
    for shop, orders in ((first, (ORDER, b"\x02" * 16)), (second, (b"\x02" * 16, ORDER))):
        for order in orders:
            shop.now_ms = 5_000  # both at the same community time
            checkout(shop, order=order, goods=100, price=50)
    assert first.pay.to_value() == second.pay.to_value()


# -- Hypothesis: conservation over random order histories ----------------------------------------

orders_ = st.sampled_from([bytes([i]) * 16 for i in range(6)])
couriers_ = st.sampled_from((C1, C2, C2, STORE, CUSTOMER, OUTSIDER))
task_lists = st.lists(
    st.tuples(st.sampled_from(("pickup", "dropoff")), couriers_, st.booleans()),
    max_size=4,
)
rates_ = st.builds(
    DeliveryRates.of,
    st.sampled_from(["0", "1/10", "1/3", "1"]),
    st.sampled_from(["0", "1/2", "4/5", "1"]),
    st.integers(0, 3000),
    st.sampled_from(["equal", "1:2", "3:1"]),
)


def _task_pays(drawn: list[tuple[str, bytes, bool]], *, all_done: bool) -> list[TaskPay]:
    return [
        TaskPay(b"t%d" % i, kind, courier if done or all_done else b"")
        for i, (kind, courier, done) in enumerate(drawn)
    ]


class PaymentsMachine(RuleBasedStateMachine):
    """Random checkouts, fulfilments, cancellations, refusals, restores, repayments and debt
    payments; a model sums what each step says it paid.  The later steps mostly name orders
    that were checked out (the ``paid_for`` bundle): unknown ones are the unit tests'."""

    paid_for = Bundle("paid_for")

    def __init__(self) -> None:
        super().__init__()
        self.shop = Shop(coins=4000)
        self.minted = self.shop.ledger.minted
        self.paid_in = 0
        self.out = {"store": 0, "couriers": 0, "treasury": 0, "refunds": 0}
        self.settled: dict[bytes, int] = {}
        """Escrow job -> how many steps settled it (never above 1)."""

    def _step(self, sender: bytes, step: Step) -> tuple[bool, Any]:
        """(taken, the step's result); a refused step has a reason and changed nothing."""
        before = self.shop.snapshot()
        try:
            return True, self.shop.tx(sender, step)
        except AppTxRejected as exc:
            refused = exc.reason
        assert refused
        assert self.shop.snapshot() == before
        return False, None

    def _count(self, order: bytes, paid: Paid | None, held: int, round_: int) -> None:
        if paid is None or paid.method != ESCROW or not held:
            return
        assert paid.total == held  # every cent of the hold goes somewhere, once
        job = job_id(order, round_)
        self.settled[job] = self.settled.get(job, 0) + 1
        self.out["store"] += paid.store
        self.out["couriers"] += sum(n for _, n in paid.couriers)
        self.out["treasury"] += paid.commission
        self.out["refunds"] += paid.refunded

    def _held(self, order: bytes) -> tuple[int, int]:
        money = self.shop.pay.money(order)
        if money is None or money.state != HELD:
            return 0, 0
        return money.amount, money.round

    @rule(
        target=paid_for,
        order=orders_,
        customer=st.sampled_from((CUSTOMER, CUSTOMER, C1, OUTSIDER)),
        store=st.sampled_from(MEMBERS),
        goods=st.integers(-1, 1500),
        price=st.integers(0, 800),
        method=st.sampled_from((ESCROW, ESCROW, CASH)),
    )
    def checkout(
        self, order: bytes, customer: bytes, store: bytes, goods: int, price: int, method: str
    ) -> Any:
        pay = self.shop.pay
        sender = customer if customer in MEMBERS else store
        taken, used = self._step(
            sender, lambda f, ctx: pay.checkout(order, customer, store, goods, price, method, ctx)
        )
        if used == ESCROW:
            self.paid_in += goods + price
        return order if taken else multiple()

    @rule(
        order=paid_for,
        drawn=task_lists,
        rates=rates_,
        collector=st.sampled_from((b"", C1)),
    )
    def fulfil(
        self,
        order: bytes,
        drawn: list[tuple[str, bytes, bool]],
        rates: DeliveryRates,
        collector: bytes,
    ) -> None:
        pay, held = self.shop.pay, self._held(order)
        done = _task_pays(drawn, all_done=True)
        _, paid = self._step(
            C2, lambda f, ctx: pay.fulfil(order, done, rates, ctx, collector=collector)
        )
        self._count(order, paid, *held)

    @rule(order=paid_for, preparing=st.booleans(), drawn=task_lists, rates=rates_)
    def cancel(
        self,
        order: bytes,
        preparing: bool,
        drawn: list[tuple[str, bytes, bool]],
        rates: DeliveryRates,
    ) -> None:
        pay, held = self.shop.pay, self._held(order)
        every = _task_pays(drawn, all_done=False)
        _, paid = self._step(STORE, lambda f, ctx: pay.cancel(order, preparing, every, rates, ctx))
        self._count(order, paid, *held)

    @rule(order=paid_for)
    def refuse(self, order: bytes) -> None:
        pay, held = self.shop.pay, self._held(order)
        _, paid = self._step(STORE, lambda f, ctx: pay.refuse(order, ctx))
        self._count(order, paid, *held)

    @rule(order=paid_for)
    def restore(self, order: bytes) -> None:
        before = self.shop.snapshot()
        with contextlib.suppress(AppTxRejected):
            self.shop.pay.restore(order)
            return
        assert self.shop.snapshot() == before

    @rule(order=paid_for, other=st.sampled_from((b"", *MEMBERS)))
    def repay(self, order: bytes, other: bytes) -> None:
        """The customer pays a restored order again (or ``other`` tries to, from theirs)."""
        pay = self.shop.pay
        money = pay.money(order)
        sender = other or (money.customer if money and money.customer in MEMBERS else C1)
        taken, _ = self._step(sender, lambda f, ctx: pay.repay(order, ctx))
        if taken and money is not None:
            assert money.state == HELD
            self.paid_in += money.amount

    @rule(member=st.sampled_from(MEMBERS), amount=st.integers(-1, 400))
    def settle_debt(self, member: bytes, amount: int) -> None:
        pay = self.shop.pay
        self._step(member, lambda f, ctx: pay.settle_debt(member, amount, ctx))

    @invariant()
    def money_is_conserved(self) -> None:
        book, ledger = self.shop.pay.book, self.shop.ledger
        totals = book.total("community")
        assert book.conserved()
        assert totals.paid_in == self.paid_in
        assert self.paid_in == sum(self.out.values()) + totals.held
        assert (totals.paid_out, totals.commission, totals.refunds) == (
            self.out["store"] + self.out["couriers"],
            self.out["treasury"],
            self.out["refunds"],
        )
        assert ledger.balance(ESCROW_ACCOUNT) == totals.held
        assert ledger.balance(TREASURY) == totals.commission + totals.debts_settled
        assert ledger.total() == ledger.minted == self.minted
        assert all(b >= 0 for b in ledger.balances.values())
        held = sum(m.amount for m in self.shop.pay.orders.values() if m.state == HELD)
        assert held == totals.held

    @invariant()
    def nothing_settles_twice(self) -> None:
        assert all(n == 1 for n in self.settled.values())
        for job in self.settled:
            assert book_state(self.shop, job) != "held"


def book_state(shop: Shop, job: bytes) -> str:
    record = shop.pay.book.job(job)
    assert record is not None
    return record.state


PaymentsMachine.TestCase.settings = settings(
    max_examples=80,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_payments_conserve_money = PaymentsMachine.TestCase

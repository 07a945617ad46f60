"""The order state machine: every transition, every refusal (and that a refusal changes nothing).

The helpers at the top (parties, a book with one order, ``refused``) are shared by
``test_dispatch.py`` and the state machine.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest

from peoplenet.apps.delivery.orders import (
    ACCEPTED,
    FULFILLED,
    NEW,
    ORDER_CANCELLED,
    PREPARING,
    READY,
    REFUSED,
    DeliveryBook,
)
from peoplenet.apps.delivery.tasks import (
    CANCELLED,
    DONE,
    DROPOFF,
    FAILED,
    MAX_ADDRESS_LEN,
    MAX_DROPOFFS,
    PICKUP,
    TODO,
    Event,
    TaskSpec,
    task_id,
)
from peoplenet.plugins.api import AppTxRejected
from peoplenet.plugins.kit import Grid

STORE = b"\x01" * 32
CUSTOMER = b"\x02" * 32
DISPATCHER = b"\x03" * 32
C1 = b"\x04" * 32
C2 = b"\x05" * 32
C3 = b"\x06" * 32
STRANGER = b"\x09" * 32
DISPATCHERS = frozenset({DISPATCHER})
OID = bytes(range(16))
T0 = 1_000_000_000
HOUR = 3_600_000
PROOF = b"\xaa" * 32
TOLERANCE = 600_000


def spec(kind: str = DROPOFF, row: int = 4540, col: int = 919, **kw: object) -> TaskSpec:
    fields: dict[str, object] = {
        "after_ms": T0,
        "before_ms": T0 + HOUR,
        "weight_g": 1500,
        "packages": (("bag", 2),),
        "address": b"sealed",
    }
    fields.update(kw)
    return TaskSpec(kind, Grid(row, col), **fields)  # type: ignore[arg-type]


def specs(dropoffs: int = 1) -> list[TaskSpec]:
    return [spec(PICKUP), *(spec(DROPOFF, col=919 + i) for i in range(dropoffs))]


def new_book(dropoffs: int = 1, oid: bytes = OID, book: DeliveryBook | None = None) -> DeliveryBook:
    book = DeliveryBook() if book is None else book
    book.create(oid, STORE, CUSTOMER, specs(dropoffs), price_cents=750, rules_version=1, now_ms=T0)
    return book


def live_book(dropoffs: int = 1, oid: bytes = OID) -> DeliveryBook:
    book = new_book(dropoffs, oid)
    book.accept(oid, STORE, T0 + 1)
    return book


def tid(index: int, oid: bytes = OID) -> bytes:
    return task_id(oid, index)


def refused(book: DeliveryBook, call: Callable[[], object], reason: str) -> AppTxRejected:
    """``call`` is refused with ``reason`` and the book is exactly as before."""
    before = book.to_value()
    with pytest.raises(AppTxRejected) as caught:
        call()
    assert caught.value.reason == reason, caught.value
    assert book.to_value() == before
    return caught.value


def deliver(book: DeliveryBook, courier: bytes = C1, oid: bytes = OID) -> list[Event]:
    """Assign the whole delivery to ``courier``, who does every task on time."""
    book.assign_delivery(oid, courier, DISPATCHER, DISPATCHERS, T0 + 2)
    events: list[Event] = []
    for task in book.tasks_of(oid):
        events = book.complete(
            task.id, courier, done_ms=T0 + 10, proof=PROOF, now_ms=T0 + 20, tolerance_ms=0
        )
    return events


# -- creation ---------------------------------------------------------------------------------


def test_create_records_the_order_and_derives_its_task_ids() -> None:
    book = DeliveryBook()
    events = book.create(
        OID, STORE, CUSTOMER, specs(3), price_cents=750, rules_version=2, now_ms=T0
    )
    assert events == [("created", OID)]
    order = book.order(OID)
    assert (order.state, order.price_cents, order.rules_version) == (NEW, 750, 2)
    assert order.tasks == tuple(OID + bytes([i]) for i in range(4))
    kinds = [(t.spec.kind, t.state, t.courier, t.index) for t in book.tasks_of(OID)]
    assert kinds == [(PICKUP, TODO, b"", 0)] + [(DROPOFF, TODO, b"", i) for i in (1, 2, 3)]
    assert book.open_orders(STORE) == (order,)
    assert book.unassigned() == ()  # a new order is not dispatched yet


def _create(book: DeliveryBook, **kw: object) -> Callable[[], object]:
    args: dict[str, object] = {
        "order_id": OID,
        "store": STORE,
        "customer": CUSTOMER,
        "tasks": specs(1),
        "price_cents": 750,
        "rules_version": 1,
        "now_ms": T0,
    }
    args.update(kw)
    return lambda: book.create(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"order_id": b"short"}, "bad_id"),
        ({"store": b"x" * 31}, "bad_id"),
        ({"customer": "not bytes"}, "bad_id"),
        ({"price_cents": -1}, "bad_price"),
        ({"price_cents": True}, "bad_price"),
        ({"rules_version": -1}, "bad_rules_version"),
        ({"tasks": [spec(PICKUP)]}, "bad_tasks"),
        ({"tasks": specs(MAX_DROPOFFS + 1)}, "bad_tasks"),
        ({"tasks": [spec(DROPOFF), spec(DROPOFF)]}, "bad_tasks"),
        ({"tasks": [spec(PICKUP), spec(PICKUP)]}, "bad_tasks"),
        ({"tasks": [spec(PICKUP), "a dropoff"]}, "bad_tasks"),
        ({"tasks": [spec(PICKUP), spec(row=10**6)]}, "bad_tasks"),
        ({"tasks": [spec(PICKUP), spec(after_ms=T0 + 1, before_ms=T0)]}, "bad_tasks"),
        ({"tasks": [spec(PICKUP), spec(after_ms=-1)]}, "bad_tasks"),
        ({"tasks": [spec(PICKUP), spec(weight_g=-1)]}, "bad_tasks"),
        ({"tasks": [spec(PICKUP), spec(packages=(("b", 1), ("a", 1)))]}, "bad_tasks"),
        ({"tasks": [spec(PICKUP), spec(packages=(("a", 1), ("a", 1)))]}, "bad_tasks"),
        ({"tasks": [spec(PICKUP), spec(packages=(("a", 0),))]}, "bad_tasks"),
        ({"tasks": [spec(PICKUP), spec(packages=(("", 1),))]}, "bad_tasks"),
        ({"tasks": [spec(PICKUP), spec(packages=[("a", 1)])]}, "bad_tasks"),
        ({"tasks": [spec(PICKUP), spec(address=b"x" * (MAX_ADDRESS_LEN + 1))]}, "bad_tasks"),
    ],
)
def test_a_bad_order_is_refused_whole(change: dict[str, object], reason: str) -> None:
    book = new_book(oid=b"\xff" * 16)
    refused(book, _create(book, **change), reason)


def test_an_order_id_is_taken_once() -> None:
    book = new_book()
    refused(book, _create(book), "order_exists")


def test_the_most_dropoffs_and_an_empty_address_are_taken() -> None:
    book = DeliveryBook()
    tasks = [spec(PICKUP, address=b""), *specs(MAX_DROPOFFS)[1:]]
    _create(book, tasks=tasks)()
    assert len(book.tasks_of(OID)) == MAX_DROPOFFS + 1


# -- the store's steps ------------------------------------------------------------------------


def test_the_store_accepts_prepares_and_readies() -> None:
    book = new_book()
    assert book.accept(OID, STORE, T0 + 1) == [("accepted", OID)]
    assert book.start_preparing(OID, STORE, T0 + 2) == [("preparing", OID)]
    assert book.ready(OID, STORE, T0 + 3) == [("ready", OID)]
    order = book.order(OID)
    assert order.state == READY
    assert order.was_accepted
    assert [step for step, _, _ in order.log] == ["created", ACCEPTED, PREPARING, READY]
    assert order.log[-1] == (READY, T0 + 3, STORE)


STORE_STEPS: dict[str, Callable[[DeliveryBook, bytes], object]] = {
    "accept": lambda b, by: b.accept(OID, by, T0),
    "refuse": lambda b, by: b.refuse(OID, by, "closed", T0),
    "start_preparing": lambda b, by: b.start_preparing(OID, by, T0),
    "ready": lambda b, by: b.ready(OID, by, T0),
    "delay": lambda b, by: b.delay(OID, by, 10, T0),
}


@pytest.mark.parametrize("step", sorted(STORE_STEPS))
@pytest.mark.parametrize("by", [CUSTOMER, DISPATCHER, STRANGER, C1])
def test_only_the_store_takes_its_steps(step: str, by: bytes) -> None:
    book = new_book()
    refused(book, lambda: STORE_STEPS[step](book, by), "not_your_order")


@pytest.mark.parametrize(
    ("setup", "step", "detail"),
    [
        ([ACCEPTED], "accept", "accepted -> accepted"),
        ([ACCEPTED], "refuse", "accepted -> refused"),
        ([], "start_preparing", "new -> preparing"),
        ([ACCEPTED], "ready", "accepted -> ready"),
        ([ACCEPTED, PREPARING], "start_preparing", "preparing -> preparing"),
        ([], "delay", "new -> delayed"),
        ([ACCEPTED, PREPARING, READY], "delay", "ready -> delayed"),
        ([REFUSED], "accept", "refused -> accepted"),
        ([ORDER_CANCELLED], "accept", "cancelled -> accepted"),
    ],
)
def test_a_store_step_from_the_wrong_state_is_refused(
    setup: list[str], step: str, detail: str
) -> None:
    book = new_book()
    for state in setup:
        {
            ACCEPTED: lambda: book.accept(OID, STORE, T0),
            PREPARING: lambda: book.start_preparing(OID, STORE, T0),
            READY: lambda: book.ready(OID, STORE, T0),
            REFUSED: lambda: book.refuse(OID, STORE, "closed", T0),
            ORDER_CANCELLED: lambda: book.cancel(OID, STORE, DISPATCHERS, T0),
        }[state]()
    error = refused(book, lambda: STORE_STEPS[step](book, STORE), "bad_state")
    assert error.detail.startswith(detail)


def test_steps_on_an_unknown_order_are_refused() -> None:
    book = new_book()
    refused(book, lambda: book.accept(b"\x00" * 16, STORE, T0), "unknown_order")
    refused(book, lambda: book.cancel(b"\x00" * 16, STORE, DISPATCHERS, T0), "unknown_order")
    refused(book, lambda: book.task(b"\x00" * 17), "unknown_task")


def test_a_refusal_says_why_and_cancels_every_task() -> None:
    book = new_book(dropoffs=2)
    assert book.refuse(OID, STORE, "out of basil", T0 + 5) == [("refused", OID)]
    order = book.order(OID)
    assert (order.state, order.refusal) == (REFUSED, "out of basil")
    assert {t.state for t in book.tasks_of(OID)} == {CANCELLED}
    assert all(t.cancelled_with_order and not t.courier for t in book.tasks_of(OID))
    assert book.open_orders(STORE) == ()


@pytest.mark.parametrize("reason", ["", "x" * 201, 7])
def test_a_refusal_without_a_reason_is_refused(reason: object) -> None:
    book = new_book()
    refused(book, lambda: book.refuse(OID, STORE, reason, T0), "bad_reason")  # type: ignore[arg-type]


def test_a_delay_moves_every_open_window_and_no_other() -> None:
    book = live_book(dropoffs=2)
    book.assign(tid(0), C1, DISPATCHER, DISPATCHERS, T0 + 2)
    book.complete(tid(0), C1, done_ms=T0 + 10, proof=PROOF, now_ms=T0 + 10, tolerance_ms=0)
    assert book.delay(OID, STORE, 15, T0 + 20) == [("delayed", OID)]
    windows = [(t.spec.after_ms, t.spec.before_ms) for t in book.tasks_of(OID)]
    shift = 15 * 60_000
    assert windows == [(T0, T0 + HOUR)] + [(T0 + shift, T0 + HOUR + shift)] * 2
    book.start_preparing(OID, STORE, T0 + 30)
    book.delay(OID, STORE, 5, T0 + 40)
    assert book.order(OID).delay_min == 20


@pytest.mark.parametrize("minutes", [0, -5, 121, "10"])
def test_a_delay_out_of_bounds_is_refused(minutes: object) -> None:
    book = live_book()
    refused(book, lambda: book.delay(OID, STORE, minutes, T0), "bad_delay")  # type: ignore[arg-type]


# -- cancellation -----------------------------------------------------------------------------


@pytest.mark.parametrize("steps", [0, 1, 2, 3])
@pytest.mark.parametrize("by", [STORE, DISPATCHER])
def test_the_store_or_a_dispatcher_cancels_any_open_order(steps: int, by: bytes) -> None:
    book = new_book()
    for step in [book.accept, book.start_preparing, book.ready][:steps]:
        step(OID, STORE, T0)
    assert book.cancel(OID, by, DISPATCHERS, T0 + 9) == [("cancelled", OID)]
    assert book.order(OID).state == ORDER_CANCELLED
    assert book.order(OID).log[-1] == (ORDER_CANCELLED, T0 + 9, by)


def test_the_customer_cancels_only_a_new_order() -> None:
    book = new_book()
    other = new_book(oid=b"\x07" * 16, book=DeliveryBook())
    other.accept(b"\x07" * 16, STORE, T0)
    error = refused(other, lambda: other.cancel(b"\x07" * 16, CUSTOMER, (), T0), "bad_state")
    assert error.detail.startswith("accepted -> cancelled")
    assert book.cancel(OID, CUSTOMER, (), T0) == [("cancelled", OID)]


def test_a_stranger_or_a_courier_cancels_nothing() -> None:
    book = live_book()
    book.assign_delivery(OID, C1, DISPATCHER, DISPATCHERS, T0)
    refused(book, lambda: book.cancel(OID, STRANGER, DISPATCHERS, T0), "not_your_order")
    refused(book, lambda: book.cancel(OID, C1, DISPATCHERS, T0), "not_your_order")


@pytest.mark.parametrize("final", [REFUSED, ORDER_CANCELLED, FULFILLED])
def test_a_closed_order_is_not_cancelled(final: str) -> None:
    book = new_book()
    if final == REFUSED:
        book.refuse(OID, STORE, "closed", T0)
    elif final == ORDER_CANCELLED:
        book.cancel(OID, STORE, (), T0)
    else:
        book.accept(OID, STORE, T0)
        deliver(book)
    error = refused(book, lambda: book.cancel(OID, DISPATCHER, DISPATCHERS, T0), "bad_state")
    assert error.detail == f"{final} -> cancelled"


def test_cancelling_ends_every_open_task_and_keeps_what_is_done() -> None:
    book = live_book(dropoffs=2)
    book.assign_delivery(OID, C1, DISPATCHER, DISPATCHERS, T0 + 2)
    book.complete(tid(0), C1, done_ms=T0 + 5, proof=PROOF, now_ms=T0 + 5, tolerance_ms=0)
    book.start(tid(1), C1, T0 + 6)
    events = book.cancel(OID, DISPATCHER, DISPATCHERS, T0 + 7)
    assert events == [("cancelled", OID), ("task_ended", tid(1)), ("task_ended", tid(2))]
    states = [(t.state, t.courier, t.cancelled_with_order) for t in book.tasks_of(OID)]
    assert states == [(DONE, C1, False), (CANCELLED, b"", True), (CANCELLED, b"", True)]
    assert book.tour(C1) == ()


# -- restore ----------------------------------------------------------------------------------


def test_a_restore_brings_back_what_the_cancellation_ended() -> None:
    book = live_book(dropoffs=3)
    book.assign_delivery(OID, C1, DISPATCHER, DISPATCHERS, T0 + 2)
    book.complete(tid(0), C1, done_ms=T0 + 5, proof=PROOF, now_ms=T0 + 5, tolerance_ms=0)
    book.fail(tid(1), C1, "nobody home", T0 + 6)
    book.cancel_task(tid(2), DISPATCHER, DISPATCHERS, T0 + 7)
    book.start(tid(3), C1, T0 + 8)
    book.cancel(OID, STORE, (), T0 + 9)
    assert book.restore(OID, DISPATCHER, DISPATCHERS, T0 + 10) == [("restored", OID)]
    order = book.order(OID)
    assert order.state == ACCEPTED
    assert order.log[-1] == ("restored", T0 + 10, DISPATCHER)
    tasks = [(t.state, t.courier, t.accepted) for t in book.tasks_of(OID)]
    todo = (TODO, b"", False)
    assert tasks == [(DONE, C1, True), todo, (CANCELLED, b"", False), todo]
    assert book.tasks_of(OID)[1].failure == ""
    assert [t.id for t in book.unassigned()] == [tid(1), tid(3)]
    assert book.tasks_of(OID)[0].done_ms == T0 + 5


def test_only_a_dispatcher_restores() -> None:
    book = live_book()
    book.cancel(OID, STORE, (), T0)
    for by in (STORE, CUSTOMER, STRANGER):
        refused(book, partial(book.restore, OID, by, DISPATCHERS, T0), "not_dispatcher")


def test_an_order_never_accepted_is_not_restored() -> None:
    book = new_book()
    book.cancel(OID, CUSTOMER, (), T0)
    refused(book, lambda: book.restore(OID, DISPATCHER, DISPATCHERS, T0), "never_accepted")


@pytest.mark.parametrize("final", [NEW, ACCEPTED, REFUSED, FULFILLED])
def test_only_a_cancelled_order_is_restored(final: str) -> None:
    book = new_book()
    if final == REFUSED:
        book.refuse(OID, STORE, "closed", T0)
    elif final != NEW:
        book.accept(OID, STORE, T0)
    if final == FULFILLED:
        deliver(book)
    error = refused(book, lambda: book.restore(OID, DISPATCHER, DISPATCHERS, T0), "bad_state")
    assert error.detail.startswith(f"{final} -> accepted")


# -- fulfilment and single dropoffs -----------------------------------------------------------


def test_the_last_dropoff_done_fulfils_the_order_not_the_first() -> None:
    book = live_book(dropoffs=2)
    book.assign_delivery(OID, C1, DISPATCHER, DISPATCHERS, T0 + 2)
    book.complete(tid(0), C1, done_ms=T0 + 5, proof=PROOF, now_ms=T0 + 5, tolerance_ms=0)
    first = book.complete(tid(1), C1, done_ms=T0 + 6, proof=PROOF, now_ms=T0 + 6, tolerance_ms=0)
    assert ("fulfilled", OID) not in first
    assert book.order(OID).state == ACCEPTED
    last = book.complete(tid(2), C1, done_ms=T0 + 7, proof=PROOF, now_ms=T0 + 8, tolerance_ms=0)
    assert last == [("task_done", tid(2), C1), ("task_ended", tid(2)), ("fulfilled", OID)]
    assert book.order(OID).state == FULFILLED
    assert book.order(OID).log[-1] == (FULFILLED, T0 + 8, b"")
    assert book.open_orders(STORE) == ()


@pytest.mark.parametrize("steps", [0, 1, 2])
def test_an_order_is_fulfilled_from_any_live_state_by_started_tasks(steps: int) -> None:
    book = live_book()
    for step in [book.start_preparing, book.ready][:steps]:
        step(OID, STORE, T0 + 1)
    book.assign_delivery(OID, C1, DISPATCHER, DISPATCHERS, T0 + 2)
    for index in (0, 1):
        assert book.start(tid(index), C1, T0 + 3) == [("task_active", tid(index), C1)]
        events = book.complete(
            tid(index), C1, done_ms=T0 + 4, proof=PROOF, now_ms=T0 + 5, tolerance_ms=0
        )
    assert events[-1] == ("fulfilled", OID)
    assert [(t.state, t.started_ms, t.done_ms) for t in book.tasks_of(OID)] == [
        (DONE, T0 + 3, T0 + 4)
    ] * 2


def test_a_failed_dropoff_keeps_the_order_open() -> None:
    book = live_book(dropoffs=2)
    book.assign_delivery(OID, C1, DISPATCHER, DISPATCHERS, T0 + 2)
    book.complete(tid(0), C1, done_ms=T0 + 5, proof=PROOF, now_ms=T0 + 5, tolerance_ms=0)
    book.fail(tid(1), C1, "wrong address", T0 + 6)
    book.complete(tid(2), C1, done_ms=T0 + 7, proof=PROOF, now_ms=T0 + 8, tolerance_ms=0)
    assert book.order(OID).state == ACCEPTED
    assert book.tasks_of(OID)[1].state == FAILED


def test_cancelling_the_one_dropoff_left_undone_fulfils_the_order() -> None:
    book = live_book(dropoffs=2)
    book.assign_delivery(OID, C1, DISPATCHER, DISPATCHERS, T0 + 2)
    book.complete(tid(0), C1, done_ms=T0 + 5, proof=PROOF, now_ms=T0 + 5, tolerance_ms=0)
    book.complete(tid(1), C1, done_ms=T0 + 6, proof=PROOF, now_ms=T0 + 6, tolerance_ms=0)
    events = book.cancel_task(tid(2), DISPATCHER, DISPATCHERS, T0 + 9)
    assert events == [("task_ended", tid(2)), ("task_cancelled", tid(2)), ("fulfilled", OID)]
    assert book.tasks_of(OID)[2].courier == b""
    assert book.order(OID).state == FULFILLED


def test_a_dropoff_of_a_new_order_is_cancelled_without_fulfilling_it() -> None:
    book = new_book(dropoffs=2)
    assert book.cancel_task(tid(1), DISPATCHER, DISPATCHERS, T0) == [("task_cancelled", tid(1))]
    assert book.order(OID).state == NEW


def test_single_dropoff_cancellations_that_are_refused() -> None:
    book = live_book(dropoffs=2)
    book.assign(tid(0), C1, DISPATCHER, DISPATCHERS, T0)
    book.complete(tid(0), C1, done_ms=T0 + 5, proof=PROOF, now_ms=T0 + 5, tolerance_ms=0)
    cancel = book.cancel_task
    refused(book, lambda: cancel(tid(1), STORE, DISPATCHERS, T0), "not_dispatcher")
    refused(book, lambda: cancel(tid(0), DISPATCHER, DISPATCHERS, T0), "not_a_dropoff")
    refused(book, lambda: cancel(tid(9), DISPATCHER, DISPATCHERS, T0), "unknown_task")
    cancel(tid(1), DISPATCHER, DISPATCHERS, T0)
    error = refused(book, lambda: cancel(tid(1), DISPATCHER, DISPATCHERS, T0), "bad_state")
    assert error.detail == "cancelled -> cancelled"
    refused(book, lambda: cancel(tid(2), DISPATCHER, DISPATCHERS, T0), "last_dropoff")


# -- the snapshot -----------------------------------------------------------------------------


def test_the_snapshot_does_not_depend_on_the_order_things_were_filed() -> None:
    ids = [b"\x0a" * 16, b"\x0b" * 16, b"\x0c" * 16]
    one, two = DeliveryBook(), DeliveryBook()
    for oid in ids:
        new_book(oid=oid, book=one)
    for oid in reversed(ids):
        new_book(oid=oid, book=two)
    for book in (one, two):
        book.go_online(C2, Grid(1, 1))
        book.go_online(C1, Grid(1, 2))
    assert one.to_value() == two.to_value()
    assert [o.id for o in one.open_orders(STORE)] == ids

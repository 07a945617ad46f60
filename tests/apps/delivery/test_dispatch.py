"""Dispatch and the couriers' work: assignments, tours, automatic assignment, offline times."""

from __future__ import annotations

import hashlib
from functools import partial

import pytest

from peoplenet.apps.delivery.dispatch import Dispatch
from peoplenet.apps.delivery.orders import DeliveryBook
from peoplenet.apps.delivery.tasks import CLOCK_SKEW_MS, DOING, DONE, FAILED, TODO
from peoplenet.plugins.kit import Grid
from tests.apps.delivery.test_orders import (
    C1,
    C2,
    C3,
    DISPATCHER,
    DISPATCHERS,
    HOUR,
    OID,
    PROOF,
    STORE,
    STRANGER,
    T0,
    TOLERANCE,
    live_book,
    new_book,
    refused,
    tid,
)

OID2 = b"\x22" * 16


def two_orders() -> DeliveryBook:
    book = live_book(dropoffs=2)
    new_book(oid=OID2, book=book)
    book.accept(OID2, STORE, T0 + 1)
    return book


def ids(book: DeliveryBook, courier: bytes) -> list[bytes]:
    return [t.id for t in book.tour(courier)]


# -- assign -----------------------------------------------------------------------------------


def test_assigned_tasks_join_the_tour_in_the_order_given() -> None:
    book = two_orders()
    assert book.unassigned() == tuple(book.tasks_of(OID) + book.tasks_of(OID2))  # by id
    assert book.assign(tid(2), C1, DISPATCHER, DISPATCHERS, T0 + 5) == [("assigned", tid(2), C1)]
    book.assign(tid(0), C1, DISPATCHER, DISPATCHERS, T0 + 6)
    book.assign(tid(0, OID2), C1, DISPATCHER, DISPATCHERS, T0 + 7)
    assert ids(book, C1) == [tid(2), tid(0), tid(0, OID2)]
    task = book.task(tid(2))
    assert (task.courier, task.accepted, task.assigned_ms, task.state) == (C1, False, T0 + 5, TODO)


def test_assignments_that_are_refused() -> None:
    book = two_orders()
    new_book(oid=b"\x33" * 16, book=book)
    book.assign(tid(0), C1, DISPATCHER, DISPATCHERS, T0)
    book.complete(tid(0), C1, done_ms=T0, proof=PROOF, now_ms=T0, tolerance_ms=0)
    book.assign(tid(1), C1, DISPATCHER, DISPATCHERS, T0)
    assign = book.assign
    refused(book, lambda: assign(tid(2), C2, STORE, DISPATCHERS, T0), "not_dispatcher")
    refused(book, lambda: assign(tid(2), C2, C1, DISPATCHERS, T0), "not_dispatcher")
    refused(book, lambda: assign(tid(7), C2, DISPATCHER, DISPATCHERS, T0), "unknown_task")
    refused(book, lambda: assign(b"short", C2, DISPATCHER, DISPATCHERS, T0), "bad_id")
    refused(book, lambda: assign(tid(2), b"c2", DISPATCHER, DISPATCHERS, T0), "bad_id")
    refused(book, lambda: assign(tid(1), C2, DISPATCHER, DISPATCHERS, T0), "already_assigned")
    refused(book, lambda: assign(tid(1), C1, DISPATCHER, DISPATCHERS, T0), "already_assigned")
    error = refused(book, lambda: assign(tid(0), C2, DISPATCHER, DISPATCHERS, T0), "bad_state")
    assert error.detail == "done -> assigned"
    new = tid(1, b"\x33" * 16)
    refused(book, lambda: assign(new, C2, DISPATCHER, DISPATCHERS, T0), "order_not_live")


def test_a_reassigned_task_goes_to_the_end_of_the_new_tour_back_to_todo() -> None:
    book = two_orders()
    book.assign(tid(0, OID2), C2, DISPATCHER, DISPATCHERS, T0)
    book.assign(tid(1), C1, DISPATCHER, DISPATCHERS, T0 + 1)
    book.start(tid(1), C1, T0 + 2)
    events = book.reassign(tid(1), C2, DISPATCHER, DISPATCHERS, T0 + 3)
    assert events == [("task_ended", tid(1)), ("assigned", tid(1), C2)]
    task = book.task(tid(1))
    assert (task.state, task.courier, task.accepted, task.started_ms) == (TODO, C2, False, 0)
    assert ids(book, C1) == []
    assert ids(book, C2) == [tid(0, OID2), tid(1)]


def test_reassignments_that_are_refused() -> None:
    book = two_orders()
    book.assign(tid(1), C1, DISPATCHER, DISPATCHERS, T0)
    reassign = book.reassign
    refused(book, lambda: reassign(tid(1), C2, C2, DISPATCHERS, T0), "not_dispatcher")
    refused(book, lambda: reassign(tid(2), C2, DISPATCHER, DISPATCHERS, T0), "not_assigned")
    refused(book, lambda: reassign(tid(1), C1, DISPATCHER, DISPATCHERS, T0), "same_courier")


def test_a_whole_delivery_goes_together_pickup_first() -> None:
    book = two_orders()
    book.assign(tid(0, OID2), C1, DISPATCHER, DISPATCHERS, T0)
    book.assign(tid(2), C2, DISPATCHER, DISPATCHERS, T0)
    events = book.assign_delivery(OID, C1, DISPATCHER, DISPATCHERS, T0 + 1)
    assert events == [
        ("assigned", tid(0), C1),
        ("assigned", tid(1), C1),
        ("task_ended", tid(2)),
        ("assigned", tid(2), C1),
    ]
    assert ids(book, C1) == [tid(0, OID2), tid(0), tid(1), tid(2)]
    assert ids(book, C2) == []
    refused(
        book,
        lambda: book.assign_delivery(OID, C1, DISPATCHER, DISPATCHERS, T0),
        "nothing_to_assign",
    )
    refused(book, lambda: book.assign_delivery(OID, C2, STORE, DISPATCHERS, T0), "not_dispatcher")
    refused(
        book,
        lambda: book.assign_delivery(b"\x44" * 16, C2, DISPATCHER, DISPATCHERS, T0),
        "unknown_order",
    )


def test_a_whole_delivery_of_a_new_order_is_not_dispatched() -> None:
    book = new_book()
    refused(
        book,
        lambda: book.assign_delivery(OID, C1, DISPATCHER, DISPATCHERS, T0),
        "order_not_live",
    )


# -- moving a tour, reordering ----------------------------------------------------------------


def test_a_sick_couriers_tour_moves_whole_in_route_order() -> None:
    book = two_orders()
    book.assign_delivery(OID, C1, DISPATCHER, DISPATCHERS, T0)
    book.assign(tid(1, OID2), C1, DISPATCHER, DISPATCHERS, T0)
    book.assign(tid(0, OID2), C2, DISPATCHER, DISPATCHERS, T0)
    book.complete(tid(0), C1, done_ms=T0 + 1, proof=PROOF, now_ms=T0 + 1, tolerance_ms=0)
    book.start(tid(1), C1, T0 + 2)
    events = book.move_tour(C1, C2, DISPATCHER, DISPATCHERS, T0 + 3)
    moved = [tid(1), tid(2), tid(1, OID2)]
    assert events == [e for t in moved for e in (("task_ended", t), ("assigned", t, C2))]
    assert ids(book, C2) == [tid(0, OID2), *moved]
    assert ids(book, C1) == []
    assert book.task(tid(0)).courier == C1  # done: its courier never changes
    assert book.task(tid(1)).state == TODO


def test_tour_moves_that_are_refused() -> None:
    book = live_book()
    book.assign(tid(0), C1, DISPATCHER, DISPATCHERS, T0)
    move = book.move_tour
    refused(book, lambda: move(C1, C2, C1, DISPATCHERS, T0), "not_dispatcher")
    refused(book, lambda: move(C1, C1, DISPATCHER, DISPATCHERS, T0), "same_courier")
    refused(book, lambda: move(C2, C1, DISPATCHER, DISPATCHERS, T0), "empty_tour")
    refused(book, lambda: move(C1, b"x", DISPATCHER, DISPATCHERS, T0), "bad_id")


def test_a_dispatcher_sets_the_route_order() -> None:
    book = two_orders()
    book.assign_delivery(OID, C1, DISPATCHER, DISPATCHERS, T0)
    route = [tid(0), tid(2), tid(1)]
    assert book.reorder(C1, route, DISPATCHER, DISPATCHERS) == []
    assert ids(book, C1) == route
    book.assign(tid(0, OID2), C1, DISPATCHER, DISPATCHERS, T0)
    assert ids(book, C1) == [*route, tid(0, OID2)]


@pytest.mark.parametrize(
    "route",
    [
        [tid(0), tid(1)],
        [tid(0), tid(1), tid(2), tid(2)],
        [tid(0), tid(1), tid(0, OID2)],
        [tid(0), tid(1), tid(2), tid(0, OID2)],
        [tid(0), tid(1), 2],
        tid(0) + tid(1) + tid(2),
    ],
)
def test_a_route_must_be_the_tour_itself(route: list[bytes]) -> None:
    """Every task of the tour, each once, and nothing else (not even something that is not
    a task id)."""
    book = two_orders()
    book.assign_delivery(OID, C1, DISPATCHER, DISPATCHERS, T0)
    refused(book, lambda: book.reorder(C1, route, DISPATCHER, DISPATCHERS), "bad_tour_order")


def test_reorders_that_are_refused() -> None:
    book = live_book()
    book.assign_delivery(OID, C1, DISPATCHER, DISPATCHERS, T0)
    route = [tid(1), tid(0)]
    refused(book, lambda: book.reorder(C1, route, C1, DISPATCHERS), "not_dispatcher")
    refused(book, lambda: book.reorder(C2, [], DISPATCHER, DISPATCHERS), "empty_tour")


# -- the courier's answer ---------------------------------------------------------------------


def test_a_courier_accepts_an_assignment_once() -> None:
    book = live_book()
    book.assign(tid(0), C1, DISPATCHER, DISPATCHERS, T0)
    refused(book, lambda: book.courier_accept(tid(0), C2, T0), "not_your_task")
    assert book.courier_accept(tid(0), C1, T0) == [("assignment_accepted", tid(0), C1)]
    assert book.task(tid(0)).accepted
    refused(book, lambda: book.courier_accept(tid(0), C1, T0), "already_accepted")
    refused(book, lambda: book.courier_decline(tid(0), C1, T0), "already_accepted")
    refused(book, lambda: book.courier_accept(tid(1), C1, T0), "not_your_task")


def test_a_declined_task_is_unassigned_and_the_refusal_recorded() -> None:
    book = live_book()
    book.assign(tid(0), C1, DISPATCHER, DISPATCHERS, T0)
    events = book.courier_decline(tid(0), C1, T0 + 4)
    assert events == [("declined", tid(0), C1), ("task_ended", tid(0))]
    task = book.task(tid(0))
    assert (task.courier, task.declined, task.state) == (b"", [(C1, T0 + 4)], TODO)
    assert ids(book, C1) == []
    refused(book, lambda: book.courier_decline(tid(0), C1, T0), "not_your_task")


def test_a_finished_task_is_neither_accepted_nor_declined() -> None:
    book = live_book()
    book.assign(tid(0), C1, DISPATCHER, DISPATCHERS, T0)
    book.fail(tid(0), C1, "shop closed", T0 + 1)
    error = refused(book, lambda: book.courier_decline(tid(0), C1, T0), "bad_state")
    assert error.detail == "failed -> declined"
    refused(book, lambda: book.courier_accept(tid(0), C1, T0), "bad_state")


# -- automatic assignment ---------------------------------------------------------------------


def _tie_first(order: bytes, *couriers: bytes) -> bytes:
    return min(couriers, key=lambda c: hashlib.blake2b(order + c, digest_size=16).digest())


def test_automatic_assignment_takes_the_nearest_free_courier_ties_by_lot() -> None:
    book = two_orders()  # every task of OID is in cell (4540, 919..921)
    book.go_online(C3, Grid(4541, 920))  # ring 1 from the pickup
    book.go_online(C2, Grid(4539, 918))  # ring 1 too: a tie, drawn by the order's id
    book.go_online(C1, Grid(4540, 919))  # ring 0, but busy below
    book.assign(tid(0, OID2), C1, DISPATCHER, DISPATCHERS, T0)
    events = book.auto_assign(OID, T0 + 1)
    won = _tie_first(OID, C2, C3)
    assert events == [("assigned", tid(i), won) for i in range(3)]
    assert book.order(OID).log[-1] == ("auto_assigned", T0 + 1, won)
    assert book.auto_assign(OID, T0 + 2) == []  # nothing left to give


def test_ties_do_not_favour_one_courier_for_good() -> None:
    winners = set()
    for n in range(16):
        book = Dispatch()
        book.go_online(C2, Grid(4539, 918))
        book.go_online(C3, Grid(4541, 920))
        winners.add(book.nearest(Grid(4540, 919), 3, (), bytes([n]) * 16))
    assert winners == {C2, C3}


def test_automatic_assignment_skips_those_who_declined_and_those_too_far() -> None:
    book = live_book()
    book.go_online(C1, Grid(4540, 919))
    book.go_online(C2, Grid(4540, 922))  # ring 3
    book.auto_assign(OID, T0)
    book.courier_decline(tid(0), C1, T0 + 1)
    assert book.auto_assign(OID, T0 + 2, max_rings=2) == []
    assert book.task(tid(1)).courier == C1  # the other task stays with C1
    assert book.auto_assign(OID, T0 + 3, max_rings=3) == [("assigned", tid(0), C2)]
    book.courier_decline(tid(1), C1, T0 + 4)
    assert book.auto_assign(OID, T0 + 5) == []  # C2 is busy now, C1 declined


def test_automatic_assignment_needs_someone_online_and_a_live_order() -> None:
    book = live_book()
    book.go_online(C1, Grid(4540, 919))
    book.go_offline(C1)
    assert book.auto_assign(OID, T0) == []
    other = new_book()
    refused(other, lambda: other.auto_assign(OID, T0), "order_not_live")
    refused(book, lambda: book.auto_assign(OID, T0, max_rings=-1), "bad_rings")


def test_going_online_and_offline() -> None:
    book = DeliveryBook()
    assert book.go_online(C1, Grid(1, 2)) == []
    book.go_online(C1, Grid(1, 3))
    assert book.online() == {C1: Grid(1, 3)}
    refused(book, lambda: book.go_online(C1, Grid(1, 3)), "same_cell")
    refused(book, lambda: book.go_online(C2, Grid(10**6, 0)), "bad_cell")
    refused(book, lambda: book.go_online(C2, (1, 2)), "bad_cell")  # type: ignore[arg-type]
    refused(book, lambda: book.go_online(b"c", Grid(1, 2)), "bad_id")
    book.go_offline(C1)
    refused(book, lambda: book.go_offline(C1), "not_online")


# -- start, complete, fail --------------------------------------------------------------------


def test_a_courier_starts_their_task() -> None:
    book = live_book()
    book.assign(tid(0), C1, DISPATCHER, DISPATCHERS, T0)
    refused(book, lambda: book.start(tid(0), C2, T0), "not_your_task")
    refused(book, lambda: book.start(tid(1), C1, T0), "not_your_task")
    assert book.start(tid(0), C1, T0 + 3) == [("task_active", tid(0), C1)]
    task = book.task(tid(0))
    assert (task.state, task.started_ms, task.accepted) == (DOING, T0 + 3, True)
    error = refused(book, lambda: book.start(tid(0), C1, T0), "bad_state")
    assert error.detail == "doing -> doing"


def _complete(book: DeliveryBook, index: int, done_ms: int, now_ms: int = T0 + 30) -> object:
    return book.complete(
        tid(index), C1, done_ms=done_ms, proof=PROOF, now_ms=now_ms, tolerance_ms=TOLERANCE
    )


def test_an_offline_completion_keeps_the_signed_times_whatever_their_arrival() -> None:
    book = live_book(dropoffs=2)
    book.assign_delivery(OID, C1, DISPATCHER, DISPATCHERS, T0 + 2)
    _complete(book, 0, T0 + 10)  # straight from todo: the phone was offline
    _complete(book, 2, T0 + 30, now_ms=T0 + HOUR)  # the later one arrives first
    _complete(book, 1, T0 + 20, now_ms=T0 + HOUR + 5)
    assert [t.done_ms for t in book.tasks_of(OID)] == [T0 + 10, T0 + 20, T0 + 30]
    assert [t.state for t in book.tasks_of(OID)] == [DONE] * 3
    assert book.task(tid(1)).proof == PROOF


def test_no_dropoff_is_done_before_its_pickup() -> None:
    book = live_book()
    book.assign_delivery(OID, C1, DISPATCHER, DISPATCHERS, T0 + 2)
    refused(book, lambda: _complete(book, 1, T0 + 10), "pickup_not_done")
    _complete(book, 0, T0 + 10)
    refused(book, lambda: _complete(book, 1, T0 + 9), "done_before_pickup")
    _complete(book, 1, T0 + 10)


@pytest.mark.parametrize(
    ("done_ms", "now_ms", "reason"),
    [
        (T0 + 1, T0 + 30, "done_before_assignment"),
        (T0 + 31 + CLOCK_SKEW_MS, T0 + 30, "done_in_future"),
        (-1, T0, "bad_time"),
    ],
)
def test_an_implausible_completion_time_is_refused(done_ms: int, now_ms: int, reason: str) -> None:
    book = live_book()
    book.assign(tid(0), C1, DISPATCHER, DISPATCHERS, T0 + 2)
    refused(book, lambda: _complete(book, 0, done_ms, now_ms), reason)


def test_the_completion_bounds_are_inclusive() -> None:
    book = live_book(dropoffs=2)
    book.assign_delivery(OID, C1, DISPATCHER, DISPATCHERS, T0)
    _complete(book, 0, T0 + 30 + CLOCK_SKEW_MS, now_ms=T0 + 30)  # at the skew allowance
    _complete(book, 1, T0 + HOUR + TOLERANCE, now_ms=T0 + 2 * HOUR)  # at the tolerance
    assert book.task(tid(1)).done_ms == T0 + HOUR + TOLERANCE


def test_a_signed_time_outside_the_window_is_not_trusted_but_the_task_closes() -> None:
    """A courier who is late still closes the task; the phone cannot back-date it: the time
    the completion reached the order is recorded, the signed one kept beside it."""
    book = live_book(dropoffs=2)
    book.assign_delivery(OID, C1, DISPATCHER, DISPATCHERS, T0)
    _complete(book, 0, T0 + 5, now_ms=T0 + 5)
    late, now = T0 + HOUR + TOLERANCE + 1, T0 + 2 * HOUR
    _complete(book, 1, late, now_ms=now)
    assert (book.task(tid(1)).done_ms, book.task(tid(1)).signed_ms) == (now, late)


def test_a_completion_before_the_window_opens_records_the_order_time() -> None:
    book = DeliveryBook()
    new_book(book=book)
    book.accept(OID, STORE, T0)
    book.delay(OID, STORE, 30, T0)
    book.assign(tid(0), C1, DISPATCHER, DISPATCHERS, T0)
    _complete(book, 0, T0 + 1000, now_ms=T0 + 2000)
    assert book.task(tid(0)).done_ms == T0 + 2000


def test_completions_that_are_refused() -> None:
    book = live_book()
    book.assign(tid(0), C1, DISPATCHER, DISPATCHERS, T0)
    at: dict[str, int] = {"done_ms": T0 + 5, "now_ms": T0 + 5, "tolerance_ms": 0}
    for proof in (b"", b"x" * 31, "x" * 32):
        call = partial(book.complete, tid(0), C1, proof=proof, **at)  # type: ignore[arg-type]
        refused(book, call, "bad_proof")
    refused(
        book,
        lambda: book.complete(
            tid(0), C1, done_ms=T0 + 5, proof=PROOF, now_ms=T0 + 5, tolerance_ms=-1
        ),
        "bad_tolerance",
    )
    refused(book, partial(book.complete, tid(0), C2, proof=PROOF, **at), "not_your_task")
    _complete(book, 0, T0 + 5)
    error = refused(book, lambda: _complete(book, 0, T0 + 6), "bad_state")
    assert error.detail == "done -> done"


def test_a_failure_keeps_its_reason_and_its_courier() -> None:
    book = live_book()
    book.assign_delivery(OID, C1, DISPATCHER, DISPATCHERS, T0)
    refused(book, lambda: book.fail(tid(0), C1, "", T0), "bad_reason")
    refused(book, lambda: book.fail(tid(0), STRANGER, "closed", T0), "not_your_task")
    events = book.fail(tid(0), C1, "shop closed", T0 + 7)
    assert events == [("task_failed", tid(0), C1), ("task_ended", tid(0))]
    task = book.task(tid(0))
    assert (task.state, task.courier, task.failure, task.failed_ms) == (
        FAILED,
        C1,
        "shop closed",
        T0 + 7,
    )
    assert ids(book, C1) == [tid(1)]
    error = refused(book, lambda: book.fail(tid(0), C1, "again", T0), "bad_state")
    assert error.detail == "failed -> failed"
    book.start(tid(1), C1, T0 + 8)
    book.fail(tid(1), C1, "bike broke", T0 + 9)  # from doing too
    assert (book.task(tid(1)).state, book.task(tid(1)).started_ms) == (FAILED, T0 + 8)


def test_the_online_couriers_are_read_only() -> None:
    book = DeliveryBook()
    book.go_online(C1, Grid(1, 2))
    with pytest.raises(TypeError):
        book.online()[C2] = Grid(3, 3)  # type: ignore[index]
    assert dict(book.online()) == {C1: Grid(1, 2)}

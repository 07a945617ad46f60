"""The resealer's duty: every time a task comes to a courier who cannot read its address, the
dispatcher's phone reseals it to them, even a courier who held the task before.

Member 0 orders and dispatches, member 1 is the store, members 2 and 3 are couriers (as in
the conformance case).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from peoplenet.actors.work.sealed import open_sealed
from peoplenet.apps.currency import plugin as currency
from peoplenet.apps.delivery import plugin
from peoplenet.apps.delivery.conformance import place, task
from peoplenet.apps.delivery.places import address_context, read
from peoplenet.apps.delivery.records import Address, Assign, MoveTour, StoreAnswer
from peoplenet.apps.delivery.state import DeliveryState
from peoplenet.plugins.harness import AppHarness
from peoplenet.plugins.testing import COMMUNITY
from peoplenet.runtime.wire.codec import Record

O1 = bytes([1]) * 16
TASKS = (task(O1, 0), task(O1, 1))


@pytest.fixture
def h() -> Iterator[AppHarness]:
    harness = AppHarness(plugin, members=4, others=[currency])
    harness.enable_app(harness.others[0], {}, {"mint": 100_000, "to": harness.members[0].hex()})
    harness.officers["dispatcher"] = harness.members[0]
    harness.enable({"payment": "escrow"})
    try:
        yield harness
    finally:
        harness.close()


def ok(h: AppHarness, tx: Record, member: int = 0) -> None:
    result = h.submit(tx, member)
    assert result["status"] == "applied", result


def resealed(h: AppHarness) -> set[tuple[bytes, bytes]]:
    """The dispatcher's duties now, each reseal applied: (task, courier) of each."""
    done = set()
    for tx in h.duties():
        if isinstance(tx, Address):
            ok(h, tx)
            done.add((tx.task, tx.courier))
    return done


def readable_by(h: AppHarness, courier: int) -> int:
    """How many of the order's addresses ``courier`` can open from the fold."""
    s = h.state
    assert isinstance(s, DeliveryState)
    me = h.members[courier]
    count = 0
    for t in TASKS:
        held = s.fold.addresses.get(t)
        if held is not None and held[0] == me:
            context = address_context(COMMUNITY, t, me)
            plain = open_sealed(held[1], context, me, h.identities[courier].open_sealed_box)
            count += read(plain).text in ("Via Dante 1", "Via Lupetta 4")
    return count


def test_a_tour_moved_back_to_its_first_courier_is_resealed_to_them_again(
    h: AppHarness,
) -> None:
    a, b = h.members[2], h.members[3]
    ok(h, place(O1))
    ok(h, StoreAnswer(O1, "accept"), 1)
    ok(h, Assign(TASKS, a))
    assert resealed(h) == {(t, a) for t in TASKS}
    ok(h, MoveTour(a, b))  # A falls ill
    assert resealed(h) == {(t, b) for t in TASKS}
    assert readable_by(h, 3) == 2 and readable_by(h, 2) == 0
    ok(h, MoveTour(b, a))  # A is back, B falls ill
    assert resealed(h) == {(t, a) for t in TASKS}
    assert readable_by(h, 2) == 2
    s = h.state
    assert isinstance(s, DeliveryState) and s.fold.to_reseal == set()
    assert h.duties() == [] and s.nudged == set()  # nothing kept once the reseals landed


def test_a_reseal_waiting_to_be_ordered_is_not_submitted_twice(h: AppHarness) -> None:
    a = h.members[2]
    ok(h, place(O1))
    ok(h, StoreAnswer(O1, "accept"), 1)
    ok(h, Assign(TASKS, a))
    first = [tx for tx in h.duties() if isinstance(tx, Address)]
    assert {(tx.task, tx.courier) for tx in first} == {(t, a) for t in TASKS}
    assert [tx for tx in h.duties() if isinstance(tx, Address)] == []  # not yet ordered

"""The delivery fold through the real app host: whole orders, money, privacy, bad input.

Member 0 orders and dispatches, member 1 is the store, members 2 and 3 are couriers (as in
the conformance case); every refusal is checked to leave the app's snapshot unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from peoplenet.actors.work.sealed import open_sealed
from peoplenet.apps.currency import plugin as currency
from peoplenet.apps.delivery import plugin
from peoplenet.apps.delivery.conformance import (
    CUSTOMER,
    HOME,
    SHOP,
    cell,
    place,
    stops,
    task,
)
from peoplenet.apps.delivery.places import Address as Place
from peoplenet.apps.delivery.places import address_context, read, seal_address, seal_position
from peoplenet.apps.delivery.records import (
    Address,
    AnswerTask,
    Assign,
    CancelOrder,
    CompleteTask,
    CourierOnline,
    MoveTour,
    Repay,
    RestoreOrder,
    StartTask,
    StoreAnswer,
    Track,
)
from peoplenet.apps.delivery.state import DeliveryState
from peoplenet.plugins.harness import AppHarness, member_id
from peoplenet.plugins.kit import COMMUNITY_COINS, Sealed
from peoplenet.plugins.testing import COMMUNITY, START_MS
from peoplenet.runtime.wire.codec import Record, Value

O1, O2 = bytes([1]) * 16, bytes([2]) * 16
PROOF = bytes(range(32))


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


def ok(h: AppHarness, tx: Record, member: int = 0) -> dict[str, Value]:
    result = h.submit(tx, member)
    assert result["status"] == "applied", result
    return result


def refused(h: AppHarness, tx: Record, member: int, reason: str) -> None:
    before = h.snapshot()
    result = h.submit(tx, member)
    assert (result["status"], result.get("reason")) == ("rejected", reason), result
    assert h.snapshot() == before


def state(h: AppHarness) -> DeliveryState:
    s = h.state
    assert isinstance(s, DeliveryState)
    return s


def deliver(h: AppHarness, order: bytes, courier: int) -> None:
    """Accept, assign whole to ``courier``, pick up and deliver."""
    ok(h, StoreAnswer(order, "accept"), 1)
    ok(h, Assign((task(order, 0), task(order, 1)), h.members[courier]))
    for i in (0, 1):
        ok(h, StartTask(task(order, i)), courier)
        ok(h, CompleteTask(task(order, i), START_MS + 60_000 + i, PROOF), courier)


def test_an_escrow_order_pays_the_store_the_courier_and_the_treasury_exactly(
    h: AppHarness,
) -> None:
    ok(h, replace(place(O1), method="escrow"))
    fold = state(h).fold
    money = fold.pay.money(O1)
    assert money is not None and money.state == "held" and money.method == "escrow"
    paid_in = money.goods + money.price
    deliver(h, O1, 2)
    order = fold.book.order(O1)
    assert order.state == "fulfilled"
    store = fold.earned[(h.members[1], "store")]
    courier = fold.earned[(h.members[2], "courier")]
    totals = fold.pay.book.total(COMMUNITY_COINS)
    assert totals.held == 0 and totals.conserved()
    assert store + courier + totals.commission + totals.refunds == paid_in
    assert courier == (money.price * 4 + 2) // 5  # the couriers' voted share, half up


def test_a_dropoff_is_never_done_before_its_pickup(h: AppHarness) -> None:
    ok(h, place(O1))
    ok(h, StoreAnswer(O1, "accept"), 1)
    ok(h, Assign((task(O1, 0), task(O1, 1)), h.members[2]))
    ok(h, StartTask(task(O1, 1)), 2)
    refused(h, CompleteTask(task(O1, 1), START_MS + 60_000, PROOF), 2, "pickup_not_done")


def test_an_offline_completion_keeps_the_time_signed_on_the_phone(h: AppHarness) -> None:
    ok(h, place(O1))
    ok(h, StoreAnswer(O1, "accept"), 1)
    ok(h, Assign((task(O1, 0),), h.members[2]))
    ok(h, StartTask(task(O1, 0)), 2)
    signed = START_MS + 5_000  # done on the phone; the order hears of it minutes later
    h.now_ms += 10 * 60_000
    ok(h, CompleteTask(task(O1, 0), signed, PROOF), 2)
    assert state(h).fold.book.task(task(O1, 0)).done_ms == signed


def test_a_completion_signed_before_the_assignment_is_refused(h: AppHarness) -> None:
    ok(h, place(O1))
    ok(h, StoreAnswer(O1, "accept"), 1)
    ok(h, Assign((task(O1, 0),), h.members[2]))
    refused(h, CompleteTask(task(O1, 0), START_MS, PROOF), 2, "done_before_assignment")


def test_a_task_completed_by_someone_not_assigned_is_refused(h: AppHarness) -> None:
    ok(h, place(O1))
    ok(h, StoreAnswer(O1, "accept"), 1)
    ok(h, Assign((task(O1, 0),), h.members[2]))
    refused(h, CompleteTask(task(O1, 0), START_MS + 60_000, PROOF), 3, "not_your_task")


def test_a_price_with_no_matching_rule_refuses_the_order(h: AppHarness) -> None:
    nothing: dict[str, Value] = {
        "strategy": "first",
        "rules": (
            {"target": "delivery", "when": (("distance_m", ">", 10**6),), "price": {"fixed": 100}},
        ),
    }
    h.enable({"payment": "escrow"}, {"pricing": nothing})
    assert state(h).fold.rules.current == 2
    refused(h, replace(place(O1), rules_version=2), 0, "no_price_rule")


def test_a_rule_set_that_does_not_parse_changes_nothing(h: AppHarness) -> None:
    before = h.snapshot()
    bad: dict[str, Value] = {"strategy": "cheapest", "rules": ()}
    h.enable({"payment": "escrow"}, {"pricing": bad})
    assert state(h).fold.rules.current == 1
    assert h.snapshot() == before


def test_positions_go_only_to_the_task_parties_and_stop_when_it_ends(h: AppHarness) -> None:
    ok(h, place(O1))
    ok(h, StoreAnswer(O1, "accept"), 1)
    ok(h, Assign((task(O1, 0), task(O1, 1)), h.members[2]))
    refused(h, Track(task(O1, 0), _at(h, 0, 2)), 2, "task_not_active")  # not started
    ok(h, StartTask(task(O1, 0)), 2)
    # before the pickup the store sees nothing (the members' default vote): not sealed to it
    refused(h, Track(task(O1, 0), _at(h, 0, 1, 2)), 2, "sealed_to_others")
    refused(h, Track(task(O1, 0), _at(h, 0, 2, 3)), 2, "sealed_to_others")
    refused(h, Track(task(O1, 0), _at(h, 0, 3)), 3, "not_your_task")
    ok(h, Track(task(O1, 0), _at(h, 0, 2)), 2)
    refused(h, Track(task(O1, 0), _at(h, 0, 2)), 2, "too_often")
    ok(h, CompleteTask(task(O1, 0), START_MS + 60_000, PROOF), 2)
    assert task(O1, 0) not in state(h).fold.tracks
    refused(h, Track(task(O1, 0), _at(h, 0, 2)), 2, "task_not_active")
    ok(h, StartTask(task(O1, 1)), 2)
    ok(h, Track(task(O1, 1), _at(h, 0, 1, 2)), 2)  # picked up: the store may see it now


def _at(h: AppHarness, *members: int) -> Sealed:
    readers = tuple(h.members[m] for m in members)
    return seal_position(HOME, readers, COMMUNITY, task(O1, 0))


def test_the_dispatcher_reseals_a_moved_tour_to_its_new_courier(h: AppHarness) -> None:
    ok(h, place(O1))
    ok(h, StoreAnswer(O1, "accept"), 1)
    ok(h, Assign((task(O1, 0), task(O1, 1)), h.members[2]))
    ok(h, AnswerTask(task(O1, 0), True), 2)
    assert state(h).fold.to_reseal == {task(O1, 0), task(O1, 1)}
    ok(h, MoveTour(h.members[2], h.members[3]))
    fold = state(h).fold
    assert {t.courier for t in fold.book.tasks_of(O1)} == {h.members[3]}
    submitted = [tx for tx in h.duties() if isinstance(tx, Address)]
    assert {(tx.task, tx.courier) for tx in submitted} == {
        (task(O1, 0), h.members[3]),
        (task(O1, 1), h.members[3]),
    }
    for tx in submitted:
        ok(h, tx)
        context = address_context(COMMUNITY, tx.task, h.members[3])
        plain = open_sealed(tx.sealed, context, h.members[3], h.identities[3].open_sealed_box)
        assert read(plain).text in ("Via Dante 1", "Via Lupetta 4")
    assert fold.to_reseal == set()


def test_an_address_resealed_to_a_stranger_is_refused(h: AppHarness) -> None:
    ok(h, place(O1))
    ok(h, StoreAnswer(O1, "accept"), 1)
    ok(h, Assign((task(O1, 0),), h.members[2]))
    context = address_context(COMMUNITY, task(O1, 0), h.members[2])
    leaky = seal_address(Place("Via Dante 1", SHOP), (h.members[2], h.members[3]), context)
    refused(h, Address(task(O1, 0), h.members[2], leaky), 0, "sealed_to_others")
    refused(h, Address(task(O1, 0), h.members[2], leaky), 3, "not_your_order")


def test_a_customer_order_is_priced_at_the_rules_in_force_up_to_their_limit(
    h: AppHarness,
) -> None:
    cheap = replace(
        place(O2),
        rules_version=0,
        price_cents=1,
        stops=stops(O2, (CUSTOMER.member_id, h.members[1])),
    )
    refused(h, CUSTOMER.step(1, cheap), 1, "over_your_limit")
    fine = replace(cheap, price_cents=10**6)
    result = ok(h, CUSTOMER.step(1, fine), 1)
    order = state(h).fold.book.order(O2)
    assert order.customer == CUSTOMER.member_id and order.rules_version == 1
    assert state(h).fold.pay.money(O2).method == "cash"  # type: ignore[union-attr]
    told: Any = result["result"]
    events = {e["event"]: e["detail"] for e in told["customer_events"]}
    assert events == {"priced": f"{order.price_cents} 1", "step_1": "new"}


def test_a_forged_or_replayed_customer_order_is_refused(h: AppHarness) -> None:
    body = replace(place(O2), rules_version=0, price_cents=10**6)
    signed = CUSTOMER.step(1, body)
    forged = replace(signed, request=replace(signed.request, signature=bytes(64)))
    refused(h, forged, 1, "bad_customer_signature")
    ok(h, signed, 1)
    refused(h, signed, 1, "replayed")


def test_online_needs_a_member(h: AppHarness) -> None:
    ok(h, CourierOnline(cell(SHOP)), 2)
    assert h.members[2] in state(h).fold.book.online()


def test_automatic_dispatch_gives_an_accepted_order_to_the_nearest_free_courier(
    h: AppHarness,
) -> None:
    """With ``auto_assign`` voted on, no dispatcher is needed: accepting the order gives it to
    the nearest courier online; one who declines is skipped for the next."""
    h.enable({"payment": "escrow", "auto_assign": True})
    far = (cell(SHOP)[0], cell(SHOP)[1] + 2)
    ok(h, CourierOnline(far), 3)
    ok(h, CourierOnline(cell(SHOP)), 2)
    ok(h, place(O1))
    ok(h, StoreAnswer(O1, "accept"), 1)
    book = state(h).fold.book
    assert {t.courier for t in book.tasks_of(O1)} == {h.members[2]}
    ok(h, AnswerTask(task(O1, 0), False), 2)
    assert book.task(task(O1, 0)).courier == h.members[3]


def test_show_reads_an_order_before_anything_is_rated(h: AppHarness) -> None:
    ok(h, place(O1))
    shown, _ = h.command("show", {"order": O1.hex()})
    assert isinstance(shown, dict)
    assert (shown["state"], shown["ratings"], shown["money"]) == ("new", None, "due")


def test_an_order_no_courier_could_take_goes_to_the_next_courier_free(h: AppHarness) -> None:
    """Accepted while every courier is busy, an order waits; it goes out when a courier comes
    online or finishes a task -- it is not left for good."""
    h.enable({"payment": "escrow", "auto_assign": True})
    ok(h, CourierOnline(cell(SHOP)), 2)
    ok(h, place(O1))
    ok(h, StoreAnswer(O1, "accept"), 1)  # member 2 takes O1
    ok(h, place(O2))
    ok(h, StoreAnswer(O2, "accept"), 1)  # nobody free: O2 waits
    fold = state(h).fold
    assert fold.waiting == {O2}
    assert {t.courier for t in fold.book.tasks_of(O2)} == {b""}
    ok(h, CourierOnline(cell(SHOP)), 3)  # a courier comes online: O2 is theirs
    assert {t.courier for t in fold.book.tasks_of(O2)} == {h.members[3]}
    assert fold.waiting == set()


def test_restoring_an_order_whose_cancellation_could_not_pay_keeps_its_money_held(
    h: AppHarness,
) -> None:
    """Found by the fold's state machine: the courier who did the pickup left, so the
    cancellation could not pay them and the money stayed held; a restore then restored the
    book and was refused by the money (``not_cancelled``), leaving the book changed."""
    h.enable({"payment": "escrow", "cancel_fee_cents": 100})
    ok(h, replace(place(O1), method="escrow"))
    ok(h, StoreAnswer(O1, "accept"), 1)
    ok(h, StoreAnswer(O1, "preparing"), 1)
    ok(h, Assign((task(O1, 0),), h.members[3]))
    ok(h, StartTask(task(O1, 0)), 3)
    ok(h, CompleteTask(task(O1, 0), START_MS + 60_000, PROOF), 3)
    h.members = h.members[:3]  # the courier leaves the cooperative
    ok(h, CancelOrder(O1, "sold out"))
    fold = state(h).fold
    assert fold.money_stuck[O1].startswith("unknown_account")
    ok(h, RestoreOrder(O1))
    money = fold.pay.money(O1)
    assert money is not None and (money.state, money.round) == ("held", 0)
    assert fold.book.order(O1).state == "accepted" and O1 not in fold.money_stuck
    h.members = (*h.members, member_id(3))  # back: the order is delivered and paid once
    ok(h, Assign((task(O1, 1),), h.members[2]))
    ok(h, StartTask(task(O1, 1)), 2)
    ok(h, CompleteTask(task(O1, 1), START_MS + 60_000 + 1, PROOF), 2)
    totals = fold.pay.book.total(COMMUNITY_COINS)
    assert money.state == "paid" and totals.held == 0 and totals.conserved()


def test_a_pay_rule_that_does_not_parse_refuses_the_last_completion_changing_nothing(
    h: AppHarness,
) -> None:
    """Found by the fold's state machine: with a voted ``pay_rule`` that is no rule, the last
    completion (and a cancellation) marked the order fulfilled (cancelled), then was refused
    for the pay rule: the order ended with its money never paid and nothing recorded."""
    ok(h, replace(place(O1), method="escrow"))
    ok(h, StoreAnswer(O1, "accept"), 1)
    ok(h, Assign((task(O1, 0), task(O1, 1)), h.members[2]))
    ok(h, StartTask(task(O1, 0)), 2)
    ok(h, CompleteTask(task(O1, 0), START_MS + 60_000, PROOF), 2)
    ok(h, StartTask(task(O1, 1)), 2)
    h.enable({"payment": "escrow", "pay_rule": "fast"})
    refused(h, CompleteTask(task(O1, 1), START_MS + 60_001, PROOF), 2, "bad_pay_rule")
    refused(h, CancelOrder(O1, "sold out"), 1, "bad_pay_rule")
    h.enable({"payment": "escrow", "pay_rule": "equal"})  # the members vote it again
    ok(h, CompleteTask(task(O1, 1), START_MS + 60_002, PROOF), 2)
    money = state(h).fold.pay.money(O1)
    assert money is not None and money.state == "paid"


def test_a_member_who_carries_their_own_cash_order_pays_the_store_at_the_door(
    h: AppHarness,
) -> None:
    """Found by the fold's state machine: a courier who ordered in cash and carried the order
    themselves was named its collector (the last dropoff's courier), which the payment refuses
    (``bad_collector``): the money was left stuck.  The store collects instead."""
    ok(h, place(O1))  # cash, member 0 orders from member 1's shop
    deliver(h, O1, 0)
    fold = state(h).fold
    money = fold.pay.money(O1)
    assert money is not None and money.state == "paid" and O1 not in fold.money_stuck
    job = fold.pay.book.jobs[O1 + bytes([0])]
    assert job.payee == h.members[1]  # the store collected
    assert fold.earned[(h.members[1], "store")] == money.goods * 9 // 10  # commission 1/10
    assert fold.pay.debt(h.members[1]) == job.commission


def test_a_customer_is_told_when_their_cancelled_order_is_restored(h: AppHarness) -> None:
    """Found checking the fold's state machine's invariant (C): a customer who is not a member
    stopped hearing of an order once it was cancelled, so a restore (and the delivery after
    it) went untold."""
    body = replace(
        place(O2),
        rules_version=0,
        price_cents=10**6,
        stops=stops(O2, (CUSTOMER.member_id, h.members[1])),
    )
    ok(h, CUSTOMER.step(1, body), 1)
    ok(h, StoreAnswer(O2, "accept"), 1)
    ok(h, CancelOrder(O2, "sold out"), 1)
    told: Any = ok(h, RestoreOrder(O2))["result"]
    events = {e["event"]: e["detail"] for e in told.get("customer_events", ())}
    assert events == {"step_4": "accepted"}


def test_a_courier_who_left_the_cooperative_is_not_given_tasks_automatically(
    h: AppHarness,
) -> None:
    """Found by the fold's state machine: automatic dispatch gave an order to a courier still
    online who had left the cooperative (a dispatcher's Assign to them is refused)."""
    h.enable({"payment": "escrow", "auto_assign": True})
    ok(h, CourierOnline(cell(SHOP)), 3)
    h.members = h.members[:3]  # member 3 leaves, their phone still online
    ok(h, place(O1))
    ok(h, StoreAnswer(O1, "accept"), 1)
    fold = state(h).fold
    assert {t.courier for t in fold.book.tasks_of(O1)} == {b""}
    assert member_id(3) not in fold.book.online()


def test_a_restored_coin_order_is_paid_again_by_its_customer_then_fulfilled(
    h: AppHarness,
) -> None:
    ok(h, replace(place(O1), method="escrow"))
    ok(h, StoreAnswer(O1, "accept"), 1)
    ok(h, CancelOrder(O1, "sold out"), 1)
    ok(h, RestoreOrder(O1))
    fold = state(h).fold
    money = fold.pay.money(O1)
    assert money is not None and money.state == "unpaid"
    refused(h, Repay(O1), 2, "not_your_order")
    answer, submitted = h.command("repay", {"order": O1.hex()})
    assert submitted == [Repay(O1)] and isinstance(answer, dict)
    amount = answer["amount"]
    assert isinstance(amount, int) and amount > 0
    ok(h, Repay(O1))
    assert money.state == "held"
    ok(h, Assign((task(O1, 0), task(O1, 1)), h.members[2]))
    for i in (0, 1):
        ok(h, StartTask(task(O1, i)), 2)
        ok(h, CompleteTask(task(O1, i), START_MS + 60_000 + i, PROOF), 2)
    assert money.state == "paid" and O1 not in fold.money_stuck
    refused(h, Repay(O1), 0, "not_unpaid")

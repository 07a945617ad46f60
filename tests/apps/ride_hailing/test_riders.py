"""Riders who are not members: the fold takes a customer's signed step, judged as the
customer's (never the carrier's), once, and tells them each change of their ride."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from peoplenet.apps.ride_hailing.conformance import Customer, forged
from peoplenet.apps.ride_hailing.records import (
    Accept,
    Arrive,
    AskRide,
    Cancel,
    Complete,
    CustomerRide,
    DriverOnline,
    Hold,
    Rate,
    RideTx,
    Start,
)
from peoplenet.apps.ride_hailing.trips import code_hash
from peoplenet.plugins.kit import sign_request
from tests.apps.ride_hailing.world import (
    AWAY,
    CODE,
    COMMUNITY,
    HOME,
    MEMBERS,
    World,
    member,
    ride_id,
)

D1, D2, CARRIER = member(1), member(2), member(5)
R = ride_id(0)


class Rider(Customer):
    """A customer of :data:`COMMUNITY` (the world's), numbering their requests."""

    def __init__(self, seed: bytes = b"rider".ljust(32, b".")) -> None:
        super().__init__(seed)
        self.seq = 0

    def signs(self, step: RideTx | AskRide, seq: int | None = None) -> CustomerRide:
        self.seq = self.seq + 1 if seq is None else seq
        return CustomerRide(sign_request(self, COMMUNITY, "ride_hailing", self.seq, step))


def ask(w: World) -> AskRide:
    req = w.request(R, member(0))
    return AskRide(R, HOME, AWAY, None, req.estimate_m, code_hash(R, CODE))


def requested(w: World, rider: Rider) -> Any:
    w.apply(DriverOnline(HOME), D1)
    w.apply(DriverOnline((HOME[0], HOME[1] + 1)), D2)
    result = w.apply(rider.signs(ask(w)), CARRIER)
    assert isinstance(result, dict)
    return result


def test_a_customer_rides_and_is_told_each_step_with_the_quote_of_the_rules_in_force() -> None:
    w, rider = World(), Rider()
    result = requested(w, rider)
    ride = w.book.rides[R]
    assert ride.rider == rider.member_id  # the customer's, not the carrier's
    expected = w.request(R, member(0))
    assert (ride.request.quote_low, ride.request.quote_high) == (
        expected.quote_low,
        expected.quote_high,
    )
    events = {e["event"]: e["detail"] for e in result["customer_events"]}
    assert events == {
        "quoted": f"{expected.quote_low} {expected.quote_high} 1 EUR",
        "step_1": "offered",
    }
    told: Any = w.apply(Accept(R), D1)
    assert isinstance(told, dict)
    (event,) = told["customer_events"]
    assert (event["request"], event["event"], event["detail"]) == (
        ride.customer_request,
        "step_2",
        f"assigned {D1.hex()} 1",
    )
    w.apply(Arrive(R), D1)
    w.apply(Start(R, CODE), D1)
    fare = w.book.fare_of(ride, 3000, 600, w.env()).total
    done: Any = w.apply(Complete(R, 3000, 600, fare), D1)
    assert isinstance(done, dict)
    assert done["customer_events"][0]["detail"] == f"completed {fare} {ride.commission}"
    assert ride.paid and w.book.pay.debt(D1) == ride.commission  # cash
    w.apply(rider.signs(Rate(R, 5)), D2)  # any member's node may carry it
    assert w.book.customers.last_seq(rider.member_id) == 2


def test_a_forged_customer_signature_is_refused_and_changes_nothing() -> None:
    w, rider = World(), Rider()
    requested(w, rider)
    assert w.refused(forged(rider.signs(Cancel(R))), CARRIER) == "bad_customer_signature"
    other = Rider(b"someone else".ljust(32, b"."))
    stolen = other.signs(Cancel(R))  # a stranger's own signature over their own request
    assert w.refused(stolen, CARRIER) == "not_a_party"
    swapped = CustomerRide(replace(stolen.request, customer=rider.member_id))
    assert w.refused(swapped, CARRIER) == "bad_customer_signature"


def test_a_replayed_request_is_refused_whoever_carries_it() -> None:
    w, rider = World(), Rider()
    requested(w, rider)
    cancel = rider.signs(Cancel(R))
    w.apply(cancel, CARRIER)
    assert w.book.rides[R].state == "cancelled"
    assert w.refused(cancel, D2) == "replayed"
    assert w.refused(rider.signs(Cancel(R), seq=1), CARRIER) == "replayed"


def test_a_customer_signs_only_a_riders_steps_and_never_sits_on_a_jury() -> None:
    w, rider = World(), Rider()
    requested(w, rider)
    assert w.refused(rider.signs(Accept(R)), CARRIER) == "not_a_rider_step"
    assert w.refused(rider.signs(Hold(R)), CARRIER) == "not_a_rider_step"
    assert rider.member_id not in MEMBERS  # juries are drawn from the members only


def test_a_stranger_cannot_rate_and_a_driver_not_offered_cannot_accept() -> None:
    w, rider = World(), Rider()
    requested(w, rider)
    assert w.refused(Accept(R), D2) == "not_offered"
    w.apply(Accept(R), D1)
    w.apply(Arrive(R), D1)
    assert w.refused(Complete(R, 3000, 600, 1000), D1) == "not_started"
    w.apply(Start(R, CODE), D1)
    ride = w.book.rides[R]
    far = w.book.fare_of(ride, ride.request.estimate_m * 5, 7200, w.env()).total
    assert w.refused(Complete(R, ride.request.estimate_m * 5, 7200, far), D1) == "needs_consent"
    fare = w.book.fare_of(ride, 3000, 600, w.env()).total
    w.apply(Complete(R, 3000, 600, fare), D1)
    stranger = Rider(b"stranger".ljust(32, b"."))
    assert w.refused(stranger.signs(Rate(R, 1)), CARRIER) == "not_a_party"


def test_under_escrow_a_customer_rides_in_cash_with_no_hold() -> None:
    w, rider = World({"payment": "escrow"}, coins={member(0): 10_000}), Rider()
    requested(w, rider)
    w.apply(Accept(R), D1)
    w.apply(Arrive(R), D1)
    w.apply(Start(R, CODE), D1)  # no hold needed: a customer holds no coins
    ride = w.book.rides[R]
    fare = w.book.fare_of(ride, 3000, 600, w.env()).total
    w.apply(Complete(R, 3000, 600, fare), D1)
    assert ride.paid and not ride.pending
    assert w.book.pay.book.held() == 0 and w.book.pay.debt(D1) == ride.commission

"""The trip state machine: each transition, and each refusal with its reason (book unchanged)."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import pytest

from peoplenet.apps.ride_hailing import matching
from peoplenet.apps.ride_hailing.payment import Payments
from peoplenet.apps.ride_hailing.policy import Env
from peoplenet.apps.ride_hailing.records import (
    Accept,
    AgreeFare,
    Arrive,
    Cancel,
    Complete,
    Decline,
    Dispute,
    DriverOffline,
    DriverOnline,
    Expire,
    Position,
    Rate,
    Rule,
    Start,
)
from peoplenet.plugins.api import AppTxRejected
from peoplenet.plugins.kit import RulesBook
from tests.apps.ride_hailing.world import AWAY, CODE, HOME, MEMBERS, World, member, ride_id

RIDER, D1, D2, D3, OTHER = (member(i) for i in range(5))
R = ride_id(0)


def online(w: World, *drivers: bytes) -> None:
    for i, d in enumerate(drivers):
        w.apply(DriverOnline((HOME[0], HOME[1] + i)), d)


def assigned(w: World) -> None:
    """D1 (nearest) and D2 online; RIDER requests R; D1 accepts."""
    online(w, D1, D2)
    w.apply(w.request(R, RIDER), RIDER)
    w.apply(Accept(R), D1)


def started(w: World) -> None:
    assigned(w)
    w.apply(Arrive(R), D1)
    w.apply(Start(R, CODE), D1)


def fare_for(w: World, metres: int, seconds: int) -> int:
    return w.book.fare_of(w.book.rides[R], metres, seconds, w.env()).total


def completed(w: World) -> int:
    started(w)
    total = fare_for(w, 3000, 600)
    w.apply(Complete(R, 3000, 600, total), D1)
    return total


# -- the happy path ---------------------------------------------------------------------------


def test_a_whole_ride_is_offered_nearest_first_assigned_and_paid_once_in_cash() -> None:
    w = World()
    total = completed(w)
    ride = w.book.rides[R]
    assert ride.state == "completed" and ride.driver == D1 and ride.paid
    assert [o.outcome for o in ride.matching.offers] == ["accepted"]
    assert ride.commission == (total + 5) // 10  # 1/10, half up
    assert w.book.pay.debt(D1) == ride.commission
    assert RIDER not in w.book.riding and D1 not in w.book.driving


def test_the_breakdown_sums_to_the_fare_and_waiting_is_charged_after_the_free_minutes() -> None:
    w = World({"free_wait_minutes": 1, "waiting_cents_per_min": 60})
    assigned(w)
    w.apply(Arrive(R), D1)
    w.tick(150_000)  # the rider comes out after 2.5 minutes
    w.apply(Start(R, CODE), D1)
    breakdown = w.book.fare_of(w.book.rides[R], 1000, 60, w.env())
    assert breakdown.term("waiting") == 91  # (151 - 60) s at 1 cent a second
    assert sum(v for _, v in breakdown.terms) == breakdown.total


# -- refusals --------------------------------------------------------------------------------


def test_driver_availability_refusals() -> None:
    w = World()
    assert w.refused(DriverOffline(), D1) == "not_online"
    assert w.refused(Position(HOME), D1) == "not_online"
    w.apply(DriverOnline(HOME), D1)
    assert w.refused(DriverOnline(AWAY), D1) == "already_online"
    assert w.refused(Position(HOME), D1) == "same_cell"
    w.apply(w.request(R, RIDER), RIDER)
    w.apply(Accept(R), D1)
    assert w.refused(DriverOffline(), D1) == "on_trip"


def test_request_refusals() -> None:
    w = World()
    online(w, D1)
    good = w.request(R, RIDER)
    w.apply(good, RIDER)
    assert w.refused(good, OTHER) == "ride_exists"
    assert w.refused(w.request(ride_id(1), RIDER), RIDER) == "rider_busy"
    w.apply(Accept(R), D1)
    assert w.refused(w.request(ride_id(1), D1), D1) == "driver_busy"
    fresh = w.request(ride_id(2), OTHER)
    assert w.refused(replace(fresh, rules_version=2), OTHER) == "stale_rules"
    assert w.refused(replace(fresh, estimate_m=99_999), OTHER) == "bad_estimate"
    assert w.refused(replace(fresh, quote_low=1, quote_high=2), OTHER) == "bad_quote"


def test_only_the_offered_driver_may_answer_and_only_in_time() -> None:
    w = World({"offer_timeout_ms": 10_000})
    online(w, D1, D2)
    w.apply(w.request(R, RIDER), RIDER)
    assert w.refused(Accept(R), D2) == "not_offered"
    assert w.refused(Decline(R), RIDER) == "not_offered"
    assert w.refused(Accept(ride_id(9)), D1) == "unknown_ride"
    w.tick(10_000)
    assert w.refused(Accept(R), D1) == "offer_expired"  # due: refused before time moves it
    w.apply(Expire(R), OTHER)  # the ordered nudge passes it on
    assert w.refused(Accept(R), D1) == "offer_expired"
    w.apply(Accept(R), D2)
    assert w.refused(Accept(R), D1) == "offer_expired"
    assert w.refused(Accept(R), D3) == "not_open"


def test_trip_steps_refused_to_the_wrong_party_or_in_the_wrong_state() -> None:
    w = World()
    assigned(w)
    assert w.refused(Arrive(R), D2) == "not_the_driver"
    assert w.refused(Arrive(R), RIDER) == "not_the_driver"
    assert w.refused(Start(R, CODE), D1) == "not_arrived"
    assert w.refused(Complete(R, 1, 1, 1), D1) == "not_started"
    w.apply(Arrive(R), D1)
    assert w.refused(Arrive(R), D1) == "not_assigned"
    assert w.refused(Start(R, "GUESS"), D1) == "bad_code"
    assert w.refused(AgreeFare(R, 100), D1) == "not_the_rider"
    w.apply(Start(R, CODE), D1)
    assert w.refused(Cancel(R), RIDER) == "already_started"
    assert w.refused(Cancel(R), OTHER) == "not_a_party"
    right = fare_for(w, 3000, 600)
    assert w.refused(Complete(R, 3000, 600, right + 1), D1) == "fare_mismatch"
    assert w.refused(Complete(R, 3000, 600, right), D2) == "not_the_driver"


def test_a_fare_outside_the_quote_needs_the_riders_consent() -> None:
    w = World()
    started(w)
    ride = w.book.rides[R]
    metres = ride.request.estimate_m * 3  # a long detour
    total = fare_for(w, metres, 3600)
    assert total > ride.request.quote_high
    assert w.refused(Complete(R, metres, 3600, total), D1) == "needs_consent"
    w.apply(AgreeFare(R, total - 1), RIDER)
    assert w.refused(Complete(R, metres, 3600, total), D1) == "needs_consent"
    w.apply(AgreeFare(R, total), RIDER)
    w.apply(Complete(R, metres, 3600, total), D1)
    assert w.book.rides[R].fare == total


def test_agreeing_a_fare_needs_a_ride_on_its_way() -> None:
    w = World()
    online(w, D1)
    w.apply(w.request(R, RIDER), RIDER)
    assert w.refused(AgreeFare(R, 100), RIDER) == "wrong_state"


def test_ratings_and_disputes_after_the_ride() -> None:
    early = World()
    assigned(early)
    assert early.refused(Rate(R, 5), RIDER) == "not_completed"
    assert early.refused(Dispute(R, ""), RIDER) == "not_completed"
    w = World({"rating_window_ms": 60_000, "dispute_window_ms": 120_000})
    completed(w)
    assert w.refused(Rate(R, 5), OTHER) == "not_a_party"
    assert w.refused(Rate(R, 0), RIDER) == "bad_score"
    assert w.refused(Rate(R, 6), D1) == "bad_score"
    w.apply(Rate(R, 5), RIDER)
    assert w.refused(Rate(R, 4), RIDER) == "already_rated"
    w.tick(60_000)
    assert w.refused(Rate(R, 4), D1) == "rating_window_closed"
    assert w.refused(Dispute(R, ""), OTHER) == "not_a_party"
    w.apply(Dispute(R, "detour"), D1)
    assert w.book.rides[R].state == "disputed"
    assert w.refused(Dispute(R, ""), RIDER) == "already_disputed"
    assert w.refused(Cancel(R), RIDER) == "ride_closed"


def test_a_dispute_after_its_window_is_refused() -> None:
    w = World({"dispute_window_ms": 60_000})
    completed(w)
    w.tick(60_000)
    assert w.refused(Dispute(R, ""), RIDER) == "dispute_window_closed"


def test_unknown_rules_version_and_double_settlement_are_refused() -> None:
    with pytest.raises(AppTxRejected) as caught:
        RulesBook().get(1)
    assert caught.value.reason == "unknown_rules_version"
    pay, step = Payments("ride_hailing"), World().env()
    pay.settle_fare(R, RIDER, D1, 1000, Fraction(1, 10), "EUR", step)
    with pytest.raises(AppTxRejected) as again:
        pay.settle_fare(R, RIDER, D1, 1000, Fraction(1, 10), "EUR", step)
    assert again.value.reason == "already_settled"
    assert pay.debt(D1) == 100


# -- matching and cancellations ---------------------------------------------------------------


def test_decline_expiry_and_going_offline_pass_the_offer_on_until_unmatched() -> None:
    w = World({"offer_timeout_ms": 5000})
    online(w, D1, D2, D3)
    w.apply(w.request(R, RIDER), RIDER)
    log = w.book.rides[R].matching
    assert log.candidates == [D1, D2, D3]  # by ring: D1 in the pickup's cell, then ring 1
    w.apply(Decline(R), D1)
    w.tick(5000)
    w.book.advance(w.env())  # the clock hook
    w.apply(DriverOffline(), D3)
    assert [o.outcome for o in log.offers] == ["declined", "expired", "withdrawn"]
    assert w.book.rides[R].state == "cancelled"
    assert w.book.rides[R].cancelled_by == "unmatched"
    assert RIDER not in w.book.riding and not w.book.holding


def test_busy_drivers_are_skipped_and_the_skip_is_recorded() -> None:
    w = World()
    online(w, D1, D2)
    w.apply(w.request(R, RIDER), RIDER)  # D1 holds R's offer
    w.apply(w.request(ride_id(1), OTHER), OTHER)
    other = w.book.rides[ride_id(1)].matching
    assert [(o.driver, o.outcome, o.note) for o in other.offers] == [
        (D1, matching.SKIPPED, "holding_offer"),
        (D2, matching.PENDING, ""),
    ]


def test_rings_bound_the_search() -> None:
    w = World({"max_rings": 1})
    w.apply(DriverOnline((HOME[0] + 2, HOME[1])), D1)  # ring 2: too far
    w.apply(w.request(R, RIDER), RIDER)
    assert w.book.rides[R].state == "cancelled"
    assert w.book.rides[R].matching.candidates == []


def test_a_driver_cancelling_sends_the_ride_back_to_matching_a_bounded_number_of_times() -> None:
    w = World({"max_reoffers": 1})
    online(w, D1, D2, D3)
    w.apply(w.request(R, RIDER), RIDER)
    w.apply(Accept(R), D1)
    w.apply(Cancel(R), D1)
    ride = w.book.rides[R]
    assert ride.state == "offered" and ride.driver == b"" and D1 not in w.book.driving
    pending = ride.matching.pending()
    assert pending is not None and pending.driver == D2
    w.apply(Accept(R), D2)
    w.apply(Cancel(R), D2)  # the one re-offer is used up
    assert ride.state == "cancelled" and ride.cancelled_by == "driver"
    assert not ride.paid


def test_a_rider_cancelling_late_owes_the_voted_fee_in_cash() -> None:
    w = World({"cancel_free_ms": 10_000, "cancel_fee_cents": 300})
    assigned(w)
    w.tick(10_000)
    w.apply(Cancel(R), RIDER)
    ride = w.book.rides[R]
    assert (ride.state, ride.cancelled_by, ride.fare, ride.paid) == (
        "cancelled",
        "rider",
        300,
        True,
    )
    assert w.book.pay.debt(D1) == 30


def test_a_rider_cancelling_early_pays_nothing_and_the_offer_is_withdrawn() -> None:
    w = World()
    online(w, D1)
    w.apply(w.request(R, RIDER), RIDER)
    w.apply(Cancel(R), RIDER)
    ride = w.book.rides[R]
    assert ride.fare is None and not ride.paid and not w.book.holding
    assert ride.matching.offers[-1].outcome == "withdrawn"
    assert w.refused(Accept(R), D1) == "not_open"


# -- ratings and juries (the work kit's books) ------------------------------------------------


def test_ratings_are_blind_until_both_rated() -> None:
    w = World()
    completed(w)
    w.apply(Rate(R, 4), RIDER)
    assert w.book.ratings.visible(R, w.now) is None
    w.apply(Rate(R, 5), D1)
    assert w.book.ratings.visible(R, w.now) == {RIDER: 4, D1: 5}


def test_a_dispute_seats_a_jury_drawn_from_the_non_parties_whose_majority_rules() -> None:
    w = World({"jury_size": 3, "jury_answer_ms": 60_000})
    total = completed(w)
    w.apply(Dispute(R, "the long way round"), RIDER)
    jury = w.book.disputes.jury(R)
    assert len(jury) == 3 and not {RIDER, D1} & set(jury)
    outsider = next(m for m in MEMBERS if m not in (*jury, RIDER, D1))
    assert w.refused(Rule(R, "customer"), outsider) == "not_a_juror"
    assert w.refused(Rule(R, "half"), jury[0]) == "bad_ruling"
    w.apply(Rule(R, "split:1/4"), jury[0])
    assert w.book.rides[R].ruling == ""
    assert w.refused(Rule(R, "worker"), jury[0]) == "already_ruled"
    w.apply(Rule(R, "split:1/4"), jury[1])
    ride = w.book.rides[R]
    assert ride.ruling == "split:1/4" and ride.refund == (total + 2) // 4


def test_a_juror_who_does_not_answer_in_time_is_replaced_by_the_next_draw() -> None:
    w = World({"jury_size": 2, "jury_answer_ms": 60_000})
    completed(w)
    w.apply(Dispute(R, ""), D1)
    first = w.book.disputes.jury(R)
    w.apply(Rule(R, "worker"), first[0])
    w.tick(60_000)
    assert w.refused(Rule(R, "worker"), first[1]) == "not_a_juror"  # replaced as of now
    w.book.advance(w.env())
    now = w.book.disputes.jury(R)
    assert first[0] in now and first[1] not in now and len(now) == 2
    assert len(w.book.disputes.draws(R)) == 2  # the audit trail keeps both draws


def test_a_dispute_needs_enough_jurors_and_an_ordered_beacon() -> None:
    w = World({"jury_size": 7})
    completed(w)
    assert w.refused(Dispute(R, ""), RIDER) == "not_enough_jurors"  # 8 members, 2 parties
    env = w.env()
    blind = Env(env.now_ms, env.policy, env.rules, env.commission, env.members, b"")
    with pytest.raises(AppTxRejected) as caught:
        w.book.check(Dispute(R, ""), RIDER, blind)
    assert caught.value.reason == "no_beacon"


def test_the_check_judges_as_of_its_time_like_the_apply() -> None:
    """An offer due at the transaction's time is passed on before it is judged, by the check
    (on a copy) as by the apply: the two never disagree, and the check changes nothing."""
    w = World({"offer_timeout_ms": 5000})
    online(w, D1)
    w.apply(w.request(R, RIDER), RIDER)
    w.tick(5000)  # D1's offer is due: the ride is unmatched as of the next transaction
    assert w.refused(Cancel(R), RIDER) == "ride_closed"
    assert w.book.rides[R].state == "offered"  # the check changed nothing
    with pytest.raises(AppTxRejected) as caught:
        w.apply(Cancel(R), RIDER)
    assert caught.value.reason == "ride_closed"

"""Rides paid from the rider's cooperative coins held in escrow, beside the real currency app."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from peoplenet.apps.currency import plugin as currency
from peoplenet.apps.currency.plugin import CurrencyState
from peoplenet.apps.ride_hailing import plugin
from peoplenet.apps.ride_hailing.conformance import CODE, R1, request
from peoplenet.apps.ride_hailing.records import (
    Accept,
    Arrive,
    Cancel,
    Complete,
    Dispute,
    DriverOnline,
    Hold,
    Release,
    Rule,
    SettleDebt,
    Start,
)
from peoplenet.plugins.kit import escrow_account, treasury_account
from peoplenet.plugins.testing import COMMUNITY, AppHarness

COINS = 100_000
WINDOW = 7 * 86_400_000


@pytest.fixture
def h() -> Iterator[AppHarness]:
    with AppHarness(plugin, members=4, others=[currency]) as harness:
        harness.enable_app("currency", {}, {"mint": COINS, "to": harness.members[0].hex()})
        harness.enable({"payment": "escrow"})
        for member, cell in ((1, (4546, 919)), (2, (4546, 920))):
            assert harness.submit(DriverOnline(cell), member=member)["status"] == "applied"
        yield harness
        assert harness.problems() == []


def balance(h: AppHarness, account: bytes) -> int:
    state = h.host.instances["currency"].state
    assert isinstance(state, CurrencyState)
    return state.cooperative.balance(account)


def applied(h: AppHarness, tx: Any, member: int = 0) -> None:
    result = h.submit(tx, member=member)
    assert result["status"] == "applied", result


def assigned(h: AppHarness) -> None:
    applied(h, request(R1))
    applied(h, Accept(R1), member=1)


def test_the_riders_phone_holds_the_quote_and_the_trip_starts_only_then(h: AppHarness) -> None:
    assigned(h)
    quote_high = request(R1).quote_high
    applied(h, Arrive(R1), member=1)
    assert h.submit(Start(R1, CODE), member=1)["reason"] == "not_held"
    assert h.duties() == [Hold(R1)]  # the rider's phone, once
    assert h.duties() == []
    applied(h, Hold(R1))
    assert balance(h, h.members[0]) == COINS - quote_high
    assert balance(h, escrow_account(COMMUNITY, "ride_hailing")) == quote_high
    applied(h, Start(R1, CODE), member=1)

    state = h.state
    assert isinstance(state, plugin.RideState)
    ride = state.book.rides[R1]
    fare = state.book.fare_of(ride, 3600, 540, plugin._env(state, h.context("ride_hailing")))
    applied(h, Complete(R1, 3600, 540, fare.total), member=1)
    # the fare stays held, pending for the driver, until the dispute window closes
    assert (ride.paid, ride.pending) == (False, fare.total)
    assert balance(h, escrow_account(COMMUNITY, "ride_hailing")) == quote_high
    assert h.submit(SettleDebt(1), member=1)["reason"] == "no_debt"
    h.now_ms = ride.finished_ms + WINDOW - 2000
    applied(h, Release(R1), member=3)  # anyone's nudge: not due yet, nothing moves
    assert ride.pending == fare.total
    h.now_ms += 1000
    applied(h, Release(R1), member=3)  # the first ordered moment past the window pays
    commission = (fare.total + 5) // 10  # the harness's commission rate is 1/10
    assert (ride.paid, ride.commission, ride.returned) == (
        True,
        commission,
        quote_high - fare.total,
    )
    assert balance(h, h.members[0]) == COINS - fare.total
    assert balance(h, h.members[1]) == fare.total - commission
    assert balance(h, treasury_account(COMMUNITY)) == commission
    assert balance(h, escrow_account(COMMUNITY, "ride_hailing")) == 0
    assert state.book.pay.book.conserved()
    history: Any = h.command("history")[0]
    (row,) = history
    assert row["currency"] == "community" and row["paid"] is True


def test_a_cancelled_ride_gives_the_hold_back(h: AppHarness) -> None:
    assigned(h)
    applied(h, Hold(R1))
    applied(h, Cancel(R1))  # early: no fee
    assert balance(h, h.members[0]) == COINS
    assert balance(h, escrow_account(COMMUNITY, "ride_hailing")) == 0


def test_a_driver_cancelling_returns_the_hold_and_the_next_round_is_held_anew(
    h: AppHarness,
) -> None:
    assigned(h)
    applied(h, Hold(R1))
    applied(h, Cancel(R1), member=1)
    assert balance(h, h.members[0]) == COINS
    applied(h, Accept(R1), member=2)  # offered to the next driver
    assert h.duties() == [Hold(R1)]
    applied(h, Hold(R1))
    assert balance(h, h.members[0]) == COINS - request(R1).quote_high


def test_holds_are_refused_in_words(h: AppHarness) -> None:
    applied(h, request(R1))
    assert h.submit(Hold(R1))["reason"] == "wrong_state"  # no driver yet
    applied(h, Accept(R1), member=1)
    assert h.submit(Hold(R1), member=1)["reason"] == "not_the_rider"
    applied(h, Hold(R1))
    assert h.submit(Hold(R1))["reason"] == "already_held"


def test_a_rider_without_coins_cannot_hold(h: AppHarness) -> None:
    applied(h, request(R1), member=3)
    applied(h, Accept(R1), member=1)
    assert h.submit(Hold(R1), member=3)["reason"] == "insufficient_funds"


def test_under_cash_payment_there_is_nothing_to_hold() -> None:
    with AppHarness(plugin, members=3) as h:
        h.enable({})
        applied(h, DriverOnline((4546, 919)), member=1)
        applied(h, request(R1))
        applied(h, Accept(R1), member=1)
        assert h.submit(Hold(R1))["reason"] == "not_escrow"
        assert h.duties() == []


def completed(h: AppHarness) -> tuple[plugin.RideState, int]:
    """R1 held, driven by member 1 and completed: the state and the fare."""
    assigned(h)
    applied(h, Hold(R1))
    applied(h, Arrive(R1), member=1)
    applied(h, Start(R1, CODE), member=1)
    state = h.state
    assert isinstance(state, plugin.RideState)
    ride = state.book.rides[R1]
    fare = state.book.fare_of(ride, 3600, 540, plugin._env(state, h.context("ride_hailing")))
    applied(h, Complete(R1, 3600, 540, fare.total), member=1)
    return state, fare.total


def test_a_dispute_keeps_the_fare_held_and_the_ruling_splits_it(h: AppHarness) -> None:
    h.enable({"payment": "escrow", "jury_size": 1})
    state, fare = completed(h)
    ride = state.book.rides[R1]
    applied(h, Dispute(R1, "the long way round"))
    h.now_ms = ride.finished_ms + WINDOW + 1000  # the window closed: a dispute holds on
    applied(h, Release(R1), member=2)
    assert ride.pending == fare and not ride.paid
    (juror,) = state.book.disputes.jury(R1)
    applied(h, Rule(R1, "split:1/4"), member=h.members.index(juror))
    refund = (fare + 2) // 4  # a quarter of the fare, half up
    commission = (fare - refund + 5) // 10
    quote_high = request(R1).quote_high
    assert (ride.paid, ride.pending, ride.refund) == (True, 0, refund)
    assert balance(h, h.members[0]) == COINS - fare + refund
    assert balance(h, h.members[1]) == fare - refund - commission
    assert balance(h, treasury_account(COMMUNITY)) == commission
    assert balance(h, escrow_account(COMMUNITY, "ride_hailing")) == 0
    assert ride.returned == quote_high - fare + refund
    assert state.book.pay.book.conserved()


def test_a_driver_settles_the_commission_owed_on_cash_fares_in_coins() -> None:
    with AppHarness(plugin, members=3, others=[currency]) as h:
        h.enable_app("currency", {}, {"mint": COINS, "to": h.members[1].hex()})
        h.enable({})  # cash
        applied(h, DriverOnline((4546, 919)), member=1)
        applied(h, request(R1))
        applied(h, Accept(R1), member=1)
        applied(h, Arrive(R1), member=1)
        applied(h, Start(R1, CODE), member=1)
        state = h.state
        assert isinstance(state, plugin.RideState)
        ride = state.book.rides[R1]
        fare = state.book.fare_of(ride, 3600, 540, plugin._env(state, h.context("ride_hailing")))
        applied(h, Complete(R1, 3600, 540, fare.total), member=1)
        owed = state.book.pay.debt(h.members[1])
        assert owed == ride.commission > 1
        before = h.snapshot()
        assert h.submit(SettleDebt(owed + 1), member=1)["reason"] == "over_settle"
        assert h.submit(SettleDebt(1), member=2)["reason"] == "no_debt"
        assert h.snapshot() == before
        applied(h, SettleDebt(1), member=1)
        assert state.book.pay.debt(h.members[1]) == owed - 1
        applied(h, SettleDebt(owed - 1), member=1)
        assert state.book.pay.debt(h.members[1]) == 0
        assert balance(h, treasury_account(COMMUNITY)) == owed
        assert balance(h, h.members[1]) == COINS - owed
        assert state.book.pay.book.conserved()

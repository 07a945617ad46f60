"""The app through the real host (AppHarness): commands, duties and the clock, as on a node."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from peoplenet.actors.work.sealed import open_sealed
from peoplenet.apps.ride_hailing import plugin
from peoplenet.apps.ride_hailing.conformance import CODE, R1, request
from peoplenet.apps.ride_hailing.places import Places, details_context, seal_details
from peoplenet.apps.ride_hailing.records import (
    Accept,
    Arrive,
    Complete,
    Details,
    Dispute,
    DriverOnline,
    Expire,
    JuryDetails,
    RequestRide,
    Start,
)
from peoplenet.plugins.api import AppCommandError
from peoplenet.plugins.kit import geo
from peoplenet.plugins.testing import COMMUNITY, AppHarness

NAME = "ride_hailing"
FROM, TO = "45.4642,9.19", "45.4781,9.2270"
HISTORY_KEYS = {"ride", "rider", "driver", "state", "fare", "paid", "commission", "currency"}


@pytest.fixture
def h() -> Iterator[AppHarness]:
    with AppHarness(plugin, members=4) as harness:
        harness.enable({"offer_timeout_ms": 20_000, "currency": "CHF"})
        assert harness.submit(DriverOnline((4546, 919)), member=1)["status"] == "applied"
        assert harness.submit(DriverOnline((4547, 920)), member=2)["status"] == "applied"
        yield harness
        assert harness.problems() == []


def state(h: AppHarness) -> plugin.RideState:
    found = h.state
    assert isinstance(found, plugin.RideState)
    return found


def ask(h: AppHarness, op: str, args: dict[str, Any] | None = None) -> Any:
    """Member 0's command's answer, as JSON-like data (what it submitted is left aside)."""
    answer, _ = h.command(op, args)
    return answer


def requested(h: AppHarness) -> tuple[dict[str, Any], RequestRide]:
    answer: Any
    answer, submitted = h.command("request", {"from": FROM, "to": TO})
    assert isinstance(answer, dict)
    (tx,) = submitted
    assert isinstance(tx, RequestRide)
    assert h.submit(tx)["status"] == "applied"
    return answer, tx


def test_request_answers_the_ride_and_its_quote_and_nothing_else(h: AppHarness) -> None:
    answer, tx = requested(h)
    assert answer == {
        "ride": tx.ride.hex(),
        "quote_low": tx.quote_low,
        "quote_high": tx.quote_high,
        "currency": "CHF",
    }
    assert 0 < tx.quote_low < tx.quote_high
    assert tx.sealed is not None  # the exact places travel sealed to the rider alone
    assert [k.recipient for k in tx.sealed.keys] == [h.members[0]]


def test_a_whole_ride_by_commands_and_the_history_rows(h: AppHarness) -> None:
    _, tx = requested(h)
    ride = tx.ride.hex()
    code = ask(h, "show", {"ride": ride[:8]})[
        "code"
    ]  # the rider's phone keeps the code; the fold only its hash
    assert isinstance(code, str) and len(code) == plugin.CODE_LEN
    assert h.submit(Accept(tx.ride), member=1)["status"] == "applied"
    assert h.submit(Arrive(tx.ride), member=1)["status"] == "applied"
    assert h.submit(Start(tx.ride, code), member=1)["status"] == "applied"
    (row,) = ask(h, "history")
    assert set(row) == HISTORY_KEYS
    assert row["state"] == "started" and row["fare"] is None and row["paid"] is False
    book = state(h).book
    fare = book.fare_of(book.rides[tx.ride], 3500, 600, plugin._env(state(h), h.context(NAME)))
    assert h.submit(Complete(tx.ride, 3500, 600, fare.total), member=1)["status"] == "applied"
    (row,) = ask(h, "history")
    assert row["state"] == "completed" and row["paid"] is True and row["fare"] == fare.total
    assert row["commission"] == (fare.total + 5) // 10 and row["currency"] == "CHF"


def test_the_driver_works_by_commands_and_completes_at_the_fare_the_rules_give() -> None:
    with AppHarness(plugin, members=2) as h:
        h.enable({})
        run(h, "online", {"at": FROM})  # member 0 drives
        assert ask(h, "position", {"at": FROM}) == {"cell": (4546, 919), "sent": False}
        tx = request(R1)
        assert h.submit(tx, member=1)["status"] == "applied"  # member 1 rides
        assert ask(h, "offers")["offers"][0]["ride"] == R1.hex()
        for op, args in (("accept", {}), ("arrive", {}), ("start", {"code": CODE.lower()})):
            run(h, op, {"ride": R1.hex(), **args})
        answer = run(h, "complete", {"ride": R1.hex(), "metres": 3500, "seconds": 600})
        total = answer["fare"]["total"]
        assert state(h).book.rides[R1].fare == total
        assert ask(h, "earnings") == {
            "rides": 1,
            "fares": total,
            "commission": (total + 5) // 10,
            "net": total - (total + 5) // 10,
            "owed_to_cooperative": (total + 5) // 10,
            "refunds_ruled": 0,
            "pending": 0,
            "rating": None,
            "ratings": 0,
            "currency": "EUR",
        }
        assert h.problems() == []


def run(h: AppHarness, op: str, args: dict[str, Any]) -> Any:
    """Member 0 runs ``op``; the transaction it submitted is ordered and applies."""
    answer, submitted = h.command(op, args)
    for tx in submitted:
        result = h.submit(tx)
        assert result["status"] == "applied", result
    return answer


def test_commands_refuse_in_words(h: AppHarness) -> None:
    with pytest.raises(AppCommandError) as bad:
        h.command("request", {"from": "north pole", "to": TO})
    assert bad.value.reason == "bad_point"
    with pytest.raises(AppCommandError) as missing:
        h.command("request", {"to": TO})
    assert missing.value.reason == "bad_argument"
    with pytest.raises(AppCommandError) as unknown:
        h.command("show", {"ride": "abcdef12"})
    assert unknown.value.reason == "unknown_ride"
    requested(h)
    with pytest.raises(AppCommandError) as busy:
        h.command("request", {"from": FROM, "to": TO})
    assert busy.value.reason == "rider_busy"


def test_the_riders_phone_nudges_time_once_when_the_offer_is_due(h: AppHarness) -> None:
    _, tx = requested(h)
    assert h.duties() == []
    h.now_ms += 20_000
    assert h.duties() == [Expire(tx.ride)]
    assert h.duties() == []  # once per offer
    assert h.submit(Expire(tx.ride), member=3)["status"] == "applied"
    offers = state(h).book.rides[tx.ride].matching.offers
    assert [o.outcome for o in offers] == ["expired", "pending"]


def test_the_clock_passes_a_due_offer_on(h: AppHarness) -> None:
    _, tx = requested(h)
    h.now_ms += 20_000
    h.host.clock()  # community time moved: peoplenet_clock
    pending = state(h).book.rides[tx.ride].matching.pending()
    assert pending is not None and pending.driver == h.members[2]
    assert len(ask(h, "offers", {"ride": tx.ride.hex()})["offers"]["offers"]) == 2


def test_a_change_of_the_fare_rules_is_a_new_version_and_old_quotes_go_stale(
    h: AppHarness,
) -> None:
    _, submitted = h.command("request", {"from": FROM, "to": TO})
    h.enable({"offer_timeout_ms": 20_000, "currency": "CHF", "per_km_cents": 200})
    (tx,) = submitted
    assert h.submit(tx)["reason"] == "stale_rules"
    assert state(h).rules.current == 2


def test_the_places_and_code_are_sealed_and_the_assigned_driver_gets_the_places(
    h: AppHarness,
) -> None:
    _, tx = requested(h)
    assert tx.sealed is not None and [k.recipient for k in tx.sealed.keys] == [h.members[0]]
    code = ask(h, "show", {"ride": tx.ride.hex()})["code"]
    state(h).places.clear()  # the phone restarted: reopened from the request
    shown = ask(h, "show", {"ride": tx.ride.hex()})
    assert shown["code"] == code and shown["pickup_at"] == "45.464200,9.190000"
    assert h.submit(Accept(tx.ride), member=1)["status"] == "applied"
    (details,) = h.duties()
    assert isinstance(details, Details)
    assert [k.recipient for k in details.sealed.keys] == sorted(h.members[:2])
    assert h.submit(details)["status"] == "applied"
    assert h.duties() == []
    assert h.submit(details, member=1)["reason"] == "not_the_rider"


def test_the_driver_opens_the_places_sealed_to_them() -> None:
    with AppHarness(plugin, members=3) as h:
        h.enable({})
        h.submit(DriverOnline((4546, 919)))  # member 0 drives, member 1 rides
        tx = request(R1)
        assert h.submit(tx, member=1)["status"] == "applied"
        assert h.submit(Accept(R1))["status"] == "applied"
        ride = state(h).book.rides[R1]
        where = Places(geo.parse_point(FROM), geo.parse_point(TO))
        wrong = seal_details(COMMUNITY, ride.job, (h.members[1], h.members[2]), where)
        assert h.submit(Details(R1, wrong), member=1)["reason"] == "bad_recipients"
        right = seal_details(COMMUNITY, ride.job, ride.parties(), where)
        assert h.submit(Details(R1, right), member=1)["status"] == "applied"
        shown = ask(h, "show", {"ride": R1.hex()})
        assert (shown["pickup_at"], shown["dropoff_at"]) == (
            where.pickup.text(),
            where.dropoff.text(),
        )
        assert "code" not in shown
        assert h.problems() == []


def test_the_inbox_lists_offers_to_me_and_disputes_awaiting_my_ruling() -> None:
    with AppHarness(plugin, members=3) as h:
        h.enable({"jury_size": 1})
        assert ask(h, "inbox") == ()
        h.submit(DriverOnline((4546, 919)))  # member 0 drives, member 1 rides
        assert h.submit(request(R1), member=1)["status"] == "applied"
        (offer,) = ask(h, "inbox")
        assert (offer["kind"], offer["ride"]) == ("offer", R1.hex())
        assert h.problems() == []


def test_a_juror_finds_the_dispute_in_the_inbox_and_rules_by_command() -> None:
    with AppHarness(plugin, members=3) as h:
        h.enable({"jury_size": 1})
        for tx, member in (
            (DriverOnline((4546, 919)), 2),
            (request(R1), 1),
            (Accept(R1), 2),
            (Arrive(R1), 2),
            (Start(R1, CODE), 2),
        ):
            assert h.submit(tx, member=member)["status"] == "applied", tx
        book = state(h).book
        fare = book.fare_of(book.rides[R1], 3600, 540, plugin._env(state(h), h.context(NAME)))
        assert h.submit(Complete(R1, 3600, 540, fare.total), member=2)["status"] == "applied"
        assert h.submit(Dispute(R1, "detour"), member=1)["status"] == "applied"
        assert ask(h, "inbox") == ({"kind": "jury", "ride": R1.hex()},)  # member 0: the jury
        run(h, "rule", {"ride": R1.hex(), "ruling": "customer"})
        assert ask(h, "inbox") == ()
        shown = ask(h, "show", {"ride": R1.hex()})
        assert shown["dispute"]["ruling"] == "customer"
        assert shown["dispute"]["refund"] == fare.total
        assert h.problems() == []


def test_the_drivers_phone_reseals_the_places_to_the_jury_drawn() -> None:
    """A juror judges a detour only if they see where the ride went: once a dispute draws a
    jury, the driver's duty reseals the places to the parties and the jurors, and nobody else
    may be among the recipients."""
    with AppHarness(plugin, members=3) as h:
        h.enable({"jury_size": 1})
        h.submit(DriverOnline((4546, 919)))  # member 0 drives, member 1 rides, 2 may judge
        assert h.submit(request(R1), member=1)["status"] == "applied"
        assert h.submit(Accept(R1))["status"] == "applied"
        ride = state(h).book.rides[R1]
        where = Places(geo.parse_point(FROM), geo.parse_point(TO))
        to_both = seal_details(COMMUNITY, ride.job, ride.parties(), where)
        assert h.submit(Details(R1, to_both), member=1)["status"] == "applied"
        assert h.submit(Arrive(R1))["status"] == "applied"
        assert h.submit(Start(R1, CODE))["status"] == "applied"
        book = state(h).book
        fare = book.fare_of(book.rides[R1], 3600, 540, plugin._env(state(h), h.context(NAME)))
        assert h.submit(Complete(R1, 3600, 540, fare.total))["status"] == "applied"
        assert h.submit(Dispute(R1, "detour"), member=1)["status"] == "applied"
        assert book.disputes.jury(R1) == (h.members[2],)
        (resealed,) = [tx for tx in h.duties() if isinstance(tx, JuryDetails)]
        assert [k.recipient for k in resealed.sealed.keys] == sorted(h.members)
        leaky = seal_details(COMMUNITY, ride.job, ride.parties(), where)  # the jury left out
        assert h.submit(JuryDetails(R1, leaky))["reason"] == "bad_recipients"
        assert h.submit(resealed, member=1)["reason"] == "not_the_driver"
        assert h.submit(resealed)["status"] == "applied"
        assert h.duties() == []  # once per jury
        context = details_context(COMMUNITY, ride.job)
        juror = h.identities[2]
        plain = open_sealed(resealed.sealed, context, h.members[2], juror.open_sealed_box)
        assert plain == Places(where.pickup, where.dropoff).plaintext()
        assert h.problems() == []


def test_a_phone_forgets_the_nudges_of_closed_rides() -> None:
    """One nudge key per ride and step must not pile up on a phone for good."""
    s = plugin.RideState(COMMUNITY)
    s.nudged = {(bytes([n % 256, n // 256]) * 8, 1) for n in range(plugin.FORGET_ABOVE + 10)}
    open_ride = bytes([7, 0]) * 8
    s.book.riding[b"r" * 32] = open_ride
    plugin._forget_closed(s)
    assert s.nudged == {(open_ride, 1)}

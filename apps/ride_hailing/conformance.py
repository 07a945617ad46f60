"""The ride-hailing app's conformance case: one whole ride, and every refusal of the fold.

Test support, not loaded by the node (it imports :mod:`peoplenet.plugins.testing`).  Member 1
and member 2 drive; member 0 (the node's own member) rides, paying in the cooperative's coins
(the currency app is enabled first and mints them to member 0): member 1, nearest, declines;
member 2 takes the ride, member 0's phone holds the fare in escrow, member 2 arrives, starts
the trip with the rider's code and completes it at the fare the rules give (the escrow pays
the driver, the treasury and the rider's change); both rate; the rider disputes and member 1,
the only member who is not a party, is the jury.  Member 1 then requests a ride and cancels
it.  Then each bad transaction is refused with its reason, and the node's commands run
(going online, moving, going offline, reading the ride).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from peoplenet.apps.ride_hailing import plugin
from peoplenet.apps.ride_hailing.fare import FARE_PARAMS, FareRules, fare, quote
from peoplenet.apps.ride_hailing.places import Places, seal_details
from peoplenet.apps.ride_hailing.records import (
    Accept,
    AgreeFare,
    Arrive,
    AskRide,
    Cancel,
    Cell,
    Complete,
    CustomerRide,
    Decline,
    Details,
    Dispute,
    DriverOffline,
    DriverOnline,
    Expire,
    Hold,
    JuryDetails,
    Position,
    Rate,
    Release,
    RequestRide,
    RideTx,
    Rule,
    SettleDebt,
    Start,
)
from peoplenet.apps.ride_hailing.trips import code_hash
from peoplenet.plugins.kit import geo, sign_request
from peoplenet.plugins.testing import (
    COMMUNITY,
    START_MS,
    By,
    ConformanceCase,
    CustomerKey,
    OtherApp,
    member_id,
)

PICKUP: Final = geo.parse_point("45.464200,9.190000")
DROPOFF: Final = geo.parse_point("45.478100,9.227000")
R1: Final = bytes(range(1, 17))
R2: Final = bytes(range(2, 18))
R3: Final = bytes(range(3, 19))
R4: Final = bytes(range(4, 20))
CODE: Final = "K7WQ2MZP9A"
WHERE: Final = Places(PICKUP, DROPOFF)
M0, M1, M2 = member_id(0), member_id(1), member_id(2)


TO_PARTIES: Final = seal_details(COMMUNITY, R1, (M0, M2), WHERE)


def cell(point: geo.Point) -> Cell:
    g = geo.cell_of(point)
    return (g.row, g.col)


def rules() -> FareRules:
    return FareRules.from_settings({p.name: p.default for p in FARE_PARAMS})


def request(ride: bytes, *, version: int = 1, estimate: int | None = None) -> RequestRide:
    """A request from :data:`PICKUP` to :data:`DROPOFF` quoted by the default rules."""
    metres = geo.distance_m(PICKUP, DROPOFF) if estimate is None else estimate
    low, high = quote(rules(), metres)
    return RequestRide(
        ride, cell(PICKUP), cell(DROPOFF), None, metres, low, high, version, code_hash(ride, CODE)
    )


DEFAULT_SEED: Final = b"customer".ljust(32, b".")


class Customer(CustomerKey):
    """A customer who is not a member (test support: a fixed seed)."""

    def __init__(self, seed: bytes = DEFAULT_SEED) -> None:
        super().__init__(seed)

    def ride(self, seq: int, step: RideTx | AskRide) -> CustomerRide:
        """``step`` signed as this customer's request number ``seq``, as a node carries it."""
        return CustomerRide(sign_request(self, COMMUNITY, plugin.NAME, seq, step))


CUSTOMER: Final = Customer()


def forged(tx: CustomerRide) -> CustomerRide:
    """``tx`` with its customer's signature replaced by zeros."""
    return CustomerRide(replace(tx.request, signature=bytes(64)))


def ask(ride: bytes) -> AskRide:
    """A customer's request from :data:`PICKUP` to :data:`DROPOFF` (the fold quotes it)."""
    metres = geo.distance_m(PICKUP, DROPOFF)
    return AskRide(ride, cell(PICKUP), cell(DROPOFF), None, metres, code_hash(ride, CODE))


def trip_fare(metres: int, seconds: int) -> int:
    """The fare of a trip started a few seconds after the kit's start (waiting under free)."""
    return fare(rules(), metres, seconds, 0, START_MS + 10_000).total


def conformance_case(funds_provider: object) -> ConformanceCase:
    """The ride-hailing app's case for :func:`peoplenet.plugins.testing.check_app`.

    ``funds_provider``: the plugin of an app that provides the cooperative's coins (the bundled
    currency; apps never import each other, so the test hands it over)."""
    near, next_ring, moved = cell(PICKUP), (cell(PICKUP)[0], cell(PICKUP)[1] + 1), (4547, 920)
    metres, seconds = 3600, 540
    good = request(R1)
    return ConformanceCase(
        plugin,
        good_txs=[
            By(1, DriverOnline(near)),
            By(2, DriverOnline(next_ring)),
            By(2, Position(moved)),
            good,
            By(1, Decline(R1)),  # member 1 is in the pickup's cell: offered first
            By(2, Accept(R1)),
            Hold(R1),  # the rider's phone holds the top of the quote in escrow
            Details(R1, seal_details(COMMUNITY, R1 + b"\x01", (M0, M2), WHERE)),
            By(2, Arrive(R1)),
            AgreeFare(R1, 5000),
            By(2, Start(R1, CODE)),
            By(2, Complete(R1, metres, seconds, trip_fare(metres, seconds))),
            Rate(R1, 5),
            By(2, Rate(R1, 4)),
            Dispute(R1, "the long way round"),
            By(2, JuryDetails(R1, seal_details(COMMUNITY, R1 + b"\x01", (M0, M1, M2), WHERE))),
            By(1, Rule(R1, "split:1/4")),  # the only member not a party: the jury of one
            By(1, request(R2)),  # member 1 rides now: offered to member 2
            By(1, Cancel(R2)),
            Expire(R2),
            By(1, DriverOffline()),
            # a customer (not a member) rides with member 2, in cash whatever the vote
            By(1, CUSTOMER.ride(1, ask(R4))),  # member 1's node carries it
            By(2, Accept(R4)),
            CUSTOMER.ride(2, AgreeFare(R4, 9000)),
            By(2, Arrive(R4)),
            By(2, Start(R4, CODE)),
            By(2, Complete(R4, metres, seconds, trip_fare(metres, seconds))),
            CUSTOMER.ride(3, Rate(R4, 5)),
            By(2, SettleDebt(1)),  # a part of the commission owed on that cash fare
            Release(R1),  # a nudge: R1's fare was already split by the jury
        ],
        bad_txs=[
            (good, "ride_exists"),
            (request(R3, version=7), "stale_rules"),
            (request(R3, estimate=10), "bad_estimate"),
            (replace(request(R3), quote_low=1, quote_high=2), "bad_quote"),
            (By(2, Accept(R2)), "not_open"),
            (By(2, Accept(R3)), "unknown_ride"),
            (By(2, Arrive(R2)), "not_the_driver"),
            (By(1, Rate(R1, 3)), "not_a_party"),
            (Rule(R1, "worker"), "not_a_juror"),
            (By(1, Rule(R1, "worker")), "already_ruled"),
            (By(1, Rule(R2, "worker")), "no_such_dispute"),
            (Rate(R1, 9), "bad_score"),
            (Rate(R1, 5), "already_rated"),
            (Dispute(R1, ""), "already_disputed"),
            (By(2, Cancel(R1)), "ride_closed"),
            (By(2, AgreeFare(R1, 1)), "not_the_rider"),
            (By(1, Hold(R1)), "not_the_rider"),
            (Hold(R1), "wrong_state"),
            (Details(R1, seal_details(COMMUNITY, R1, (M0, M2), WHERE)), "wrong_state"),
            (By(1, Position(near)), "not_online"),
            (By(2, Position(moved)), "same_cell"),
            (By(2, DriverOnline(near)), "already_online"),
            (By(1, DriverOffline()), "not_online"),
            (CUSTOMER.ride(3, Rate(R4, 4)), "replayed"),
            (CUSTOMER.ride(4, Hold(R4)), "not_a_rider_step"),
            (CUSTOMER.ride(4, Rate(R4, 4)), "already_rated"),
            (forged(CUSTOMER.ride(4, Cancel(R4))), "bad_customer_signature"),
            (By(2, SettleDebt(10**6)), "over_settle"),
            (
                By(2, JuryDetails(R1, seal_details(COMMUNITY, R1, (M0, M2), WHERE))),
                "no_open_dispute",
            ),
            (JuryDetails(R1, seal_details(COMMUNITY, R1, (M0, M2), WHERE)), "not_the_driver"),
            (SettleDebt(1), "no_debt"),
        ],
        commands={
            "online": {"at": "45.4642,9.19"},
            "position": {"at": "45.4700,9.20"},
            "offers": {"ride": R1.hex()},
            "show": {"ride": R1.hex()[:8]},
            "history": {},
            "earnings": {},
            "offline": {},
        },
        members=3,
        settings={"jury_size": 1, "payment": "escrow"},
        others=[OtherApp(funds_provider, action={"mint": 100_000, "to": M0.hex()})],
        source="peoplenet.apps.ride_hailing.plugin",
    )


__all__ = ["CODE", "DROPOFF", "PICKUP", "cell", "conformance_case", "request", "trip_fare"]

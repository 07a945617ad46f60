"""The ride-hailing app's transactions on the cooperative's ordered lace, wire tags 300-321.

A ride is named by a 16-byte id the rider's node draws at random (shown as 32 hex digits).
Cells are ``(row, col)`` on the kit's grid (:mod:`peoplenet.actors.work.geo`): a driver's
phone publishes its cell, never its exact place, and only when the cell changes (phones pay
for data).  Money is integer cents; distances whole metres; durations whole seconds.

:class:`AskRide` is no transaction of its own: it travels only inside a customer's signed
request (:class:`CustomerRide`).

Field checks raise :class:`RemoteProtocolError` ``bad_payload``, so a malformed record fails
decoding and never reaches the fold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from peoplenet.plugins.api import Record, RemoteProtocolError, wire_type
from peoplenet.plugins.kit import CustomerRequest, Sealed, valid_cell

RIDE_LEN: Final = 16
CODE_HASH_LEN: Final = 32
MAX_CENTS: Final = 10**9
"""Most cents one fare, quote or agreed price may be (ten million in the currency)."""
MAX_METRES: Final = 10**7
"""Longest trip: 10,000 km."""
MAX_SECONDS: Final = 7 * 86_400
"""Longest trip: a week."""
MAX_CODE: Final = 64
MAX_REASON: Final = 280

Cell = tuple[int, int]


def _bad(detail: str) -> RemoteProtocolError:
    return RemoteProtocolError("bad_payload", detail)


def _ride(ride: bytes) -> None:
    if len(ride) != RIDE_LEN:
        raise _bad(f"a ride id is {RIDE_LEN} bytes")


def _cell(cell: Cell, name: str) -> None:
    if not valid_cell(*cell):
        raise _bad(f"{name} {cell} is not a cell on Earth")


def _range(value: int, low: int, high: int, name: str) -> None:
    if not low <= value <= high:
        raise _bad(f"{name} must be in {low}..{high}")


@wire_type(300)
@dataclass(frozen=True, slots=True)
class DriverOnline(Record):
    """The sender drives now, waiting in ``cell``."""

    cell: Cell

    def __post_init__(self) -> None:
        _cell(self.cell, "cell")


@wire_type(301)
@dataclass(frozen=True, slots=True)
class DriverOffline(Record):
    """The sender stops taking rides (a pending offer to them goes to the next driver)."""


@wire_type(302)
@dataclass(frozen=True, slots=True)
class Position(Record):
    """An online driver moved to another cell (sent only when the cell changes)."""

    cell: Cell

    def __post_init__(self) -> None:
        _cell(self.cell, "cell")


@wire_type(303)
@dataclass(frozen=True, slots=True)
class RequestRide(Record):
    """The sender asks for a ride from ``pickup`` to ``dropoff``.

    ``sealed`` carries the exact points and the start code, sealed to the rider alone (their
    phone reopens it after a restart, and reseals the points to the assigned driver);
    ``estimate_m`` is the straight line between them, which the fold checks against the two
    cells; the quote is what the rider saw, under rules ``rules_version``; ``code_hash`` is
    BLAKE2b-256(ride || code) of the one-time code the rider tells the driver at pickup.
    """

    ride: bytes
    pickup: Cell
    dropoff: Cell
    sealed: Sealed | None
    estimate_m: int
    quote_low: int
    quote_high: int
    rules_version: int
    code_hash: bytes

    def __post_init__(self) -> None:
        _ride(self.ride)
        _cell(self.pickup, "pickup")
        _cell(self.dropoff, "dropoff")
        _range(self.estimate_m, 0, MAX_METRES, "estimate_m")
        _range(self.quote_low, 0, MAX_CENTS, "quote_low")
        _range(self.quote_high, self.quote_low, MAX_CENTS, "quote_high")
        _range(self.rules_version, 1, 2**31, "rules_version")
        if len(self.code_hash) != CODE_HASH_LEN:
            raise _bad(f"code_hash is {CODE_HASH_LEN} bytes")


@wire_type(304)
@dataclass(frozen=True, slots=True)
class Accept(Record):
    """The driver offered ``ride`` takes it."""

    ride: bytes

    def __post_init__(self) -> None:
        _ride(self.ride)


@wire_type(305)
@dataclass(frozen=True, slots=True)
class Decline(Record):
    """The driver offered ``ride`` passes; the offer goes to the next driver."""

    ride: bytes

    def __post_init__(self) -> None:
        _ride(self.ride)


@wire_type(306)
@dataclass(frozen=True, slots=True)
class Arrive(Record):
    """The assigned driver is at the pickup point (waiting time counts from here)."""

    ride: bytes

    def __post_init__(self) -> None:
        _ride(self.ride)


@wire_type(307)
@dataclass(frozen=True, slots=True)
class Start(Record):
    """The driver starts the trip, revealing the rider's one-time ``code``."""

    ride: bytes
    code: str

    def __post_init__(self) -> None:
        _ride(self.ride)
        if not 0 < len(self.code) <= MAX_CODE:
            raise _bad(f"code is 1..{MAX_CODE} characters")


@wire_type(308)
@dataclass(frozen=True, slots=True)
class Complete(Record):
    """The driver ends the trip: metres and seconds driven, and the fare they make."""

    ride: bytes
    metres: int
    seconds: int
    fare: int

    def __post_init__(self) -> None:
        _ride(self.ride)
        _range(self.metres, 0, MAX_METRES, "metres")
        _range(self.seconds, 0, MAX_SECONDS, "seconds")
        _range(self.fare, 0, MAX_CENTS, "fare")


@wire_type(309)
@dataclass(frozen=True, slots=True)
class AgreeFare(Record):
    """The rider consents to pay up to ``fare`` though it is outside the quote (a detour)."""

    ride: bytes
    fare: int

    def __post_init__(self) -> None:
        _ride(self.ride)
        _range(self.fare, 0, MAX_CENTS, "fare")


@wire_type(310)
@dataclass(frozen=True, slots=True)
class Cancel(Record):
    """The rider or the assigned driver calls the ride off (the voted fee rule applies)."""

    ride: bytes

    def __post_init__(self) -> None:
        _ride(self.ride)


@wire_type(311)
@dataclass(frozen=True, slots=True)
class Rate(Record):
    """A party of a completed ride rates the other, 1 to 5 (double-blind)."""

    ride: bytes
    score: int

    def __post_init__(self) -> None:
        _ride(self.ride)


@wire_type(312)
@dataclass(frozen=True, slots=True)
class Dispute(Record):
    """A party contests a completed ride (the fare, the route...), within the voted window."""

    ride: bytes
    reason: str

    def __post_init__(self) -> None:
        _ride(self.ride)
        if len(self.reason) > MAX_REASON:
            raise _bad(f"reason is at most {MAX_REASON} characters")


@wire_type(313)
@dataclass(frozen=True, slots=True)
class Expire(Record):
    """Anyone notes that ``ride``'s pending offer is past its deadline.

    It only moves community time: the fold passes the offer on by itself at the first ordered
    transaction past the deadline; a quiet cooperative needs one such transaction.
    """

    ride: bytes

    def __post_init__(self) -> None:
        _ride(self.ride)


@wire_type(314)
@dataclass(frozen=True, slots=True)
class Rule(Record):
    """A juror drawn for ``ride``'s dispute rules: ``worker``, ``customer`` or ``split:n/d``
    (the rider's share of the fare back)."""

    ride: bytes
    ruling: str

    def __post_init__(self) -> None:
        _ride(self.ride)
        if len(self.ruling) > MAX_CODE:
            raise _bad(f"a ruling is at most {MAX_CODE} characters")


@wire_type(315)
@dataclass(frozen=True, slots=True)
class Hold(Record):
    """The rider's phone holds the top of the quote in escrow for the assigned driver."""

    ride: bytes

    def __post_init__(self) -> None:
        _ride(self.ride)


@wire_type(316)
@dataclass(frozen=True, slots=True)
class Details(Record):
    """The rider's phone seals the exact pickup and drop-off to the rider and the assigned
    driver (the fold sees only who can open it)."""

    ride: bytes
    sealed: Sealed

    def __post_init__(self) -> None:
        _ride(self.ride)


@wire_type(317)
@dataclass(frozen=True, slots=True)
class AskRide(Record):
    """A customer's ride request (the body of their signed request): a :class:`RequestRide`
    without the quote, which the fold computes from the rules in force when it is ordered (a
    customer does not hold the voted rules; the quote comes back receipted, ``quoted``)."""

    ride: bytes
    pickup: Cell
    dropoff: Cell
    sealed: Sealed | None
    estimate_m: int
    code_hash: bytes

    def __post_init__(self) -> None:
        _ride(self.ride)
        _cell(self.pickup, "pickup")
        _cell(self.dropoff, "dropoff")
        _range(self.estimate_m, 0, MAX_METRES, "estimate_m")
        if len(self.code_hash) != CODE_HASH_LEN:
            raise _bad(f"code_hash is {CODE_HASH_LEN} bytes")


@wire_type(318)
@dataclass(frozen=True, slots=True)
class CustomerRide(Record):
    """A member's node carries a customer's signed ``request``; its body is the rider's own
    step (:class:`AskRide`, :class:`Cancel`, :class:`AgreeFare`, :class:`Rate`,
    :class:`Dispute`, :class:`Details`), judged as from the customer, never the carrier."""

    request: CustomerRequest


@wire_type(319)
@dataclass(frozen=True, slots=True)
class Release(Record):
    """Anyone notes that ``ride``'s dispute window closed: its held fare goes to the driver.

    Like :class:`Expire`, it only brings an ordered moment: the fold releases every fare due
    at the first ordered transaction past the window by itself."""

    ride: bytes

    def __post_init__(self) -> None:
        _ride(self.ride)


@wire_type(320)
@dataclass(frozen=True, slots=True)
class SettleDebt(Record):
    """A driver pays ``amount`` of the commission owed on cash fares, in cooperative coins
    (one coin a cent), from their own account to the treasury."""

    amount: int

    def __post_init__(self) -> None:
        _range(self.amount, 1, MAX_CENTS, "amount")


@wire_type(321)
@dataclass(frozen=True, slots=True)
class JuryDetails(Record):
    """The driver's phone reseals the ride's exact places to its parties and the jury drawn
    for its dispute (jurors judge a detour only if they see where the ride went)."""

    ride: bytes
    sealed: Sealed

    def __post_init__(self) -> None:
        _ride(self.ride)


TX_TYPES: Final = (
    DriverOnline,
    DriverOffline,
    Position,
    RequestRide,
    Accept,
    Decline,
    Arrive,
    Start,
    Complete,
    AgreeFare,
    Cancel,
    Rate,
    Dispute,
    Expire,
    Rule,
    Hold,
    Details,
    CustomerRide,
    Release,
    SettleDebt,
    JuryDetails,
)
RideTx = (
    DriverOnline
    | DriverOffline
    | Position
    | RequestRide
    | Accept
    | Decline
    | Arrive
    | Start
    | Complete
    | AgreeFare
    | Cancel
    | Rate
    | Dispute
    | Expire
    | Rule
    | Hold
    | Details
    | CustomerRide
    | Release
    | SettleDebt
    | JuryDetails
)

__all__ = [
    "RIDE_LEN",
    "TX_TYPES",
    "Accept",
    "AgreeFare",
    "Arrive",
    "AskRide",
    "Cancel",
    "Cell",
    "Complete",
    "CustomerRide",
    "Decline",
    "Details",
    "Dispute",
    "DriverOffline",
    "DriverOnline",
    "Expire",
    "Hold",
    "JuryDetails",
    "Position",
    "Rate",
    "Release",
    "RequestRide",
    "RideTx",
    "Rule",
    "SettleDebt",
    "Start",
]

"""The people of the simulated city: riders who ask for rides, drivers who answer them.

:class:`City` is one simulator node playing everyone's fingers.  A driver's tap reaches their
own phone (:data:`~.phones.OWN`, not network traffic); a rider is a customer, not a member, so
the rider's phone signs each request with the rider's own key and sends it over the network
to a driver's phone, which carries it into consensus (:data:`~.phones.CARRIED`, counted).

What the people do is scripted and seeded (``sim.rng_for("city")``): riders ask at uniform
random times from a random point to another in the grid; an offered driver accepts, declines
or lets the offer lapse (then the rider's phone submits ``Expire``, as the app's duty does);
an assigned driver drives to the pickup at the city's speed, arrives, starts with the rider's
code, drives the trip (the straight line times a detour), completes at the fare the voted
rules give, reports the drop-off cell, and both parties may rate.  Some riders cancel before
the trip starts.  They all read the fold (:class:`~.replica.Replica`) as their phones would.
The exact places and the start code stay on the rider's phone: the request carries only the
cells, the estimate, the quote and the code's hash (its sealed field is left out); once a
driver is assigned, the rider's phone seals the exact places to the rider and that driver (the
app's own sealing) and sends them to the driver's phone directly, not through the order.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Final

from peoplenet.apps.ride_hailing.fare import FareRules, quote
from peoplenet.apps.ride_hailing.places import Places, seal_details
from peoplenet.apps.ride_hailing.records import (
    Accept,
    Arrive,
    Cancel,
    Complete,
    Decline,
    DriverOnline,
    Expire,
    Position,
    Rate,
    RequestRide,
    Start,
)
from peoplenet.apps.ride_hailing.trips import ARRIVED, ASSIGNED, COMPLETED, STARTED, Ride, code_hash
from peoplenet.bench.city.config import CityConfig
from peoplenet.bench.city.phones import CARRIED, DIRECT, OWN
from peoplenet.bench.city.replica import START_MS, Replica, app_tx, community_ms
from peoplenet.plugins.api import Record
from peoplenet.plugins.kit import geo, sign_request
from peoplenet.plugins.testing import COMMUNITY
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.sim.simulator import Action, Send, SetTimer
from peoplenet.runtime.wire.codec import encode

ORIGIN: Final = geo.Point(45_400_000, 9_100_000)
"""The city's south-west corner (cell-aligned)."""
CODE_ALPHABET: Final = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
REACT_S: Final = (2.0, 10.0)
"""A driver answers an offer this long after seeing it."""
BOARD_S: Final = (20.0, 90.0)
"""From arriving to starting the trip (the rider walks out, tells the code)."""


def phone(i: int) -> str:
    return f"n{i:03d}"


@dataclass(slots=True)
class Rider:
    identity: Identity
    asks_at: float
    pickup: geo.Point
    dropoff: geo.Point
    carrier: str
    seq: int = 0
    ride: bytes = b""
    code: str = ""


@dataclass(slots=True)
class Tally:
    """What the people did (their side, for the audit): taps, not the fold's counters."""

    asked_at: dict[bytes, float] = field(default_factory=dict)
    """Ride -> the simulated second its rider tapped ``request``."""
    requests_sent: int = 0


class City:
    """Everyone's fingers (a :class:`~peoplenet.runtime.sim.simulator.SimNode`)."""

    def __init__(self, config: CityConfig, replica: Replica, rng: random.Random) -> None:
        self.config = config
        self.replica = replica
        self.rng = rng
        self.tally = Tally()
        self.where: list[geo.Point] = [self._point() for _ in range(config.drivers)]
        self.riders: list[Rider] = []
        window = config.hours * 3600.0
        for j in range(config.riders):
            seed = hashlib.blake2b(f"sim-rides/{config.seed}/rider/{j}".encode()).digest()[:32]
            self.riders.append(
                Rider(
                    Identity.from_seed(seed),
                    rng.uniform(0.0, window),
                    self._point(),
                    self._point(),
                    phone(rng.randrange(config.drivers)),
                )
            )
        self.by_ride: dict[bytes, Rider] = {}
        self._later: dict[str, Callable[[float], list[Action]]] = {}
        self._seq = 0
        self._done: set[tuple[str, bytes, int]] = set()
        self._ids = {bytes(ident.member_id): i for i, ident in enumerate(replica.identities)}

    # -- the simulator node -----------------------------------------------------------------

    def start(self, now: float) -> Iterable[Action]:
        out: list[Action] = []
        for i in range(self.config.drivers):
            at = now + self.rng.uniform(0.0, 30.0)
            out.append(self._at(at, partial(self._online, i)))
        for rider in self.riders:
            out.append(self._at(rider.asks_at, partial(self._request, rider)))
        return out

    def receive(self, src: str, data: bytes, now: float) -> Iterable[Action]:
        """The reference phone folded something: everyone looks at their screen."""
        return self._react(now)

    def timer(self, key: str, now: float) -> Iterable[Action]:
        act = self._later.pop(key, None)
        return act(now) if act is not None else ()

    # -- scheduling ---------------------------------------------------------------------------

    def _at(self, at: float, act: Callable[[float], list[Action]]) -> Action:
        self._seq += 1
        key = f"t{self._seq}"
        self._later[key] = act
        return SetTimer(key, at)

    def _once(self, what: str, ride: Ride, number: int) -> bool:
        key = (what, ride.id, number)
        if key in self._done:
            return False
        self._done.add(key)
        return True

    def _point(self) -> geo.Point:
        span = self.config.grid * geo.CELL_UD
        return geo.Point(
            ORIGIN.lat + self.rng.randrange(span), ORIGIN.lon + self.rng.randrange(span)
        )

    # -- taps ----------------------------------------------------------------------------------

    def _driver(self, i: int, record: Record) -> Action:
        return Send(phone(i), OWN + encode(app_tx(record)))

    def _rider(self, rider: Rider, record: Record) -> Action:
        rider.seq += 1
        signed = sign_request(rider.identity, COMMUNITY, "ride_hailing", rider.seq, record)
        return Send(rider.carrier, CARRIED + encode(signed))

    def _online(self, i: int, now: float) -> list[Action]:
        cell = geo.cell_of(self.where[i])
        return [self._driver(i, DriverOnline((cell.row, cell.col)))]

    def _request(self, rider: Rider, now: float) -> list[Action]:
        rules = self.replica.state.rules
        version = rules.current
        if version == 0:
            return []
        estimate = geo.distance_m(rider.pickup, rider.dropoff)
        low, high = quote(FareRules.from_settings(rules.get(version)), estimate)
        ride = self.rng.randbytes(16)
        code = "".join(self.rng.choice(CODE_ALPHABET) for _ in range(10))
        a, b = geo.cell_of(rider.pickup), geo.cell_of(rider.dropoff)
        record = RequestRide(
            ride, (a.row, a.col), (b.row, b.col), None, estimate, low, high, version,
            code_hash(ride, code),
        )  # fmt: skip
        rider.ride, rider.code = ride, code
        self.by_ride[ride] = rider
        self.tally.asked_at[ride] = now
        self.tally.requests_sent += 1
        out = [self._rider(rider, record)]
        if self.rng.random() < self.config.rider_cancel_p:
            out.append(self._at(now + self.rng.uniform(30.0, 300.0), lambda t: self._cancel(ride)))
        return out

    def _cancel(self, ride_id: bytes) -> list[Action]:
        ride = self.replica.book.rides.get(ride_id)
        if ride is None or ride.state not in ("requested", "offered", ASSIGNED, ARRIVED):
            return []
        return [self._rider(self.by_ride[ride_id], Cancel(ride_id))]

    # -- reacting to the fold -------------------------------------------------------------------

    def _react(self, now: float) -> list[Action]:
        out: list[Action] = []
        for ride in self.replica.open_rides():
            if ride.id not in self.by_ride:
                continue
            offer = ride.matching.pending()
            if offer is not None and self._once("offer", ride, len(ride.matching.offers)):
                out.extend(self._answer(ride, offer.driver, offer.deadline_ms, now))
            rounds = ride.matching.rounds
            if ride.state == ASSIGNED and self._once("drive", ride, rounds):
                out.extend(self._drive_to_pickup(ride, now))
            elif ride.state == ARRIVED and self._once("start", ride, rounds):
                at = now + self.rng.uniform(*BOARD_S)
                out.append(self._at(at, partial(self._start, ride)))
            elif ride.state == STARTED and self._once("trip", ride, rounds):
                out.append(self._trip(ride, now))
        return out

    def _answer(self, ride: Ride, driver: bytes, deadline_ms: int, now: float) -> list[Action]:
        i = self._ids[driver]
        u = self.rng.random()
        at = now + self.rng.uniform(*REACT_S)
        offers = len(ride.matching.offers)
        if u < self.config.accept_p:
            return [self._at(at, lambda t: [self._driver(i, Accept(ride.id))])]
        if u < self.config.accept_p + self.config.ignore_p:  # the rider's phone nudges time
            due = (deadline_ms - START_MS) / 1000.0 + 1.0
            return [self._at(due, lambda t: self._expire(ride.id, offers))]
        return [self._at(at, lambda t: [self._driver(i, Decline(ride.id))])]

    def _expire(self, ride_id: bytes, offers: int) -> list[Action]:
        ride = self.replica.book.rides.get(ride_id)
        if ride is None or ride.matching.pending() is None or len(ride.matching.offers) != offers:
            return []
        return [self._rider(self.by_ride[ride_id], Expire(ride_id))]

    def _drive_to_pickup(self, ride: Ride, now: float) -> list[Action]:
        """The rider's phone seals the exact places to the driver and sends them directly
        (phone to phone, off the order); the driver drives there."""
        i = self._ids[ride.driver]
        rider = self.by_ride[ride.id]
        sealed = seal_details(
            COMMUNITY, ride.job, ride.parties(), Places(rider.pickup, rider.dropoff)
        )
        told = Send(phone(i), DIRECT + encode(sealed))
        seconds = geo.distance_m(self.where[i], rider.pickup) * self.config.detour
        self.where[i] = rider.pickup
        at = now + 30.0 + seconds / self.config.speed_mps

        def arrive(t: float) -> list[Action]:
            current = self.replica.book.rides[ride.id]
            if current.state != ASSIGNED or current.driver != ride.driver:
                return []
            return [self._driver(i, Arrive(ride.id))]

        return [told, self._at(at, arrive)]

    def _start(self, ride: Ride, now: float) -> list[Action]:
        current = self.replica.book.rides[ride.id]
        if current.state != ARRIVED:
            return []
        return [self._driver(self._ids[ride.driver], Start(ride.id, self.by_ride[ride.id].code))]

    def _trip(self, ride: Ride, now: float) -> Action:
        i = self._ids[ride.driver]
        rider = self.by_ride[ride.id]
        metres = round(ride.request.estimate_m * self.config.detour)
        seconds = round(metres / self.config.speed_mps)
        self.where[i] = rider.dropoff
        after = geo.cell_of(rider.dropoff)

        def complete(t: float) -> list[Action]:
            current = self.replica.book.rides[ride.id]
            fare = self.replica.book.fare_of(
                current, metres, seconds, self.replica.env(community_ms(t))
            )
            out = [self._driver(i, Complete(ride.id, metres, seconds, fare.total))]
            if self.replica.book.online.get(ride.driver) != (after.row, after.col):
                out.append(self._driver(i, Position((after.row, after.col))))
            rate_at = t + self.rng.uniform(60.0, 600.0)
            out.append(self._at(rate_at, lambda t2: self._rate(ride.id, i)))
            return out

        return self._at(now + seconds, complete)

    def _rate(self, ride_id: bytes, driver: int) -> list[Action]:
        ride = self.replica.book.rides.get(ride_id)
        if ride is None or ride.state != COMPLETED:
            return []
        out: list[Action] = []
        if self.rng.random() < self.config.rate_p:
            out.append(self._rider(self.by_ride[ride_id], Rate(ride_id, self.rng.randint(3, 5))))
        if self.rng.random() < self.config.rate_p:
            out.append(self._driver(driver, Rate(ride_id, self.rng.randint(3, 5))))
        return out


__all__ = ["City", "Rider", "Tally", "phone"]

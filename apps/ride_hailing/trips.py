"""The trip state machine: every ride of one cooperative, and the drivers' availability.
Over 700 lines because it is one state machine: every transition, its refusals and the money
each one moves read together (matching, fares, payment and customers' signatures are apart).

    requested -> offered -> assigned -> arrived -> started -> completed (paid) [-> disputed]
          \\-> cancelled (by the rider, the driver, or unmatched)

Over 700 lines because it is one state machine: every transition, its refusals and the money
each one moves read together (matching, fares, payment and the riders' signatures are apart).

Pure and deterministic: each transaction is checked (:meth:`RideBook.check`, which changes
nothing) and then applied (:meth:`RideBook.apply`) in the cooperative's order, with community
time passed in.  Every wrong party or wrong state is refused with
:class:`~peoplenet.plugins.api.AppTxRejected` and a stable reason, the book unchanged.

The guarantees (tested by a Hypothesis state machine): exactly one driver wins a ride (the
first acceptance in consensus order; only the driver it is offered to may accept); a driver
is never on two trips; a cancelled request never becomes a trip; a trip completes only after
it started (the rider's one-time code revealed); every completed trip is paid exactly once,
at a fare the fold recomputes from the voted rules, within the quote or agreed by the rider.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from typing import Final

from peoplenet.apps.ride_hailing import matching
from peoplenet.apps.ride_hailing.fare import FareRules, fare, quote, within_quote
from peoplenet.apps.ride_hailing.matching import Matching, candidates
from peoplenet.apps.ride_hailing.payment import ESCROW, Payments
from peoplenet.apps.ride_hailing.policy import DAY_MS, Env, Policy
from peoplenet.apps.ride_hailing.records import (
    Accept,
    AgreeFare,
    Arrive,
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
from peoplenet.apps.ride_hailing.riders import QUOTED, STEP, quoted_detail, rider_step
from peoplenet.plugins.api import AppTxRejected, Value
from peoplenet.plugins.kit import (
    CUSTOMER_EVENTS,
    Breakdown,
    CustomerBook,
    DisputeBook,
    Grid,
    RatingBook,
    Sealed,
    apply_rate,
    cell_distance_bounds,
    customer_event,
    ruling_share,
)

REQUESTED: Final = "requested"
OFFERED: Final = "offered"
ASSIGNED: Final = "assigned"
ARRIVED: Final = "arrived"
STARTED: Final = "started"
COMPLETED: Final = "completed"
CANCELLED: Final = "cancelled"
DISPUTED: Final = "disputed"
STATES: Final = (REQUESTED, OFFERED, ASSIGNED, ARRIVED, STARTED, COMPLETED, CANCELLED, DISPUTED)
OPEN: Final = frozenset({REQUESTED, OFFERED, ASSIGNED, ARRIVED, STARTED})
"""States of a ride not yet finished (its rider has no other open ride)."""
ON_TRIP: Final = frozenset({ASSIGNED, ARRIVED, STARTED})
"""States in which the ride's driver is on it (and on no other)."""
BY_UNMATCHED: Final = "unmatched"
APP: Final = "ride_hailing"
"""The app's name: its escrow account is the kit's ``escrow_account(community, APP)``."""
BEACON_LEN: Final = 32


def code_hash(ride: bytes, code: str) -> bytes:
    """BLAKE2b-256(ride || code): what a request carries of the rider's one-time code."""
    return hashlib.blake2b(ride + code.encode(), digest_size=32).digest()


@dataclass(slots=True)
class Ride:
    """One ride and everything the fold recorded of it."""

    id: bytes
    rider: bytes
    request: RequestRide
    requested_ms: int
    state: str = REQUESTED
    driver: bytes = b""
    matching: Matching = field(default_factory=Matching)
    assigned_ms: int = 0
    arrived_ms: int = 0
    started_ms: int = 0
    finished_ms: int = 0
    metres: int = 0
    seconds: int = 0
    breakdown: Breakdown | None = None
    agreed_fare: int | None = None
    paid: bool = False
    commission: int = 0
    returned: int = 0
    """What the escrow gave the rider back (the hold less the fare, or less a fee)."""
    cancelled_by: str = ""
    cancel_fee: int = 0
    details: Sealed | None = None
    """The exact places, sealed to the rider and the driver of round ``details_job``."""
    details_job: bytes = b""
    jury_details: Sealed | None = None
    """The places resealed to the parties and the jurors of ``jury_details_for``."""
    jury_details_for: tuple[bytes, ...] = ()
    dispute: tuple[bytes, str, int] | None = None
    """Who disputed, why, when; the jury and its rulings are in the book's disputes."""
    ruling: str = ""
    """The jury's majority ruling (``worker``, ``customer``, ``split:n/d``), once there is one."""
    refund: int = 0
    """What the ruling gives the rider back of the fare (cents, recorded; paid outside)."""
    pending: int = 0
    """Escrow: the fare (of the hold) the driver is owed once the dispute window closes or a
    jury rules; 0 once paid out, or when nothing is held."""
    customer_request: bytes = b""
    """A customer's ride: the digest of their signed request (receipts name the ride by it)."""
    told: str = ""
    """What the customer was last told of the ride (a state, or ``ruled``)."""
    steps: int = 0

    @property
    def fare(self) -> int | None:
        if self.breakdown is not None:
            return self.breakdown.total
        return self.cancel_fee or None

    @property
    def job(self) -> bytes:
        """The escrow job of this round of the ride (a re-offered ride is held again)."""
        return self.id + bytes([self.matching.rounds])

    def parties(self) -> tuple[bytes, ...]:
        return (self.rider, self.driver) if self.driver else (self.rider,)

    def to_value(self) -> Value:
        return {
            "id": self.id,
            "rider": self.rider,
            "request": self.request,
            "requested_ms": self.requested_ms,
            "state": self.state,
            "driver": self.driver,
            "matching": self.matching.to_value(),
            "times": (self.assigned_ms, self.arrived_ms, self.started_ms, self.finished_ms),
            "metres": self.metres,
            "seconds": self.seconds,
            "breakdown": self.breakdown,
            "agreed_fare": self.agreed_fare,
            "paid": self.paid,
            "commission": self.commission,
            "returned": self.returned,
            "cancelled_by": self.cancelled_by,
            "cancel_fee": self.cancel_fee,
            "details": self.details,
            "details_job": self.details_job,
            "jury_details": self.jury_details,
            "jury_details_for": self.jury_details_for,
            "dispute": self.dispute,
            "ruling": self.ruling,
            "refund": self.refund,
            "pending": self.pending,
            "customer": (self.customer_request, self.told, self.steps),
        }


def _reject(reason: str, detail: str = "") -> AppTxRejected:
    return AppTxRejected(reason, detail)


@dataclass(slots=True)
class RideBook:
    """Every ride of the cooperative, the online drivers, and the cash book."""

    rides: dict[bytes, Ride] = field(default_factory=dict)
    online: dict[bytes, Cell] = field(default_factory=dict)
    """Drivers taking rides, and the cell each waits in."""
    driving: dict[bytes, bytes] = field(default_factory=dict)
    """Driver -> the ride they are on (assigned, arrived or started)."""
    holding: dict[bytes, bytes] = field(default_factory=dict)
    """Driver -> the ride whose offer they hold now."""
    riding: dict[bytes, bytes] = field(default_factory=dict)
    """Rider -> their open ride."""
    pay: Payments = field(default_factory=lambda: Payments(APP))
    ratings: RatingBook = field(default_factory=lambda: RatingBook(7 * DAY_MS, 3))
    disputes: DisputeBook = field(default_factory=lambda: DisputeBook(7 * DAY_MS, 3, 2 * DAY_MS))
    customers: CustomerBook = field(default_factory=CustomerBook)
    """Each customer's last signed request taken (replays are refused)."""
    telling: set[bytes] = field(default_factory=set)
    """Customers' rides whose changes are still declared to them (see :meth:`tell`)."""
    judging: set[bytes] = field(default_factory=set)
    """Rides whose dispute awaits its ruling: what a driver's duty reads to reseal the places
    to a newly drawn jury, without scanning every ride."""
    held: set[bytes] = field(default_factory=set)
    """Completed rides whose fare is still held for the driver (``Ride.pending``): what the
    release looks at, so that neither the fold nor a driver's duties scan every ride."""

    def configure(self, policy: Policy) -> None:
        """The voted windows and sizes of the kit's rating and dispute books (on every vote)."""
        self.ratings.set_parameters(policy.rating_window_ms, policy.rating_min_count)
        self.disputes.set_parameters(
            policy.dispute_window_ms, policy.jury_size, policy.jury_answer_ms
        )

    # -- reading ----------------------------------------------------------------------------

    def ride(self, ride: bytes) -> Ride:
        found = self.rides.get(ride)
        if found is None:
            raise _reject("unknown_ride", f"no ride {ride.hex()}")
        return found

    def offering(self) -> list[Ride]:
        """Rides whose offer is pending, in id order."""
        return [self.rides[r] for r in sorted(set(self.holding.values()))]

    # -- community time ---------------------------------------------------------------------

    def advance(self, env: Env) -> list[bytes]:
        """Pass on every pending offer past its deadline; the rides whose offer moved."""
        moved = []
        self.disputes.replace_late(env.now_ms)
        if env.funds is not None:  # money moves only inside an ordered transaction
            for ride in self._releases_due(env):
                self._release(ride, env)
        for ride in self.offering():
            offer = ride.matching.pending()
            if offer is not None and offer.due(env.now_ms):
                self._close_offer(ride, matching.EXPIRED, env.now_ms)
                self._offer_next(ride, env)
                moved.append(ride.id)
        return moved

    # -- the check (changes nothing) --------------------------------------------------------

    def check(self, tx: RideTx, sender: bytes, env: Env) -> None:
        """Raise :class:`AppTxRejected` if ``tx`` from ``sender`` may not apply now.

        Judged against the book as of ``env.now_ms``: offers already due count as passed on
        (on a copy: the check changes nothing), exactly as :meth:`apply` will see them.
        """
        self._as_of(env)._check(tx, sender, env)

    def _releases_due(self, env: Env) -> list[Ride]:
        """Completed rides whose held fare is due to the driver: the window closed undisputed."""
        window, now = env.policy.dispute_window_ms, env.now_ms
        due = (self.rides[r] for r in sorted(self.held))
        return [r for r in due if r.state == COMPLETED and now >= r.finished_ms + window]

    def _as_of(self, env: Env) -> RideBook:
        jurors_due = self.disputes.next_due_ms()
        offers_due = any(r.matching.due(env.now_ms) for r in self.offering())
        jurors_late = jurors_due is not None and jurors_due <= env.now_ms
        releases_due = env.funds is not None and bool(self._releases_due(env))
        if not (offers_due or jurors_late or releases_due):
            return self
        ahead = copy.deepcopy(self)
        ahead.advance(env)
        return ahead

    def _check(self, tx: RideTx, sender: bytes, env: Env) -> None:  # noqa: PLR0915 - one dispatch
        if isinstance(tx, CustomerRide):  # the customer's signature counts, not the carrier's
            self._check(rider_step(tx, self.customers, env), tx.request.customer, env)
        elif isinstance(tx, DriverOnline):
            if sender in self.online:
                raise _reject("already_online", "send Position to change cell")
        elif isinstance(tx, DriverOffline):
            if sender not in self.online:
                raise _reject("not_online")
            if sender in self.driving:
                raise _reject("on_trip", f"finish ride {self.driving[sender].hex()} first")
        elif isinstance(tx, Position):
            if sender not in self.online:
                raise _reject("not_online", "go online first")
            if self.online[sender] == tx.cell:
                raise _reject("same_cell", "positions are sent only when the cell changes")
        elif isinstance(tx, RequestRide):
            self._check_request(tx, sender, env)
        elif isinstance(tx, Accept | Decline):
            self._check_offer_answer(tx.ride, sender, env)
            if isinstance(tx, Accept) and sender in self.driving:
                raise _reject("driver_busy", f"on ride {self.driving[sender].hex()}")
        elif isinstance(tx, Arrive):
            self._driver_in(tx.ride, sender, (ASSIGNED,), "not_assigned")
        elif isinstance(tx, Start):
            ride = self._driver_in(tx.ride, sender, (ARRIVED,), "not_arrived")
            if code_hash(ride.id, tx.code) != ride.request.code_hash:
                raise _reject("bad_code", "not the rider's code")
            customers_pay_cash = bool(ride.customer_request)
            if env.policy.payment == ESCROW and not customers_pay_cash and not self._held(ride):
                raise _reject("not_held", "the rider's fare is not held yet")
        elif isinstance(tx, Hold):
            self._check_hold(tx, sender, env)
        elif isinstance(tx, Details):
            ride = self.ride(tx.ride)
            if sender != ride.rider:
                raise _reject("not_the_rider")
            if ride.state not in ON_TRIP:
                raise _reject("wrong_state", f"ride is {ride.state}")
            if tuple(k.recipient for k in tx.sealed.keys) != tuple(sorted(ride.parties())):
                raise _reject("bad_recipients", "sealed to the rider and the driver, no one else")
        elif isinstance(tx, Complete):
            self._check_complete(tx, sender, env)
        elif isinstance(tx, AgreeFare):
            ride = self.ride(tx.ride)
            if sender != ride.rider:
                raise _reject("not_the_rider")
            if ride.state not in ON_TRIP:
                raise _reject("wrong_state", f"ride is {ride.state}")
        elif isinstance(tx, Cancel):
            self._check_cancel(tx, sender)
        else:
            self._check_after(tx, sender, env)

    def _check_after(self, tx: RideTx, sender: bytes, env: Env) -> None:
        """The transactions after a ride (ratings, disputes) and the nudge."""
        if isinstance(tx, Rate):
            self._finished(tx.ride)
            self.ratings.check_rate(tx.ride, sender, tx.score, env.now_ms)
        elif isinstance(tx, Dispute):
            self._check_dispute(tx, sender, env)
        elif isinstance(tx, Rule):
            self.ride(tx.ride)
            self.disputes.check_rule(tx.ride, sender, tx.ruling, env.now_ms)
        elif isinstance(tx, JuryDetails):
            self._check_jury_details(tx, sender)
        elif isinstance(tx, Expire | Release):
            self.ride(tx.ride)  # it only moves community time: any known ride will do
        elif isinstance(tx, SettleDebt):
            self.pay.check_settle(sender, tx.amount, env)
        else:  # pragma: no cover - the host lets only declared tx types through
            raise _reject("unknown_tx", type(tx).__name__)

    def _check_request(self, tx: RequestRide, sender: bytes, env: Env) -> None:
        if tx.ride in self.rides:
            raise _reject("ride_exists", tx.ride.hex())
        if sender in self.riding:
            raise _reject("rider_busy", f"ride {self.riding[sender].hex()} is open")
        if sender in self.driving:
            raise _reject("driver_busy", "a driver on a trip cannot ride")
        if tx.rules_version != env.rules.current:
            raise _reject("stale_rules", f"rules are at version {env.rules.current}")
        low, high = cell_distance_bounds(Grid(*tx.pickup), Grid(*tx.dropoff))
        if not low <= tx.estimate_m <= high:
            raise _reject("bad_estimate", f"{tx.estimate_m} m is not within {low}..{high} m")
        rules = FareRules.from_settings(env.rules.get(tx.rules_version))
        expected = quote(rules, tx.estimate_m)
        if (tx.quote_low, tx.quote_high) != expected:
            raise _reject("bad_quote", f"the rules give {expected[0]}..{expected[1]}")

    def _check_offer_answer(self, ride_id: bytes, sender: bytes, env: Env) -> Ride:
        ride = self.ride(ride_id)
        last = ride.matching.last_offer_to(sender)
        if last is not None and (last.outcome == matching.EXPIRED or last.due(env.now_ms)):
            raise _reject("offer_expired", "the offer went to the next driver")
        offer = ride.matching.pending()
        if ride.state != OFFERED or offer is None:
            raise _reject("not_open", f"ride is {ride.state}")
        if offer.driver != sender:
            raise _reject("not_offered", "the ride is not offered to you")
        return ride

    def _driver_in(self, ride_id: bytes, sender: bytes, states: tuple[str, ...], why: str) -> Ride:
        ride = self.ride(ride_id)
        if sender != ride.driver or not ride.driver:
            raise _reject("not_the_driver")
        if ride.state not in states:
            raise _reject(why, f"ride is {ride.state}")
        return ride

    def _check_complete(self, tx: Complete, sender: bytes, env: Env) -> Breakdown:
        ride = self._driver_in(tx.ride, sender, (STARTED,), "not_started")
        breakdown = self.fare_of(ride, tx.metres, tx.seconds, env)
        if tx.fare != breakdown.total:
            raise _reject("fare_mismatch", f"the rules give {breakdown.total}, not {tx.fare}")
        req = ride.request
        consented = ride.agreed_fare is not None and ride.agreed_fare >= breakdown.total
        if not within_quote(breakdown, req.quote_low, req.quote_high) and not consented:
            raise _reject(
                "needs_consent",
                f"fare {breakdown.total} is outside the quote {req.quote_low}..{req.quote_high}",
            )
        return breakdown

    def fare_of(self, ride: Ride, metres: int, seconds: int, env: Env) -> Breakdown:
        """The fare of ``ride`` for the metres and seconds driven (its rules, its waiting)."""
        rules = FareRules.from_settings(env.rules.get(ride.request.rules_version))
        wait_s = max(ride.started_ms - ride.arrived_ms, 0) // 1000
        return fare(rules, metres, seconds, wait_s, ride.started_ms)

    def _check_cancel(self, tx: Cancel, sender: bytes) -> Ride:
        ride = self.ride(tx.ride)
        if sender not in (ride.rider, ride.driver) or not sender:
            raise _reject("not_a_party")
        if ride.state == STARTED:
            raise _reject("already_started", "finish or dispute a started trip")
        if ride.state not in OPEN:
            raise _reject("ride_closed", f"ride is {ride.state}")
        if sender != ride.rider and ride.state not in ON_TRIP:
            raise _reject("not_a_party")
        return ride

    def _check_hold(self, tx: Hold, sender: bytes, env: Env) -> Ride:
        ride = self.ride(tx.ride)
        if sender != ride.rider:
            raise _reject("not_the_rider")
        if env.policy.payment != ESCROW:
            raise _reject("not_escrow", "the cooperative voted cash payment")
        if ride.state not in (ASSIGNED, ARRIVED):
            raise _reject("wrong_state", f"ride is {ride.state}")
        self.pay.check_hold(ride.job, ride.rider, ride.request.quote_high, env)
        return ride

    def _finished(self, ride_id: bytes) -> Ride:
        ride = self.ride(ride_id)
        if ride.state not in (COMPLETED, DISPUTED):
            raise _reject("not_completed", f"ride is {ride.state}")
        return ride

    def _check_jury_details(self, tx: JuryDetails, sender: bytes) -> None:
        ride = self.ride(tx.ride)
        if sender != ride.driver:
            raise _reject("not_the_driver", "the driver's phone reseals the places")
        if ride.dispute is None or ride.ruling:
            raise _reject("no_open_dispute", "places go to a jury while it judges")
        wanted = tuple(sorted(set(ride.parties()) | set(self.disputes.jury(ride.id))))
        if tuple(k.recipient for k in tx.sealed.keys) != wanted:
            raise _reject("bad_recipients", "sealed to the parties and the jury, no one else")

    def _check_dispute(self, tx: Dispute, sender: bytes, env: Env) -> tuple[bytes, ...]:
        ride = self._finished(tx.ride)
        if len(env.beacon) != BEACON_LEN:  # a fold outside the order: no jury can be drawn
            raise _reject("no_beacon", "a dispute opens only in an ordered transaction")
        return self.disputes.check_open(
            ride.id,
            sender,
            ride.parties(),
            env.now_ms,
            env.beacon,
            env.members,
            finished_ms=ride.finished_ms,
        )

    # -- the apply -------------------------------------------------------------------------

    def apply(self, tx: RideTx, sender: bytes, env: Env) -> Value:
        """Apply a transaction :meth:`check` passed (with the same ``env``): its result, with
        the events of customers' rides it declares (``CUSTOMER_EVENTS``)."""
        self.advance(env)
        if isinstance(tx, CustomerRide):
            step = rider_step(tx, self.customers, env)
            result = self._apply(step, tx.request.customer, env)
            self.customers.accept(tx.request, env, APP)
            if isinstance(step, RequestRide):
                self.rides[step.ride].customer_request = tx.request.digest
                self.telling.add(step.ride)
        else:
            result = self._apply(tx, sender, env)
        events = self.tell(env)
        if events and isinstance(result, dict):
            result[CUSTOMER_EVENTS] = tuple(customer_event(*e) for e in events)
        return result

    def tell(self, env: Env) -> list[tuple[bytes, str, str]]:
        """What customers' rides became since they were last told: ``quoted`` once, then one
        ``step_N`` event per change (``STATE [DETAILS]``), declared by the transaction that
        applies after it (a change in a clock hook is told at the next one)."""
        events = []
        for rid in sorted(self.telling):
            ride = self.rides[rid]
            digest = ride.customer_request
            if not ride.told:
                events.append((digest, QUOTED, quoted_detail(ride.request, env.policy.currency)))
            word = "ruled" if ride.ruling else ride.state
            if word != ride.told:
                ride.told, ride.steps = word, ride.steps + 1
                events.append((digest, f"{STEP}{ride.steps}", _told(ride, word)))
            window_over = env.now_ms >= ride.finished_ms + env.policy.dispute_window_ms
            if word in (CANCELLED, "ruled") or (word == COMPLETED and window_over):
                self.telling.discard(rid)
        return events

    def _apply(self, tx: RideTx, sender: bytes, env: Env) -> Value:  # noqa: PLR0915 - one dispatch
        self._check(tx, sender, env)
        now = env.now_ms
        if isinstance(tx, DriverOnline | Position):
            self.online[sender] = tx.cell
            return {"online": tx.cell}
        if isinstance(tx, DriverOffline):
            del self.online[sender]
            held = self.holding.get(sender)
            if held is not None:
                ride = self.rides[held]
                self._close_offer(ride, matching.WITHDRAWN, now)
                self._offer_next(ride, env)
            return {"online": None}
        if isinstance(tx, RequestRide):
            ride = Ride(tx.ride, sender, tx, now)
            self.rides[tx.ride] = ride
            self.riding[sender] = tx.ride
            self._match(ride, env)
            return self._summary(ride)
        if isinstance(tx, SettleDebt):
            return {"owed": self.pay.settle_debt(sender, tx.amount, env)}
        if isinstance(tx, CustomerRide):  # pragma: no cover - apply unwraps it first
            raise _reject("unknown_tx", "a customer's request inside another")
        ride = self.rides[tx.ride]
        if isinstance(tx, Accept):
            self._close_offer(ride, matching.ACCEPTED, now)
            ride.state, ride.driver, ride.assigned_ms = ASSIGNED, sender, now
            self.driving[sender] = ride.id
        elif isinstance(tx, Decline):
            self._close_offer(ride, matching.DECLINED, now)
            self._offer_next(ride, env)
        elif isinstance(tx, Arrive):
            ride.state, ride.arrived_ms = ARRIVED, now
        elif isinstance(tx, Start):
            ride.state, ride.started_ms = STARTED, now
        elif isinstance(tx, Complete):
            self._complete(ride, tx, env)
        elif isinstance(tx, AgreeFare):
            ride.agreed_fare = tx.fare
        elif isinstance(tx, Cancel):
            self._cancel(ride, sender, env)
        elif isinstance(tx, Rate):
            self.ratings.rate(ride.id, sender, tx.score, now)
        elif isinstance(tx, Dispute):
            ride.state, ride.dispute = DISPUTED, (sender, tx.reason, now)
            self.judging.add(ride.id)
            self.disputes.open(
                ride.id,
                sender,
                ride.parties(),
                now,
                env.beacon,
                env.members,
                finished_ms=ride.finished_ms,
            )
        elif isinstance(tx, Rule):
            self._rule(ride, sender, tx.ruling, env)
        elif isinstance(tx, Details):
            ride.details, ride.details_job = tx.sealed, ride.job
        elif isinstance(tx, JuryDetails):
            ride.jury_details = tx.sealed
            ride.jury_details_for = tuple(self.disputes.jury(ride.id))
        elif isinstance(tx, Hold):
            self.pay.hold(ride.job, ride.rider, ride.driver, ride.request.quote_high, env)
        return self._summary(ride)

    def _held(self, ride: Ride) -> bool:
        return self.pay.held(ride.job) is not None

    def _summary(self, ride: Ride) -> dict[str, Value]:
        offer = ride.matching.pending()
        return {
            "ride": ride.id,
            "state": ride.state,
            "driver": ride.driver or None,
            "offered_to": None if offer is None else offer.driver,
            "fare": ride.fare,
        }

    def _match(self, ride: Ride, env: Env) -> None:
        """A new round of candidates for ``ride``, and the first offer (or unmatched)."""
        excluded = set(ride.matching.offered_to()) | {ride.rider}
        listed = candidates(
            ride.id,
            ride.request.pickup,
            self.online,
            excluded,
            max_rings=env.policy.max_rings,
            limit=env.policy.max_candidates,
        )
        ride.matching.new_round(listed)
        self._offer_next(ride, env)

    def _unavailable(self, driver: bytes) -> str:
        if driver not in self.online:
            return "offline"
        if driver in self.driving:
            return "on_trip"
        if driver in self.holding:
            return "holding_offer"
        if driver in self.riding:
            return "riding"
        return ""

    def _offer_next(self, ride: Ride, env: Env) -> None:
        offer = ride.matching.offer_next(env.now_ms, env.policy.offer_timeout_ms, self._unavailable)
        if offer is not None:
            ride.state = OFFERED
            self.holding[offer.driver] = ride.id
            return
        self._finish(ride, CANCELLED, env.now_ms)
        ride.cancelled_by = BY_UNMATCHED

    def _close_offer(self, ride: Ride, outcome: str, now_ms: int) -> None:
        offer = ride.matching.close(outcome, now_ms)
        if offer is not None and self.holding.get(offer.driver) == ride.id:
            del self.holding[offer.driver]

    def _finish(self, ride: Ride, state: str, now_ms: int) -> None:
        """The ride leaves the open states: its rider and driver are free again."""
        ride.state, ride.finished_ms = state, now_ms
        if self.riding.get(ride.rider) == ride.id:
            del self.riding[ride.rider]
        if ride.driver and self.driving.get(ride.driver) == ride.id:
            del self.driving[ride.driver]

    def _complete(self, ride: Ride, tx: Complete, env: Env) -> None:
        breakdown = self._check_complete(tx, ride.driver, env)
        paid = self.pay.settle_fare(  # the money first: a refusal there changes nothing here
            ride.job,
            ride.rider,
            ride.driver,
            breakdown.total,
            env.commission,
            env.policy.currency,
            env,
        )
        ride.metres, ride.seconds, ride.breakdown = tx.metres, tx.seconds, breakdown
        self._finish(ride, COMPLETED, env.now_ms)
        if paid is None:  # held until the dispute window closes, or a jury rules
            ride.pending = breakdown.total
            self.held.add(ride.id)
        else:
            ride.paid, ride.commission, ride.returned = True, paid.commission, paid.refunded
        self.ratings.open(ride.id, ride.parties(), env.now_ms)

    def _release(self, ride: Ride, env: Env) -> None:
        """Pay out a held fare (less a ruled refund); if the funds refuse the driver (who
        left the cooperative), the rider gets the hold back; if they refuse that too, the
        money stays held and the ride is no longer tried (the members decide)."""
        try:
            paid = self.pay.release(ride.job, ride.pending, ride.refund, env.commission, env)
        except AppTxRejected:
            try:
                paid = self.pay.refund_all(ride.job, env)
            except AppTxRejected:
                ride.pending = 0
                self.held.discard(ride.id)
                return
        ride.pending = 0
        self.held.discard(ride.id)
        ride.paid, ride.commission, ride.returned = True, paid.commission, paid.refunded

    def _rule(self, ride: Ride, juror: bytes, ruling: str, env: Env) -> None:
        """A juror rules; once a majority agrees, the ruling and the rider's refund stand, and
        a fare still held is split by it (the kit's ``EscrowBook.split``)."""
        self.disputes.rule(ride.id, juror, ruling, env.now_ms)
        outcome = self.disputes.outcome(ride.id)
        if outcome is None or ride.ruling:
            return
        ride.ruling = outcome
        self.judging.discard(ride.id)
        ride.refund = apply_rate(ride.fare or 0, ruling_share(outcome))
        if ride.pending:
            self._release(ride, env)

    def _cancel(self, ride: Ride, by: bytes, env: Env) -> None:
        now = env.now_ms
        if by == ride.rider:
            self._close_offer(ride, matching.WITHDRAWN, now)
            late = ride.state == ARRIVED or (
                ride.state == ASSIGNED and now - ride.assigned_ms > env.policy.cancel_free_ms
            )
            fee = env.policy.cancel_fee_cents if late else 0
            paid = self.pay.settle_cancel(
                ride.job, ride.rider, ride.driver, fee, env.commission, env.policy.currency, env
            )
            self._finish(ride, CANCELLED, now)
            ride.cancelled_by = "rider"
            if paid is not None and (fee or paid.refunded):
                ride.cancel_fee = fee
                ride.paid, ride.commission, ride.returned = (
                    bool(fee),
                    paid.commission,
                    paid.refunded,
                )
            return
        # the driver drops the ride: the hold goes back whole; the ride back to matching
        # while re-offers are left (a new round, a new hold)
        self.pay.settle_cancel(
            ride.job, ride.rider, ride.driver, 0, env.commission, env.policy.currency, env
        )
        driver = ride.driver
        del self.driving[driver]
        ride.driver, ride.assigned_ms, ride.arrived_ms = b"", 0, 0
        ride.matching.offers.append(
            matching.Offer(driver, now, now, "cancelled_by_driver", now, "")
        )
        if ride.matching.rounds <= env.policy.max_reoffers:
            ride.state = REQUESTED
            self._match(ride, env)
            if ride.state == CANCELLED:
                ride.cancelled_by = BY_UNMATCHED
            return
        self._finish(ride, CANCELLED, now)
        ride.cancelled_by = "driver"

    # -- the snapshot ------------------------------------------------------------------------

    def to_value(self) -> Value:
        return {
            "rides": tuple(r.to_value() for _, r in sorted(self.rides.items())),
            "online": tuple((d, c) for d, c in sorted(self.online.items())),
            "driving": tuple(sorted(self.driving.items())),
            "holding": tuple(sorted(self.holding.items())),
            "riding": tuple(sorted(self.riding.items())),
            "pay": self.pay.to_value(),
            "ratings": self.ratings.to_value(),
            "disputes": self.disputes.to_value(),
            "customers": self.customers.to_value(),
            "telling": tuple(sorted(self.telling)),
        }


def _told(ride: Ride, word: str) -> str:
    """A step's detail: the state, then what the customer needs of it."""
    if word in ON_TRIP:
        return f"{word} {ride.driver.hex()} {ride.matching.rounds}"
    if word == COMPLETED:
        return f"{word} {ride.fare or 0} {ride.commission}"
    if word == CANCELLED:
        return f"{word} {ride.cancelled_by or '-'} {ride.cancel_fee}"
    if word == "ruled":
        return f"{word} {ride.ruling} {ride.refund}"
    return word


__all__ = [
    "STATES",
    "Ride",
    "RideBook",
    "code_hash",
]

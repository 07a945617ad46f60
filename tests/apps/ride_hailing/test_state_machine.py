"""A Hypothesis state machine over matching and trips: the guarantees hold whatever happens.

Drivers come and go and move, riders request and cancel, drivers accept, decline, arrive,
start (with the right code or not), complete (on the route or a long detour, with or without
the rider's consent), time passes and offers expire.  After every step:

* no driver is on two trips at once;
* a cancelled request never becomes a trip again;
* exactly one driver wins each round of a request;
* every completed trip is paid exactly once;
* every fare is within its quote or agreed by the rider;
* a refused transaction changes nothing.

A rider who is not a member signs their requests (carried by any member), and replays of them
are refused; parties dispute, juries rule, dispute windows close (with or without the nudge)
and drivers settle the commission they owe on cash fares.

It runs twice: paid in cash, and paid from the riders' coins held in escrow (the holds, the
fares held until the dispute window closes or a jury splits them, the refunds at cancellation
and the debts settled conserve every coin; money is held only for the round of a ride under way
or a fare not yet released; the treasury holds exactly the commissions and the debts settled).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from peoplenet.apps.ride_hailing.fare import within_quote
from peoplenet.apps.ride_hailing.records import (
    Accept,
    AgreeFare,
    Arrive,
    AskRide,
    Cancel,
    Complete,
    CustomerRide,
    Decline,
    Dispute,
    DriverOffline,
    DriverOnline,
    Expire,
    Hold,
    Position,
    Release,
    RideTx,
    Rule,
    SettleDebt,
    Start,
)
from peoplenet.apps.ride_hailing.trips import (
    ARRIVED,
    ASSIGNED,
    CANCELLED,
    COMPLETED,
    DISPUTED,
    OFFERED,
    ON_TRIP,
    OPEN,
    STARTED,
    code_hash,
)
from peoplenet.plugins.api import AppTxRejected, Value
from peoplenet.plugins.kit import COMMUNITY_COINS, escrow_account, treasury_account
from tests.apps.ride_hailing.test_riders import Rider
from tests.apps.ride_hailing.world import (
    CODE,
    COMMUNITY,
    HOME,
    MEMBERS,
    World,
    member,
    ride_id,
)

COINS = 1_000_000
MEMBERS_SORTED = sorted(MEMBERS)

DRIVERS = tuple(member(i) for i in range(4))
RIDERS = tuple(member(i) for i in range(3, 7))  # member 3 both drives and rides
PEOPLE = (*DRIVERS, *RIDERS[1:])
drivers = st.sampled_from(DRIVERS)
riders = st.sampled_from(RIDERS)
people = st.sampled_from(PEOPLE)
picks = st.integers(0, 50)
"""Which ride: an index into the rides requested so far."""
_READY = {"Accept": (OFFERED,), "Decline": (OFFERED,), "Arrive": (ASSIGNED,), "Cancel": OPEN}
"""The states in which each step is mostly tried."""
_NEXT = {
    OFFERED: {ASSIGNED, CANCELLED},  # offered again (to the next driver) is no change
    ASSIGNED: {ARRIVED, OFFERED, CANCELLED},  # the driver's cancel: offered again, or not
    ARRIVED: {STARTED, OFFERED, CANCELLED},
    STARTED: {COMPLETED},
    COMPLETED: {DISPUTED},
    CANCELLED: set(),
    DISPUTED: set(),
}
"""The moves a ride may be seen to make between two steps (the trip state machine)."""
cells = st.tuples(st.integers(HOME[0] - 2, HOME[0] + 2), st.integers(HOME[1] - 2, HOME[1] + 2))


class Rides(RuleBasedStateMachine):
    PAYMENT = "cash"

    def __init__(self) -> None:
        super().__init__()
        settings: dict[str, Value] = {
            "offer_timeout_ms": 60_000,
            "max_reoffers": 2,
            "max_rings": 4,
            "payment": self.PAYMENT,
        }
        minted = dict.fromkeys((*DRIVERS, *RIDERS[:-1]), COINS)
        self.minted = sum(minted.values())
        coins = minted if self.PAYMENT == "escrow" else None
        self.w = World(settings, coins=coins)  # the last rider has no coins
        self.cancelled: set[bytes] = set()
        self.seen: dict[bytes, str] = {}
        self.customer = Rider()
        self.signed: list[CustomerRide] = []

    def attempt(self, tx: RideTx, sender: bytes) -> bool:
        before = self.w.book.to_value()
        self.w.tick()
        coins = None if self.w.ledger is None else dict(self.w.ledger.accounts)
        try:
            self.w.book.check(tx, sender, self.w.env(dry=True))
        except AppTxRejected:
            assert self.w.book.to_value() == before, f"a refused {tx} changed the book"
            assert self.w.ledger is None or self.w.ledger.accounts == coins
            return False
        self.w.book.apply(tx, sender, self.w.env())
        self.every_ride_moves_along_the_machine()
        return True

    @initialize(where=st.lists(cells, min_size=3, max_size=3))
    def drivers_start_online(self, where: list[tuple[int, int]]) -> None:
        for driver, cell in zip(DRIVERS, where, strict=False):
            self.attempt(DriverOnline(cell), driver)

    # -- drivers ---------------------------------------------------------------------------

    @rule(driver=drivers, cell=cells)
    def go_online(self, driver: bytes, cell: tuple[int, int]) -> None:
        self.attempt(DriverOnline(cell), driver)

    @rule(driver=drivers, cell=cells)
    def move(self, driver: bytes, cell: tuple[int, int]) -> None:
        self.attempt(Position(cell), driver)

    @rule(driver=drivers)
    def go_offline(self, driver: bytes) -> None:
        self.attempt(DriverOffline(), driver)

    def ride(self, pick: int, states: Collection[str] = OPEN) -> bytes:
        """One of the rides requested so far, mostly one in ``states`` (unknown when none)."""
        rides = self.w.book.rides
        live = sorted(r for r, ride in rides.items() if ride.state in states)
        known = live if live and pick % 4 else sorted(rides)
        return known[pick % len(known)] if known else ride_id(pick)

    def party(self, ride: bytes, role: str, other: bytes, aim: bool) -> bytes:
        """The ride's party in ``role`` when aiming (most steps then pass), else ``other``."""
        found = self.w.book.rides.get(ride)
        if not aim or found is None:
            return other
        if role == "offeree":
            offer = found.matching.pending()
            return other if offer is None else offer.driver
        return found.rider if role == "rider" else (found.driver or other)

    def step(self, record: type[Accept | Decline | Arrive | Cancel], role: str, who: bytes,
             pick: int, aim: bool) -> None:  # fmt: skip
        ride = self.ride(pick, _READY[record.__name__])
        self.attempt(record(ride), self.party(ride, role, who, aim))

    @rule(who=people, pick=picks, aim=st.booleans())
    def accept(self, who: bytes, pick: int, aim: bool) -> None:
        self.step(Accept, "offeree", who, pick, aim)

    @rule(who=people, pick=picks, aim=st.booleans())
    def decline(self, who: bytes, pick: int, aim: bool) -> None:
        self.step(Decline, "offeree", who, pick, aim)

    @rule(who=people, pick=picks, aim=st.booleans())
    def arrive(self, who: bytes, pick: int, aim: bool) -> None:
        self.step(Arrive, "driver", who, pick, aim)

    @rule(who=people, pick=picks, aim=st.booleans(), role=st.sampled_from(["rider", "driver"]))
    def cancel(self, who: bytes, pick: int, aim: bool, role: str) -> None:
        self.step(Cancel, role, who, pick, aim)

    @rule(who=people, pick=picks, aim=st.booleans(), right=st.sampled_from([True, True, False]))
    def start(self, who: bytes, pick: int, aim: bool, right: bool) -> None:
        ride = self.ride(pick, (ARRIVED,))
        self.attempt(Start(ride, CODE if right else "WRONG"), self.party(ride, "driver", who, aim))

    @rule(
        who=people,
        pick=picks,
        aim=st.booleans(),
        factor=st.sampled_from([1, 2, 5]),
        seconds=st.integers(0, 7200),
        off=st.sampled_from([0, 0, 1]),
    )
    def complete(
        self, who: bytes, pick: int, aim: bool, factor: int, seconds: int, off: int
    ) -> None:
        ride = self.ride(pick, (STARTED,))
        sender = self.party(ride, "driver", who, aim)
        found = self.w.book.rides.get(ride)
        if found is None or found.state != "started":
            self.attempt(Complete(ride, 1000, seconds, 0), sender)
            return
        metres = found.request.estimate_m * factor
        total = self.w.book.fare_of(found, metres, seconds, self.w.env()).total
        self.attempt(Complete(ride, metres, seconds, total + off), sender)

    # -- riders ----------------------------------------------------------------------------

    @rule(rider=riders, new=st.integers(0, 15), pickup=cells, dropoff=cells)
    def request(
        self, rider: bytes, new: int, pickup: tuple[int, int], dropoff: tuple[int, int]
    ) -> None:
        self.attempt(self.w.request(ride_id(new), rider, pickup, dropoff), rider)

    @rule(who=people, pick=picks, aim=st.booleans())
    def hold(self, who: bytes, pick: int, aim: bool) -> None:
        ride = self.ride(pick, ON_TRIP)
        self.attempt(Hold(ride), self.party(ride, "rider", who, aim))

    @rule(who=people, pick=picks, aim=st.booleans(), fare=st.integers(0, 100_000))
    def agree(self, who: bytes, pick: int, aim: bool, fare: int) -> None:
        ride = self.ride(pick, ON_TRIP)
        self.attempt(AgreeFare(ride, fare), self.party(ride, "rider", who, aim))

    @rule(
        rider=riders,
        new=st.integers(16, 40),
        dropoff=cells,
        factor=st.sampled_from([1, 2, 5]),
        seconds=st.integers(0, 7200),
        agree=st.booleans(),
        quit_at=st.sampled_from([None, None, 0, 1]),
        quitter=st.sampled_from(["rider", "driver"]),
    )
    def a_whole_ride(
        self, rider: bytes, new: int, dropoff: tuple[int, int], factor: int, seconds: int,
        agree: bool, quit_at: int | None, quitter: str,
    ) -> None:  # fmt: skip
        """Request, accept, arrive, start, (agree,) complete: each step as the right party;
        or one of them calls it off after the acceptance (``quit_at`` 0) or the arrival (1)."""
        ride = ride_id(new)
        if not self.attempt(self.w.request(ride, rider, HOME, dropoff), rider):
            return
        found = self.w.book.rides[ride]
        offer = found.matching.pending()
        if offer is None or not self.attempt(Accept(ride), offer.driver):
            return
        self.attempt(Hold(ride), rider)  # under escrow; refused (not_escrow) under cash
        steps: tuple[RideTx, ...] = (Arrive(ride), Start(ride, CODE))
        for i, step in enumerate(steps):
            if quit_at == i:
                self.attempt(Cancel(ride), rider if quitter == "rider" else found.driver)
                return
            self.attempt(step, found.driver)
        if found.state != "started":
            return
        metres = found.request.estimate_m * factor
        total = self.w.book.fare_of(found, metres, seconds, self.w.env()).total
        if agree:
            self.attempt(AgreeFare(ride, total), rider)
        self.attempt(Complete(ride, metres, seconds, total), found.driver)

    # -- a rider who is not a member ---------------------------------------------------------

    @rule(new=st.integers(41, 50), dropoff=cells, carrier=people)
    def customer_requests(self, new: int, dropoff: tuple[int, int], carrier: bytes) -> None:
        ride = ride_id(new)
        estimate = self.w.request(ride, member(0), HOME, dropoff).estimate_m
        ask = AskRide(ride, HOME, dropoff, None, estimate, code_hash(ride, CODE))
        self.carry(self.customer.signs(ask), carrier)

    @rule(pick=picks, carrier=people, fare=st.sampled_from([None, 0, 100_000]))
    def customer_steps(self, pick: int, carrier: bytes, fare: int | None) -> None:
        """The customer cancels, or agrees to a fare, on one of the rides (theirs or not)."""
        ride = self.ride(pick)
        step = Cancel(ride) if fare is None else AgreeFare(ride, fare)
        self.carry(self.customer.signs(step), carrier)

    def carry(self, tx: CustomerRide, carrier: bytes) -> None:
        if self.attempt(tx, carrier):
            self.signed.append(tx)

    @rule(carrier=people, pick=picks)
    def a_request_taken_is_never_taken_again(self, carrier: bytes, pick: int) -> None:
        if self.signed:
            again = self.signed[pick % len(self.signed)]
            assert not self.attempt(again, carrier), "a customer's request taken twice"

    @rule(new=st.integers(51, 60), seconds=st.integers(0, 3600), settle=st.integers(1, 400))
    def a_customers_whole_ride(self, new: int, seconds: int, settle: int) -> None:
        """The customer asks; the offered driver takes it, arrives, starts and completes; the
        driver then settles some of the commission owed on that cash fare."""
        ride = ride_id(new)
        self.customer_requests(new, (HOME[0] + 1, HOME[1] + 1), DRIVERS[0])
        found = self.w.book.rides.get(ride)
        offer = None if found is None else found.matching.pending()
        if found is None or offer is None or not self.attempt(Accept(ride), offer.driver):
            return
        for step in (Arrive(ride), Start(ride, CODE)):
            self.attempt(step, found.driver)
        if found.state == STARTED:
            metres = found.request.estimate_m
            total = self.w.book.fare_of(found, metres, seconds, self.w.env()).total
            self.attempt(Complete(ride, metres, seconds, total), found.driver)
            self.attempt(SettleDebt(settle), found.driver)

    # -- after the trip -------------------------------------------------------------------------

    @rule(
        rider=riders,
        new=st.integers(16, 40),
        by=st.sampled_from(["rider", "driver"]),
        ruling=st.sampled_from(["worker", "customer", "split:1/3", "split:1/2"]),
        jurors=st.integers(0, 3),
    )
    def a_disputed_ride(self, rider: bytes, new: int, by: str, ruling: str, jurors: int) -> None:
        """A whole ride, disputed by a party, and ``jurors`` of its jury rule alike."""
        self.a_whole_ride(rider, new, (HOME[0] + 1, HOME[1]), 1, 600, False, None, "rider")
        found = self.w.book.rides.get(ride_id(new))
        if found is None or found.state != COMPLETED:
            return
        self.attempt(Dispute(found.id, "the fare"), found.rider if by == "rider" else found.driver)
        if found.dispute is not None:
            for juror in self.w.book.disputes.jury(found.id)[:jurors]:
                self.attempt(Rule(found.id, ruling), juror)

    @rule(pick=picks, who=people, aim=st.booleans(), role=st.sampled_from(["rider", "driver"]))
    def dispute(self, pick: int, who: bytes, aim: bool, role: str) -> None:
        ride = self.ride(pick, (COMPLETED,))
        self.attempt(Dispute(ride, "the long way round"), self.party(ride, role, who, aim))

    @rule(pick=picks, ruling=st.sampled_from(["worker", "customer", "split:1/3", "split:1/2"]))
    def the_jury_rules(self, pick: int, ruling: str) -> None:
        ride = self.ride(pick, (DISPUTED,))
        found = self.w.book.rides.get(ride)
        if found is None or found.dispute is None:
            self.attempt(Rule(ride, ruling), MEMBERS_SORTED[pick % len(MEMBERS_SORTED)])
            return
        for juror in self.w.book.disputes.jury(ride):
            self.attempt(Rule(ride, ruling), juror)

    @rule(pick=picks, who=people, nudge=st.booleans())
    def the_dispute_window_closes(self, pick: int, who: bytes, nudge: bool) -> None:
        self.w.tick(self.w.env().policy.dispute_window_ms)
        if nudge:
            self.attempt(Release(self.ride(pick, (COMPLETED, DISPUTED))), who)
        else:
            self.time_passes(0)  # a clock hook moves no money: the next transaction will

    @rule(who=people, amount=st.integers(1, 500))
    def settle_debt(self, who: bytes, amount: int) -> None:
        self.attempt(SettleDebt(amount), who)

    # -- time --------------------------------------------------------------------------------

    @rule(ms=st.integers(0, 70_000))
    def time_passes(self, ms: int) -> None:
        self.w.tick(ms)
        self.w.book.advance(self.w.env())
        self.every_ride_moves_along_the_machine()

    @rule(who=people, pick=picks)
    def expire(self, who: bytes, pick: int) -> None:
        self.attempt(Expire(self.ride(pick)), who)

    # -- the guarantees ----------------------------------------------------------------------

    @invariant()
    def no_driver_on_two_trips(self) -> None:
        on = Counter(r.driver for r in self.w.book.rides.values() if r.state in ON_TRIP)
        assert all(n == 1 for n in on.values()), on
        assert dict(self.w.book.driving) == {
            r.driver: r.id for r in self.w.book.rides.values() if r.state in ON_TRIP
        }

    @invariant()
    def every_ride_moves_along_the_machine(self) -> None:
        """Checked after every transaction too (a rule may make several)."""
        for ride in self.w.book.rides.values():
            before = self.seen.get(ride.id)
            if before is not None and before != ride.state:
                assert ride.state in _NEXT[before], f"{before} -> {ride.state}"
            elif before is None:
                assert ride.state in (OFFERED, CANCELLED), ride.state
            self.seen[ride.id] = ride.state

    @invariant()
    def a_cancelled_request_never_becomes_a_trip(self) -> None:
        for ride in self.w.book.rides.values():
            if ride.id in self.cancelled:
                assert ride.state == CANCELLED
            if ride.state == CANCELLED:
                self.cancelled.add(ride.id)

    @invariant()
    def exactly_one_winner_per_round(self) -> None:
        for ride in self.w.book.rides.values():
            outcomes = Counter(o.outcome for o in ride.matching.offers)
            won_then_dropped = outcomes["cancelled_by_driver"]
            assert outcomes["accepted"] == won_then_dropped + bool(ride.driver), outcomes
            assert outcomes["pending"] <= 1
            if ride.driver:
                won = [o.driver for o in ride.matching.offers if o.outcome == "accepted"]
                assert won[-1] == ride.driver
            assert bool(ride.driver) == (ride.state in (*ON_TRIP, COMPLETED, DISPUTED)) or (
                ride.state == CANCELLED and ride.cancelled_by == "rider"
            )

    @invariant()
    def every_completed_trip_is_paid_once(self) -> None:
        jobs = self.w.book.pay.book.jobs
        for ride in self.w.book.rides.values():  # paid, or held until the window or a ruling
            if ride.state in (COMPLETED, DISPUTED):
                assert ride.paid != bool(ride.pending), (ride.paid, ride.pending)
                assert not ride.pending or jobs[ride.job].state == "held"
        held = {r.id for r in self.w.book.rides.values() if r.pending}
        assert self.w.book.held == held  # the index the releases read
        done = {r.id for r in self.w.book.rides.values() if r.paid}
        settled = {  # a payment: a fare or a fee (a whole refund pays no one)
            job[:16]
            for job, record in jobs.items()
            if record.state != "held"
            and (record.state != "refunded" or record.to_payee)
            and not job.endswith(b"+")  # a detour's excess, recorded as cash at completion
        }
        assert done <= settled
        paid = {r.id for r in self.w.book.rides.values() if r.paid}
        assert paid == settled
        book = self.w.book.pay.book
        assert book.conserved()
        for ride in self.w.book.rides.values():  # each round of a ride settles at most once
            settled_jobs = [j for j, r in jobs.items() if j[:16] == ride.id and r.state != "held"]
            rounds = {j[:17] for j in settled_jobs if not j.endswith(b"+")}
            assert len(rounds) == len({j for j in settled_jobs if not j.endswith(b"+")})
        for ride in self.w.book.rides.values():  # money is held only for the round under way
            held = {j for j, r in jobs.items() if j[:16] == ride.id and r.state == "held"}
            under_way = ride.state in ON_TRIP or bool(ride.pending)
            assert held <= ({ride.job} if under_way else set()), ride.state
        if self.w.ledger is not None:  # no coin made or lost; the escrow holds what is held
            assert self.w.ledger.total() == self.minted
            assert self.w.ledger.balance(escrow_account(COMMUNITY, "ride_hailing"), "") == (
                book.held()
            )

    @invariant()
    def customers_never_sit_on_a_jury_and_the_treasury_holds_what_it_earned(self) -> None:
        for ride in self.w.book.rides.values():
            if ride.dispute is not None:
                jury = set(self.w.book.disputes.jury(ride.id))
                assert jury <= MEMBERS - set(ride.parties())
        assert self.customer.member_id not in MEMBERS
        if self.w.ledger is not None:
            totals = self.w.book.pay.book.total(COMMUNITY_COINS)
            earned = totals.commission + totals.debts_settled
            assert self.w.ledger.balance(treasury_account(COMMUNITY), "") == earned

    @invariant()
    def fares_are_within_the_quote_or_agreed(self) -> None:
        for ride in self.w.book.rides.values():
            if ride.breakdown is None:
                continue
            q = ride.request
            agreed = ride.agreed_fare is not None and ride.agreed_fare >= ride.breakdown.total
            assert within_quote(ride.breakdown, q.quote_low, q.quote_high) or agreed


class EscrowRides(Rides):
    """The same, paid from the riders' coins held in escrow (one rider has none)."""

    PAYMENT = "escrow"


TestRides = Rides.TestCase
TestRides.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)
TestEscrowRides = EscrowRides.TestCase
TestEscrowRides.settings = settings(max_examples=100, stateful_step_count=60, deadline=None)

"""The run's verdict, from the final states and the ordered log -- not the app's own counters.

* **Safety of consensus**: every two phones delivered orders that are prefixes of one another,
  and no phone delivered a position twice.
* **Double assignment**: replaying the log of transactions the fold applied, a ride never has
  two drivers at once and a driver never holds two rides at once (an applied ``Accept`` takes
  a driver; the ride's ``Complete`` or ``Cancel`` releases them); and each ride's final driver
  is the one the replay ends with.
* **Unpaid completed**: every ride whose ``Complete`` was applied ends paid, at that fare.
* **Accounting**: requests = completed + cancelled + unmatched + still open.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from peoplenet.apps.ride_hailing.records import Accept, Cancel, Complete, RequestRide
from peoplenet.apps.ride_hailing.trips import (
    BY_UNMATCHED,
    CANCELLED,
    COMPLETED,
    DISPUTED,
    OPEN,
    RideBook,
)
from peoplenet.bench.city.replica import Entry
from peoplenet.runtime.consensus.core import Delivery


@dataclass(frozen=True, slots=True)
class Verdict:
    requests: int
    completed: int
    cancelled: int
    unmatched: int
    still_open: int
    double_assignments: int
    unpaid_completed: int
    safety_violations: tuple[str, ...]
    assigned_ms: dict[bytes, int]
    """Ride -> community time of its first applied ``Accept`` (for match times)."""


def consensus_safety(logs: Sequence[list[Delivery]]) -> list[str]:
    """Problems with the phones' delivered orders (empty: none)."""
    problems: list[str] = []
    keyed = [[(d.epoch, d.position, d.block, d.tx) for d in log] for log in logs]
    for i, log in enumerate(keyed):
        if len({k[:2] for k in log}) != len(log):
            problems.append(f"phone {i}: a position delivered twice")
    longest = max(keyed, key=len, default=[])
    for i, log in enumerate(keyed):
        if log != longest[: len(log)]:
            problems.append(f"phone {i}: its order is not a prefix of the longest")
    return problems


def audit(book: RideBook, log: Sequence[Entry], logs: Sequence[list[Delivery]]) -> Verdict:
    """The verdict on a finished run (see the module docstring)."""
    holder: dict[bytes, bytes] = {}  # ride -> its driver now
    holding: dict[bytes, bytes] = {}  # driver -> their ride now
    doubles = 0
    completed_fares: dict[bytes, int] = {}
    assigned_ms: dict[bytes, int] = {}
    requested: set[bytes] = set()
    for e in log:
        if e.status != "applied" or e.record is None:
            continue
        rec = e.record
        if isinstance(rec, RequestRide):
            requested.add(rec.ride)
        elif isinstance(rec, Accept):
            if rec.ride in holder or e.sender in holding:
                doubles += 1
            holder[rec.ride] = e.sender
            holding[e.sender] = rec.ride
            assigned_ms.setdefault(rec.ride, e.at_ms)
        elif isinstance(rec, Complete | Cancel):
            if isinstance(rec, Complete):
                completed_fares[rec.ride] = rec.fare
            driver = holder.pop(rec.ride, None)
            if driver is not None and holding.get(driver) == rec.ride:
                del holding[driver]
    for ride_id, driver in holder.items():
        ride = book.rides.get(ride_id)
        if ride is None or ride.driver != driver or ride.state not in OPEN:
            doubles += 1
    unpaid = 0
    for ride_id, fare in completed_fares.items():
        ride = book.rides.get(ride_id)
        if ride is None or not ride.paid or ride.fare != fare:
            unpaid += 1
    rides = [book.rides[r] for r in sorted(requested) if r in book.rides]
    completed = sum(1 for r in rides if r.state in (COMPLETED, DISPUTED))
    unmatched = sum(1 for r in rides if r.state == CANCELLED and r.cancelled_by == BY_UNMATCHED)
    cancelled = sum(1 for r in rides if r.state == CANCELLED) - unmatched
    still_open = sum(1 for r in rides if r.state in OPEN)
    return Verdict(
        len(requested),
        completed,
        cancelled,
        unmatched,
        still_open,
        doubles,
        unpaid,
        tuple(consensus_safety(logs)),
        assigned_ms,
    )


__all__ = ["Verdict", "audit", "consensus_safety"]

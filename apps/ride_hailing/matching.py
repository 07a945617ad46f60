"""Who is offered a ride, in which order: pure, and recomputable by any member.

On an ordered request, the candidates are the online drivers within ``max_rings`` rings of
the pickup cell, nearest ring first; within a ring the order is BLAKE2b(ride || driver), so
ties are broken the same on every phone without always favouring the same driver.  The list
is fixed when the ride is ordered and kept, with every offer made from it, in the ride's
:class:`Matching`: anyone can replay who was offered what, when, and what became of it.

Offers go out one at a time.  A candidate who is offline, on a trip or holding another
offer when their turn comes is skipped (recorded).  An offer expires ``timeout_ms`` of
community time after it was made, at the first ordered transaction past that (the fold has
no clock of its own), and the next candidate is offered.  When the list is exhausted the ride
is unmatched.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from peoplenet.apps.ride_hailing.records import Cell
from peoplenet.plugins.api import Value
from peoplenet.plugins.kit import Grid, chebyshev

PENDING: Final = "pending"
ACCEPTED: Final = "accepted"
DECLINED: Final = "declined"
EXPIRED: Final = "expired"
WITHDRAWN: Final = "withdrawn"
"""The ride was cancelled, or the driver went offline, while the offer was pending."""
SKIPPED: Final = "skipped"


def tie_break(ride: bytes, driver: bytes) -> bytes:
    """The order of two drivers in the same ring: stable per ride, different across rides."""
    return hashlib.blake2b(ride + driver, digest_size=16).digest()


def candidates(
    ride: bytes,
    pickup: Cell,
    online: Mapping[bytes, Cell],
    excluded: Iterable[bytes],
    *,
    max_rings: int,
    limit: int,
) -> tuple[bytes, ...]:
    """The drivers to offer ``ride`` to, nearest ring first (at most ``limit``)."""
    center = Grid(*pickup)
    out = set(excluded)
    ranked = sorted(
        (ring, tie_break(ride, driver), driver)
        for driver, cell in online.items()
        if driver not in out
        for ring in (chebyshev(center, Grid(*cell)),)
        if ring <= max_rings
    )
    return tuple(driver for _, _, driver in ranked[:limit])


@dataclass(slots=True)
class Offer:
    """One offer of a ride to a driver, and what became of it."""

    driver: bytes
    at_ms: int
    deadline_ms: int
    outcome: str = PENDING
    closed_ms: int = 0
    note: str = ""

    def due(self, now_ms: int) -> bool:
        return self.outcome == PENDING and self.deadline_ms <= now_ms

    def to_value(self) -> Value:
        return {
            "driver": self.driver,
            "at_ms": self.at_ms,
            "deadline_ms": self.deadline_ms,
            "outcome": self.outcome,
            "closed_ms": self.closed_ms,
            "note": self.note,
        }


@dataclass(slots=True)
class Matching:
    """A ride's candidate lists (one per round: the first, then one per re-offer) and offers."""

    candidates: list[bytes] = field(default_factory=list)
    cursor: int = 0
    offers: list[Offer] = field(default_factory=list)
    rounds: int = 0

    def pending(self) -> Offer | None:
        last = self.offers[-1] if self.offers else None
        return last if last is not None and last.outcome == PENDING else None

    def due(self, now_ms: int) -> bool:
        """Whether the pending offer is past its deadline at ``now_ms``."""
        offer = self.pending()
        return offer is not None and offer.due(now_ms)

    def offered_to(self) -> frozenset[bytes]:
        """Every driver this ride was ever offered to or skipped for (not asked again)."""
        return frozenset(o.driver for o in self.offers) | frozenset(self.candidates)

    def last_offer_to(self, driver: bytes) -> Offer | None:
        return next((o for o in reversed(self.offers) if o.driver == driver), None)

    def new_round(self, listed: tuple[bytes, ...]) -> None:
        self.candidates.extend(listed)
        self.rounds += 1

    def offer_next(
        self, now_ms: int, timeout_ms: int, unavailable: Callable[[bytes], str]
    ) -> Offer | None:
        """Offer the ride to the next available candidate (skipping the others); None: none."""
        while self.cursor < len(self.candidates):
            driver = self.candidates[self.cursor]
            self.cursor += 1
            why = unavailable(driver)
            if why:
                self.offers.append(Offer(driver, now_ms, now_ms, SKIPPED, now_ms, why))
                continue
            offer = Offer(driver, now_ms, now_ms + timeout_ms)
            self.offers.append(offer)
            return offer
        return None

    def close(self, outcome: str, now_ms: int) -> Offer | None:
        offer = self.pending()
        if offer is not None:
            offer.outcome, offer.closed_ms = outcome, now_ms
        return offer

    def to_value(self) -> Value:
        return {
            "candidates": tuple(self.candidates),
            "cursor": self.cursor,
            "rounds": self.rounds,
            "offers": tuple(o.to_value() for o in self.offers),
        }


__all__ = [
    "ACCEPTED",
    "DECLINED",
    "EXPIRED",
    "PENDING",
    "SKIPPED",
    "WITHDRAWN",
    "Matching",
    "Offer",
    "candidates",
    "tie_break",
]

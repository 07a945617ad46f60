"""What one simulated city is: its size, its people's habits, and its phones' protocol choices."""

from __future__ import annotations

from dataclasses import dataclass

from peoplenet.runtime.errors import LocalError


class BadCity(LocalError):
    """A city that cannot be simulated (no drivers, negative hours...)."""


@dataclass(frozen=True, slots=True)
class CityConfig:
    """One simulated city and its workload (every time in simulated seconds)."""

    drivers: int = 8
    riders: int = 40
    hours: float = 0.25
    seed: int = 0
    grid: int = 8
    """The city is ``grid`` x ``grid`` cells of about 1 km."""
    accept_p: float = 0.8
    """A driver offered a ride accepts with this probability..."""
    ignore_p: float = 0.05
    """...lets the offer expire with this one, and declines otherwise."""
    rider_cancel_p: float = 0.05
    """A rider cancels before the trip starts with this probability."""
    rate_p: float = 0.7
    """Each party of a completed ride rates the other with this probability."""
    speed_mps: float = 8.0
    """Average city speed (about 29 km/h) for pickups and trips."""
    detour: float = 1.3
    """A trip's route over the straight line."""
    pace_s: float = 30.0
    """Phones hand their queued transactions to consensus only at multiples of this (0: at
    once): fewer, fuller rounds."""
    participants: int = 4
    """Drivers in the consensus committee (the first ones; 0: every driver; at most all).
    The others' phones observe: their contact forwards them the blocks and carries their
    transactions."""
    offer_timeout_s: float = 90.0
    """The cooperative's voted ``offer_timeout_ms``, in seconds (paced phones answer later)."""
    timeout_ms: int = 1000
    """Consensus Δ."""
    min_delay: float = 0.03
    max_delay: float = 0.15
    drain_s: float = 1800.0
    """After the last request: time for open trips to finish (no new requests)."""
    max_events: int = 200_000_000

    @property
    def committee(self) -> int:
        """How many drivers take part in consensus."""
        return min(self.participants or self.drivers, self.drivers)

    def __post_init__(self) -> None:
        if self.drivers < 1 or self.riders < 0:
            raise BadCity("need at least one driver and no negative riders")
        if not self.hours > 0 or self.drain_s < 0 or self.pace_s < 0:
            raise BadCity("hours must be positive, drain and pace not negative")
        if self.participants < 0:
            raise BadCity("participants is 0 (every driver) or more")
        if not 1.0 <= self.offer_timeout_s <= 600.0:
            raise BadCity("offer_timeout_s is within 1..600 (the app's bounds)")
        if self.grid < 1:
            raise BadCity("the grid has at least one cell")
        for p in (self.accept_p, self.ignore_p, self.rider_cancel_p, self.rate_p):
            if not 0.0 <= p <= 1.0:
                raise BadCity("probabilities are within 0..1")
        if self.accept_p + self.ignore_p > 1.0:
            raise BadCity("accept_p + ignore_p is at most 1")


__all__ = ["BadCity", "CityConfig"]

"""What one simulated town is: its size, its people's habits, and its phones' protocol choices."""

from __future__ import annotations

from dataclasses import dataclass

from peoplenet.runtime.errors import LocalError


class BadTown(LocalError):
    """A town that cannot be simulated (no store, no courier, negative hours...)."""


@dataclass(frozen=True, slots=True)
class TownConfig:
    """One simulated town and its workload (every time in simulated seconds)."""

    stores: int = 4
    couriers: int = 8
    orders_per_hour: float = 40.0
    hours: float = 0.25
    seed: int = 0
    grid: int = 4
    """The town is ``grid`` x ``grid`` kit cells (about 1.1 km north-south, 0.8 km east-west)."""
    take_p: float = 0.95
    """An assigned courier takes the delivery with this probability, and declines otherwise."""
    refuse_p: float = 0.02
    """A store refuses an order with this probability (out of stock)."""
    customer_cancel_p: float = 0.02
    """A customer cancels within a minute of ordering with this probability (it counts only
    while the order is new: the store may have accepted it already)."""
    prepare_s: tuple[float, float] = (300.0, 900.0)
    """From the store starting to prepare to the order ready."""
    speed_mps: float = 4.5
    """Cycling speed in town (about 16 km/h), along ``detour`` times the straight line."""
    detour: float = 1.3
    handover_s: tuple[float, float] = (30.0, 120.0)
    """At the door: from arriving to the completion signed on the courier's phone."""
    pace_s: float = 30.0
    """Phones hand their queued transactions to consensus only at multiples of this (0: at
    once)."""
    participants: int = 4
    """Members in the consensus committee: the first stores (0: every member)."""
    timeout_ms: int = 1000
    """Consensus Δ."""
    min_delay: float = 0.03
    max_delay: float = 0.15
    drain_s: float = 3600.0
    """After the last order: time for open deliveries to finish (no new orders)."""
    max_events: int = 400_000_000

    @property
    def members(self) -> int:
        """The stores, the couriers and the dispatcher."""
        return self.stores + self.couriers + 1

    @property
    def committee(self) -> int:
        """How many members take part in consensus."""
        return min(self.participants or self.members, self.members)

    @property
    def orders(self) -> int:
        """Orders placed in the run (the rate times the hours, rounded)."""
        return round(self.orders_per_hour * self.hours)

    def __post_init__(self) -> None:
        if self.stores < 1 or self.couriers < 1 or self.orders_per_hour < 0:
            raise BadTown("need a store, a courier, and no negative order rate")
        if not self.hours > 0 or self.drain_s < 0 or self.pace_s < 0:
            raise BadTown("hours must be positive, drain and pace not negative")
        if self.participants < 0:
            raise BadTown("participants is 0 (every member) or more")
        if not 1 <= self.grid <= 30:
            raise BadTown("the grid is 1..30 cells a side (auto-assignment looks 30 rings out)")
        if not self.speed_mps > 0 or self.detour < 1.0:
            raise BadTown("speed is positive, the detour at least 1")
        for p in (self.take_p, self.refuse_p, self.customer_cancel_p):
            if not 0.0 <= p <= 1.0:
                raise BadTown("probabilities are within 0..1")
        for low, high in (self.prepare_s, self.handover_s):
            if not 0.0 <= low <= high:
                raise BadTown("a time range is 0 <= low <= high")


__all__ = ["BadTown", "TownConfig"]

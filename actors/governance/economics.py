"""Contributions and surplus distribution: the cooperative's books, as a pure ledger.

Why integers by largest remainder: every phone must pay exactly the same amounts, so shares
are whole units, they add up to the surplus exactly, and the units left over by rounding
down go to the largest remainders (ties to the lower member id) -- no float, no dust.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

from peoplenet.runtime.wire.codec import Value


def split_pro_rata(total: int, weights: Mapping[bytes, int]) -> dict[bytes, int]:
    """Split ``total`` units in proportion to ``weights``; shares sum to ``total`` exactly."""
    if total < 0:
        raise ValueError("a negative total cannot be split")
    whole = sum(weights.values())
    if whole <= 0 or any(w < 0 for w in weights.values()):
        raise ValueError("weights must be non-negative with a positive sum")
    exact = {m: Fraction(total * w, whole) for m, w in weights.items()}
    shares = {m: int(x) for m, x in exact.items()}  # floor: all non-negative
    left = total - sum(shares.values())
    by_remainder = sorted(exact, key=lambda m: (-(exact[m] - shares[m]), m))
    for m in by_remainder[:left]:
        shares[m] += 1
    return shares


class Ledger:
    """Contributions per period and member, and the distributions made (once per period)."""

    __slots__ = ("contributions", "distributions")

    def __init__(self) -> None:
        self.contributions: dict[str, dict[bytes, int]] = {}
        self.distributions: dict[str, dict[bytes, int]] = {}

    def contribute(self, period: str, member: bytes, amount: int) -> str | None:
        """Record a contribution; the reason it is refused, or None."""
        if period in self.distributions:
            return "closed"
        book = self.contributions.setdefault(period, {})
        book[member] = book.get(member, 0) + amount
        return None

    def distribute(self, period: str, surplus: Fraction) -> str | None:
        """Split ``floor(surplus)`` (at least 0) over ``period``; the refusal reason, or None."""
        if period in self.distributions:
            return "duplicate"
        book = self.contributions.get(period)
        if not book:
            return "nothing_to_distribute"
        self.distributions[period] = split_pro_rata(max(0, int(surplus // 1)), book)
        return None

    def rename(self, old: bytes, new: bytes) -> None:
        """A member moved to a new key: their open contributions follow them."""
        for period, book in self.contributions.items():
            if old in book and period not in self.distributions:
                book[new] = book.get(new, 0) + book.pop(old)

    def canonical(self) -> Value:
        """The ledger as a canonical codec value (for the state digest)."""

        def books(table: dict[str, dict[bytes, int]]) -> Value:
            return {p: tuple(sorted(b.items())) for p, b in table.items()}

        return {
            "contributions": books(self.contributions),
            "distributions": books(self.distributions),
        }

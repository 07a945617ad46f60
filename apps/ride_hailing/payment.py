"""How a finished ride is paid: today in cash, with the cooperative's commission recorded.

The rider pays the driver the fare outside the app; the commission (the cooperative's voted
``commission`` rate of the fare) becomes the driver's debt to the cooperative.  Each ride
settles at most once.  This is the seam where the work kit's escrow (the fare held from the
rider's cooperative coins at the request, released to the driver less the commission at the
end) takes over: the trip machine calls :meth:`CashBook.settle` only, with the same inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Final

from peoplenet.plugins.api import AppTxRejected, Value
from peoplenet.plugins.kit import apply_rate

CASH: Final = "cash"


@dataclass(frozen=True, slots=True)
class Settlement:
    """What one ride's payment recorded."""

    ride: bytes
    payer: bytes
    payee: bytes
    amount: int
    commission: int
    method: str
    at_ms: int


@dataclass(slots=True)
class CashBook:
    """Rides paid in cash, and the commission each driver owes the cooperative."""

    settled: dict[bytes, Settlement] = field(default_factory=dict)
    debts: dict[bytes, int] = field(default_factory=dict)

    def settle(
        self, ride: bytes, payer: bytes, payee: bytes, amount: int, rate: Fraction, *, now_ms: int
    ) -> Settlement:
        if ride in self.settled:
            raise AppTxRejected("already_settled", f"ride {ride.hex()} is paid already")
        commission = apply_rate(amount, rate)
        done = Settlement(ride, payer, payee, amount, commission, CASH, now_ms)
        self.settled[ride] = done
        if commission:
            self.debts[payee] = self.debts.get(payee, 0) + commission
        return done

    def debt(self, member: bytes) -> int:
        return self.debts.get(member, 0)

    def to_value(self) -> Value:
        return {
            "settled": tuple(
                (s.ride, s.payer, s.payee, s.amount, s.commission, s.method, s.at_ms)
                for _, s in sorted(self.settled.items())
            ),
            "debts": tuple((m, n) for m, n in sorted(self.debts.items())),
        }


__all__ = ["CASH", "CashBook", "Settlement"]

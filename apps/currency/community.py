"""The cooperative's own currency: minted only by the members' decision, moved in order.

A cooperative is not one person who can approve payments on its phone; its "approval" is its
ordered lace.  So community coins live in the consensus-ordered fold, not in the coin lace:

* **minting** happens only when an ``app`` decision carrying ``{"mint": N, "to": MEMBER}`` is
  adopted (a one-off issue), or by the egalitarian rule the members adopted as the
  ``ubi_per_period`` setting: every member gets that many coins per period of community time,
  credited at the cooperative's first transaction of each new period;
* **paying** is a :class:`CommunityPay` transaction; consensus orders every payment, so a
  second spend of the same coins finds the balance already spent and is refused
  (``insufficient_funds``) -- a double spend is impossible by construction.

Everything here is deterministic (community time, ordered input): equal on every node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from peoplenet.apps.currency.errors import CurrencyError
from peoplenet.plugins.api import Record, RemoteProtocolError, Value, wire_type

MAX_AMOUNT: Final = 10**15
MAX_MEMO: Final = 280
MAX_CATCH_UP: Final = 1000
"""At most this many missed periods are credited at once (a cooperative silent for years)."""
COMMUNITY: Final = "community"


@wire_type(220)
@dataclass(frozen=True, slots=True)
class CommunityPay(Record):
    """Pay ``amount`` of the cooperative's coins to ``to`` (ordered by consensus)."""

    to: bytes
    amount: int
    memo: str = ""

    def __post_init__(self) -> None:
        if len(self.to) != 32:
            raise RemoteProtocolError("bad_payload", "to is a 32-byte member id")
        if not 0 < self.amount <= MAX_AMOUNT:
            raise RemoteProtocolError("bad_payload", f"amount is 1..{MAX_AMOUNT}")
        if len(self.memo) > MAX_MEMO:
            raise RemoteProtocolError("bad_payload", f"memo is at most {MAX_MEMO} chars")


class CommunityRefused(CurrencyError):
    """A community payment or mint that cannot apply; ``reason`` is stable (the plugin turns
    it into the fold's ``AppTxRejected`` or the command's ``AppCommandError``)."""


@dataclass(slots=True)
class CommunityLedger:
    """Balances of the cooperative's coins, and how every coin came to be."""

    balances: dict[bytes, int] = field(default_factory=dict)
    minted: int = 0
    period: int | None = None
    """The last period (community time // period_ms) whose egalitarian mint was credited."""
    history: list[tuple[int, str, bytes, bytes, int, str]] = field(default_factory=list)
    """(time, kind, from, to, amount, memo); kind: mint, ubi, pay, move (another app's, such as
    a work app's escrow)."""

    def balance(self, member: bytes) -> int:
        return self.balances.get(member, 0)

    def mint(self, now_ms: int, to: bytes, amount: int, why: str) -> None:
        if not 0 < amount <= MAX_AMOUNT:
            raise CommunityRefused("bad_amount", f"mint amount is 1..{MAX_AMOUNT}")
        self.balances[to] = self.balance(to) + amount
        self.minted += amount
        self.history.append((now_ms, "mint", b"", to, amount, why))

    def egalitarian(
        self, now_ms: int, members: frozenset[bytes], per_period: int, period_ms: int
    ) -> int:
        """Credit every member ``per_period`` coins for each period begun since the last."""
        current = now_ms // period_ms
        if self.period is None or per_period <= 0:
            self.period = current
            return 0
        missed = min(current - self.period, MAX_CATCH_UP)
        if missed <= 0:
            return 0
        self.period = current
        amount = per_period * missed
        for m in sorted(members):
            self.balances[m] = self.balance(m) + amount
            self.minted += amount
            self.history.append((now_ms, "ubi", b"", m, amount, f"{missed} period(s)"))
        return amount * len(members)

    def rebase(self, now_ms: int, period_ms: int) -> None:
        """The period length changed: count periods of the new length from now on.

        Why: :attr:`period` is a number of periods, so one counted in the old length would
        credit up to :data:`MAX_CATCH_UP` made-up periods of the new one.  The old rule was
        credited up to now (call :meth:`egalitarian` first).
        """
        if self.period is not None:
            self.period = now_ms // period_ms

    def check_pay(self, sender: bytes, pay: CommunityPay, members: frozenset[bytes]) -> None:
        if pay.to not in members:
            raise CommunityRefused("unknown_member", "the payee is not a member")
        if pay.to == sender:
            raise CommunityRefused("self_payment", "paying oneself moves nothing")
        held = self.balance(sender)
        if pay.amount > held:
            raise CommunityRefused("insufficient_funds", f"holds {held}, pays {pay.amount}")

    def pay(self, now_ms: int, sender: bytes, pay: CommunityPay) -> int:
        self.balances[sender] = self.balance(sender) - pay.amount
        self.balances[pay.to] = self.balance(pay.to) + pay.amount
        self.history.append((now_ms, "pay", sender, pay.to, pay.amount, pay.memo))
        return self.balances[sender]

    def move(self, now_ms: int, frm: bytes, to: bytes, amount: int, memo: str) -> None:
        """Another app's move, checked by the funds provider (:mod:`.funds`) first."""
        self.balances[frm] = self.balance(frm) - amount
        self.balances[to] = self.balance(to) + amount
        self.history.append((now_ms, "move", frm, to, amount, memo))

    def total(self) -> int:
        return sum(self.balances.values())

    def snapshot(self) -> Value:
        return {
            "balances": tuple(sorted((m, b) for m, b in self.balances.items() if b)),
            "minted": self.minted,
            "period": self.period if self.period is not None else -1,
            "entries": len(self.history),
        }


__all__ = ["COMMUNITY", "MAX_AMOUNT", "CommunityLedger", "CommunityPay", "CommunityRefused"]

"""One member's chain state in the coin lace, and Flash's repayment rule.

Why per chain: every change to a member's holdings is a block *by that member* (an accept
credits, an issue debits), so its balances are a fold of its own chain alone.  A forked
(equivocating) member has one state per branch; the ledger keeps the states of chain tips
and rebuilds an inner block's state by replaying its branch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(slots=True)
class ChainState:
    """What a member's chain says after one of its blocks."""

    balances: dict[bytes, int] = field(default_factory=dict)
    """currency -> holding."""
    consumed: set[bytes] = field(default_factory=set)
    """Transfers (and credit offers) this chain has accepted: each is accepted once."""
    approved: set[bytes] = field(default_factory=set)
    """As sovereign: transfers in my currency I approved (or, as their payee, accepted)."""
    approved_tip: dict[bytes, bytes] = field(default_factory=dict)
    """As sovereign: payer -> the deepest approved transfer of theirs (they lie on one path)."""
    disapproved: set[bytes] = field(default_factory=set)
    claims: dict[bytes, int] = field(default_factory=dict)
    """As sovereign: accepted redemption claim -> amount still to repay."""
    limits: dict[bytes, int] = field(default_factory=dict)
    """currency -> most of it I hold (mutual-credit lines)."""

    def copy(self) -> ChainState:
        return ChainState(
            dict(self.balances),
            set(self.consumed),
            set(self.approved),
            dict(self.approved_tip),
            set(self.disapproved),
            dict(self.claims),
            dict(self.limits),
        )

    def balance(self, currency: bytes) -> int:
        return self.balances.get(currency, 0)


def compute_repayments(
    amount: int, prefs: Sequence[bytes], balances: Mapping[bytes, int], own: bytes
) -> list[tuple[bytes, int]]:
    """How sovereign ``own`` repays ``amount``: preferred currencies it holds, in order, then own.

    Flash's ``compute_repayments`` (Art of GLP); ``own`` stands for its ``'self'``.
    """
    out: list[tuple[bytes, int]] = []
    for currency in prefs:
        if amount == 0:
            break
        if currency == own:
            continue
        take = min(balances.get(currency, 0), amount)
        if take > 0:
            out.append((currency, take))
            amount -= take
    if amount > 0:
        out.append((own, amount))
    return out

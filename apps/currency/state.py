"""One member's chain state in the coin lace, and Flash's repayment rule.

Why per chain: every change to a member's holdings is a block *by that member* (an accept
credits, an issue debits), so its balances are a fold of its own chain alone.  A forked
(equivocating) member has one state per branch; the ledger keeps the states of chain tips
and rebuilds an inner block's state by replaying its branch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableSet, Sequence, Set
from dataclasses import dataclass, field


class _Layered(MutableSet[bytes]):
    """A set read through to a base it never changes: what is added stays its own.

    Why: a chain's ``consumed`` and ``approved`` sets grow with every payment it takes part in;
    a dry run on top of them must not copy them (that made every payment cost O(the history)).
    Removing a base member copies the base once (the fold only ever adds).
    """

    __slots__ = ("_added", "_base", "_own_base")

    def __init__(self, base: Set[bytes]) -> None:
        self._base = base
        self._own_base = False
        self._added: set[bytes] = set()

    def __contains__(self, item: object) -> bool:
        return item in self._added or item in self._base

    def __iter__(self) -> Iterator[bytes]:
        yield from self._base
        yield from self._added

    def __len__(self) -> int:
        return len(self._base) + len(self._added)

    def add(self, value: bytes) -> None:
        if value not in self._base:
            self._added.add(value)

    def discard(self, value: bytes) -> None:
        if value in self._added:
            self._added.discard(value)
        elif value in self._base:
            if not self._own_base:
                self._base, self._own_base = set(self._base), True
            assert isinstance(self._base, set)
            self._base.discard(value)


@dataclass(slots=True)
class ChainState:
    """What a member's chain says after one of its blocks."""

    balances: dict[bytes, int] = field(default_factory=dict)
    """currency -> holding."""
    consumed: MutableSet[bytes] = field(default_factory=set)
    """Transfers (and credit offers) this chain has accepted: each is accepted once."""
    approved: MutableSet[bytes] = field(default_factory=set)
    """As sovereign: transfers in my currency I approved (or, as their payee, accepted)."""
    approved_tip: dict[bytes, bytes] = field(default_factory=dict)
    """As sovereign: payer -> the deepest approved transfer of theirs (they lie on one path)."""
    disapproved: MutableSet[bytes] = field(default_factory=set)
    claims: dict[bytes, int] = field(default_factory=dict)
    """As sovereign: accepted redemption claim -> amount still to repay."""
    limits: dict[bytes, int] = field(default_factory=dict)
    """currency -> most of it I hold (mutual-credit lines)."""

    def copy(self) -> ChainState:
        """An independent copy: O(the chain's history), for a state kept past the next fold."""
        return ChainState(
            dict(self.balances),
            set(self.consumed),
            set(self.approved),
            dict(self.approved_tip),
            set(self.disapproved),
            dict(self.claims),
            dict(self.limits),
        )

    def draft(self) -> ChainState:
        """A state to dry-run blocks on, in O(1) of the history: its sets read through to this
        one's (only what the dry run adds is its own), its small maps (one entry per currency,
        payer or open claim) are copied.

        This state must not change while the draft is used: a ledger's tip state changes only
        when it folds a block, so a wallet drafts and discards within one call.
        """
        return ChainState(
            dict(self.balances),
            _Layered(self.consumed),
            _Layered(self.approved),
            dict(self.approved_tip),
            _Layered(self.disapproved),
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

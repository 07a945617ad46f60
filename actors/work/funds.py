"""What a fold may ask of the cooperative's money: the :class:`Funds` protocol.

A work app holds a customer's fare and pays the worker in the *same* ordered transaction that
decides it, so its fold must reach money another app keeps (the currency app's cooperative
coins).  Apps never import each other: the app platform hands the fold a :class:`Funds` as
``FoldContext.funds`` and routes it to the app that provides it (docs/plugins.md).  Defined
here, below the platform, so the kit's pure cores (:mod:`peoplenet.actors.work.escrow`) type
against it; apps import it from ``peoplenet.plugins.api``.

Accounts are 32-byte ids: members' ids and accounts derived by hashing (the escrow of an app,
the cooperative's treasury: :mod:`peoplenet.actors.work.escrow`).  Amounts are integer cents.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, NamedTuple, Protocol

COMMUNITY_COINS: Final = "community"
"""The currency of the cooperative's own coins (the currency app provides it)."""

NO_FUNDS_PROVIDER: Final = "no_funds_provider"
"""The refusal of every money operation when no enabled app provides funds."""


class Move(NamedTuple):
    """One leg of a payment: ``amount`` of ``currency`` from ``frm`` to ``to``."""

    frm: bytes
    to: bytes
    currency: str
    amount: int
    memo: str = ""


class Funds(Protocol):
    """The cooperative's money as one ordered transaction of an app sees it.

    Every method answers as of the moves this transaction made so far.  A move is all or
    nothing: refused, it changes nothing anywhere.  Moves made in ``check_tx`` are a dry run
    (they count for later questions in that same check, then vanish); moves made in
    ``apply_tx`` take effect when ``apply_tx`` returns, and not at all if it raises.
    """

    def balance(self, account: bytes, currency: str) -> int:
        """What ``account`` holds of ``currency``; raises ``AppTxRejected`` when no app
        provides funds (``no_funds_provider``) or the currency is unknown
        (``unknown_currency``)."""
        ...

    def can_move(self, frm: bytes, to: bytes, currency: str, amount: int) -> str:
        """``""`` if the move would be taken now, else the reason it would be refused."""
        ...

    def move(self, frm: bytes, to: bytes, currency: str, amount: int, memo: str = "") -> None:
        """Move ``amount``; raises ``AppTxRejected`` with the reason (nothing moved)."""
        ...

    def move_all(self, moves: Sequence[Move]) -> None:
        """Every move or none (several legs of one payment: the worker's share and the
        commission); raises ``AppTxRejected`` with the first refusal (nothing moved)."""
        ...


__all__ = ["COMMUNITY_COINS", "NO_FUNDS_PROVIDER", "Funds", "Move"]

"""A cooperative's money for the escrow tests: the real currency ledger behind the real handle.

:class:`Coop` plays the host's part without threads: each :meth:`Coop.tx` is one ordered
transaction of the work app, whose ``ctx.funds`` is a :class:`FundsHandle` calling the currency
app's provider (``serve_funds``) on the real :class:`CommunityLedger`; the handle's moves are
taken when the transaction returns, none if it raises -- as the host does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from peoplenet.actors.work.escrow import EscrowBook
from peoplenet.apps.currency.community import CommunityLedger
from peoplenet.apps.currency.funds import serve_funds
from peoplenet.plugins.api import FoldContext, Value
from peoplenet.plugins.funds import FundsHandle

T = TypeVar("T")
COMMUNITY = b"f/" + bytes(range(32))
APP = "rides"
START_MS = 1_700_000_000_000
MEMBERS = tuple(bytes([0xA0 + i]) * 32 for i in range(4))
OUTSIDER = bytes([0xEE]) * 32
"""A customer: not a member of the cooperative."""


class Coop:
    """The cooperative's coins (each member starts with ``coins``) and one app's escrow book."""

    def __init__(self, coins: int = 1000, *, provider: bool = True) -> None:
        self.ledger = CommunityLedger()
        for m in MEMBERS:
            self.ledger.mint(START_MS, m, coins, "test")
        self.book = EscrowBook(APP)
        self.now_ms = START_MS
        self.provider = provider

    def ctx(self, sender: bytes, funds: FundsHandle | None = None) -> FoldContext:
        return FoldContext(
            COMMUNITY,
            self.now_ms,
            frozenset(MEMBERS),
            {},
            {"commission": "1/10"},
            sender,
            (1, 0),
            funds=funds,
        )

    def handle(self, sender: bytes) -> FundsHandle:
        call = self._call if self.provider else None
        return FundsHandle(
            call, app=APP, community=COMMUNITY, sender=sender, members=frozenset(MEMBERS)
        )

    def _call(self, op: str, args: Mapping[str, object]) -> Value:
        return serve_funds(self.ledger, op, args, self.now_ms)

    def tx(self, sender: bytes, step: Callable[[FundsHandle, FoldContext], T]) -> T:
        """One transaction from ``sender``: ``step(funds, ctx)``; its moves are taken when it
        returns, none when it raises."""
        self.now_ms += 1000
        handle = self.handle(sender)
        try:
            result = step(handle, self.ctx(sender, handle))
        finally:
            handle.live = False
        handle.commit()
        return result

    def snapshot(self) -> tuple[Value, Value]:
        """The book's and the ledger's (with its history's length): equal iff nothing moved."""
        return self.book.to_value(), self.ledger.snapshot()

    def balance(self, account: bytes) -> int:
        return self.ledger.balance(account)

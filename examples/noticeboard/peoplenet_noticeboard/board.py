"""The board itself: a pure, deterministic core (no clock, no I/O; time comes from the fold).

Every member's node folds the same ordered transactions through :class:`Board` and must reach
the same board, so everything here depends only on its arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from peoplenet.plugins.api import AppTxRejected, Value
from peoplenet_noticeboard.records import Notice, PinNotice, PostNotice, WithdrawNotice

Tx = PostNotice | PinNotice | WithdrawNotice


@dataclass(slots=True)
class Board:
    """The notices of one cooperative, oldest first, numbered from 1."""

    notices: list[Notice] = field(default_factory=list)
    next_number: int = 1

    def check(self, tx: Tx, sender: bytes, max_length: int) -> None:
        """Raise :class:`AppTxRejected` if ``tx`` from ``sender`` may not apply."""
        if isinstance(tx, PostNotice):
            if not tx.text.strip():
                raise AppTxRejected("empty", "a notice needs some text")
            if len(tx.text) > max_length:
                raise AppTxRejected("too_long", f"{len(tx.text)} > {max_length} characters")
            return
        notice = self.find(tx.number)
        if notice is None:
            raise AppTxRejected("unknown_notice", f"no notice {tx.number} on the board")
        if notice.author != sender:
            raise AppTxRejected("not_author", f"notice {tx.number} is not the sender's")

    def apply(self, tx: Tx, sender: bytes, now_ms: int, max_notices: int) -> Value:
        """Apply a checked transaction; what happened, for the member's ``recent`` list."""
        if isinstance(tx, PostNotice):
            number = self.post(sender, tx.text, now_ms, max_notices)
            return {"posted": number}
        if isinstance(tx, PinNotice):
            self.notices = [
                replace(n, pinned=tx.pinned) if n.number == tx.number else n for n in self.notices
            ]
            return {"pinned" if tx.pinned else "unpinned": tx.number}
        self.notices = [n for n in self.notices if n.number != tx.number]
        return {"withdrawn": tx.number}

    def post(self, author: bytes, text: str, now_ms: int, max_notices: int) -> int:
        number = self.next_number
        self.next_number += 1
        self.notices.append(Notice(number, author, text, now_ms, pinned=False))
        self.trim(max_notices)
        return number

    def trim(self, max_notices: int) -> None:
        """Drop the oldest notices beyond ``max_notices``: unpinned ones first."""
        while len(self.notices) > max(max_notices, 0):
            victim = next((n for n in self.notices if not n.pinned), self.notices[0])
            self.notices.remove(victim)

    def find(self, number: int) -> Notice | None:
        return next((n for n in self.notices if n.number == number), None)

    def snapshot(self) -> Value:
        return {"next": self.next_number, "notices": tuple(self.notices)}

    def listing(self) -> tuple[Value, ...]:
        """The board as a member reads it: pinned first, then newest first."""
        ordered = sorted(self.notices, key=lambda n: (not n.pinned, -n.number))
        return tuple(
            {
                "number": n.number,
                "author": n.author.hex() if n.author else "cooperative",
                "text": n.text,
                "at_ms": n.at_ms,
                "pinned": n.pinned,
            }
            for n in ordered
        )


__all__ = ["Board", "Tx"]

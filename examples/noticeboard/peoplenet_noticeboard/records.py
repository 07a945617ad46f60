"""The noticeboard's records: its transactions and the notices of its snapshot.

Tags 900-909 are reserved for this app (900-903 used; 904-909 spare for later versions).
A tag is never reused for another meaning: old transactions stay in the lace forever.
"""

from __future__ import annotations

from dataclasses import dataclass

from peoplenet.plugins.api import Record, wire_type


@wire_type(900)
@dataclass(frozen=True, slots=True)
class PostNotice(Record):
    """Post a notice (the sender is its author)."""

    text: str


@wire_type(901)
@dataclass(frozen=True, slots=True)
class PinNotice(Record):
    """Pin (or unpin) one of the sender's own notices: pinned ones are dropped last."""

    number: int
    pinned: bool


@wire_type(902)
@dataclass(frozen=True, slots=True)
class WithdrawNotice(Record):
    """Take one of the sender's own notices off the board."""

    number: int


@wire_type(903)
@dataclass(frozen=True, slots=True)
class Notice(Record):
    """A notice on the board; ``author`` is empty for the cooperative's own announcements."""

    number: int
    author: bytes
    text: str
    at_ms: int
    pinned: bool


__all__ = ["Notice", "PinNotice", "PostNotice", "WithdrawNotice"]

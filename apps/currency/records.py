"""Payload records of the coin lace (Grassroots Flash), wire tags 200-208.

Every record that changes its creator's holding of a currency carries ``newbal``: the
creator's balance in that currency after the block (Flash's ``payment(self, newbal)``).  The
ledger recomputes it from the creator's own chain and refuses the block if they differ, so a
block is self-describing and "balanced" is checkable by anyone.

Field checks raise :class:`RemoteProtocolError` ``bad_payload``, so a malformed record fails
decoding and never reaches the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from peoplenet.plugins.api import ID_LEN, Record, RemoteProtocolError, wire_type

MAX_AMOUNT: Final = 10**15
"""Most cents one block may move or mint."""
MAX_BALANCE: Final = 10**18
"""Most cents one member may hold in one currency (fits a signed 64-bit int)."""
MAX_MEMO: Final = 256
MAX_PREFS: Final = 16
MAX_DEADLINE: Final = 2**62


def _bad(detail: str) -> RemoteProtocolError:
    return RemoteProtocolError("bad_payload", detail)


def _id(value: bytes, name: str) -> None:
    if len(value) != ID_LEN:
        raise _bad(f"{name} must be 32 bytes")


def _amount(value: int, name: str = "amount") -> None:
    if not 0 < value <= MAX_AMOUNT:
        raise _bad(f"{name} must be in 1..{MAX_AMOUNT}")


def _balance(value: int, name: str = "newbal") -> None:
    if not 0 <= value <= MAX_BALANCE:
        raise _bad(f"{name} must be in 0..{MAX_BALANCE}")


@wire_type(200)
@dataclass(frozen=True, slots=True)
class Issue(Record):
    """Pay ``amount`` of ``currency`` (a sovereign's member id) to ``to``."""

    to: bytes
    currency: bytes
    amount: int
    newbal: int
    memo: str

    def __post_init__(self) -> None:
        _id(self.to, "to")
        _id(self.currency, "currency")
        _amount(self.amount)
        _balance(self.newbal)
        if len(self.memo) > MAX_MEMO:
            raise _bad(f"memo longer than {MAX_MEMO}")


@wire_type(201)
@dataclass(frozen=True, slots=True)
class Approve(Record):
    """The sovereign of a transfer's currency vouches that it is no double spend."""

    transfer: bytes

    def __post_init__(self) -> None:
        _id(self.transfer, "transfer")


@wire_type(202)
@dataclass(frozen=True, slots=True)
class Accept(Record):
    """The payee takes a transfer into its balance (consumes it, once)."""

    transfer: bytes
    approval: bytes | None
    """The sovereign's Approve block, when the transfer needs one."""
    newbal: int

    def __post_init__(self) -> None:
        _id(self.transfer, "transfer")
        if self.approval is not None:
            _id(self.approval, "approval")
        _balance(self.newbal)


@wire_type(203)
@dataclass(frozen=True, slots=True)
class Mint(Record):
    """Create ``amount`` of the creator's own coins (the only unbalanced operation)."""

    amount: int
    newbal: int

    def __post_init__(self) -> None:
        _amount(self.amount)
        _balance(self.newbal)


@wire_type(204)
@dataclass(frozen=True, slots=True)
class Disapprove(Record):
    """The sovereign voids ``transfer``: ``evidence`` is a conflicting transfer (double spend)."""

    transfer: bytes
    evidence: bytes

    def __post_init__(self) -> None:
        _id(self.transfer, "transfer")
        _id(self.evidence, "evidence")
        if self.transfer == self.evidence:
            raise _bad("a transfer is no evidence against itself")


@wire_type(205)
@dataclass(frozen=True, slots=True)
class Redeem(Record):
    """A claim: return ``amount`` coins of ``currency`` to their sovereign, to be repaid.

    The sovereign repays in ``prefs`` (in that order, as far as it holds them), then in its
    own coins, before ``deadline`` (the cooperative's clock, e.g. unix seconds).
    """

    currency: bytes
    amount: int
    newbal: int
    prefs: tuple[bytes, ...]
    deadline: int

    def __post_init__(self) -> None:
        _id(self.currency, "currency")
        _amount(self.amount)
        _balance(self.newbal)
        if len(self.prefs) > MAX_PREFS:
            raise _bad(f"more than {MAX_PREFS} preferred currencies")
        for pref in self.prefs:
            _id(pref, "prefs")
        if len(set(self.prefs)) != len(self.prefs) or self.currency in self.prefs:
            raise _bad("prefs must be distinct and exclude the redeemed currency")
        if not 0 <= self.deadline <= MAX_DEADLINE:
            raise _bad("deadline out of range")


@wire_type(206)
@dataclass(frozen=True, slots=True)
class Repay(Record):
    """The sovereign pays back part of claim ``claim`` in ``currency`` to the claimer."""

    claim: bytes
    currency: bytes
    amount: int
    newbal: int

    def __post_init__(self) -> None:
        _id(self.claim, "claim")
        _id(self.currency, "currency")
        _amount(self.amount)
        _balance(self.newbal)


@wire_type(207)
@dataclass(frozen=True, slots=True)
class CreditOffer(Record):
    """Open a mutual-credit line: give ``peer`` ``amount`` new own coins, asking as many back.

    ``limit`` is the most of ``peer``'s coins the creator will hold from now on.
    """

    peer: bytes
    amount: int
    limit: int

    def __post_init__(self) -> None:
        _id(self.peer, "peer")
        _amount(self.amount)
        _balance(self.limit, "limit")


@wire_type(208)
@dataclass(frozen=True, slots=True)
class CreditAccept(Record):
    """Take the offer's coins (``newbal``: own holding of them after) and give as many back."""

    offer: bytes
    limit: int
    newbal: int

    def __post_init__(self) -> None:
        _id(self.offer, "offer")
        _balance(self.limit, "limit")
        _balance(self.newbal)


CoinRecord = (
    Issue | Approve | Accept | Mint | Disapprove | Redeem | Repay | CreditOffer | CreditAccept
)
COIN_RECORDS: Final = (
    Issue,
    Approve,
    Accept,
    Mint,
    Disapprove,
    Redeem,
    Repay,
    CreditOffer,
    CreditAccept,
)

KIND: Final[dict[type[Record], str]] = {
    Issue: "issue",
    Approve: "approve",
    Accept: "accept",
    Mint: "mint",
    Disapprove: "disapprove",
    Redeem: "redeem",
    Repay: "repay",
    CreditOffer: "credit_offer",
    CreditAccept: "credit_accept",
}
"""The stable name of each record kind (used in outcomes and history)."""

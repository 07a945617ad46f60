"""Receipts: how a customer, who is no participant, learns what became of a request.

A customer does not run the cooperative's consensus, so it cannot see the order.  Instead,
members' nodes each sign a :class:`CustomerReceipt` -- the community, the app, the request's
digest, where in the order the outcome happened and what it was -- from their own fold, and the
customer accepts an outcome once **more than a third** of the members listed in the
cooperative's profile signed the very same receipt (:func:`tally`).

Why a third: the cooperative's consensus is safe only while fewer than a third of its members
are faulty, so more than a third of the members always includes an honest one, and an honest
member signs only what its fold derived from the finalized order, which is the same on every
honest node.  More is not needed for truth, and asking for more would let a third of the
members (those the consensus already tolerates as faulty) silence every receipt by refusing
to sign.  What this cannot see -- a profile whose member list is stale -- is in
docs/work-kit.md#customers.

The same holds for the later events an app declares of a request (:func:`customer_event`:
``assigned``, ``finished``...): each is receipted on its own, at its own place in the order,
and a customer asks about one at a time (:class:`ReceiptQuery` ``event``).

Pure: no clock, no I/O; a member's node signs through its own signer (domain
``peoplenet/customer-receipt``, so a receipt signature is never anything else's).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Final, TypeAlias

from peoplenet.runtime.consensus.consumer import domain_message
from peoplenet.runtime.errors import RemoteProtocolError
from peoplenet.runtime.keys.identity import ID_LEN, SIGNATURE_LEN, verify
from peoplenet.runtime.wire.codec import Record, Value, encode, wire_type

RECEIPT_DOMAIN: Final = b"peoplenet/customer-receipt"
_RECEIPT_PERSON: Final = b"peoplenet.rcpt1"
SUBMITTED: Final = "submitted"
"""A carrier's own word (not an outcome): it put the request in the order (``detail``: the
transaction's key).  Position (0, 0)."""
REFUSED: Final = "refused"
"""A carrier's own word: it would not carry the request (``detail``: ``reason: detail``)."""
UNKNOWN: Final = "unknown"
"""A member's node has not seen the request in the order (yet)."""
CARRIER_STATUSES: Final = frozenset({SUBMITTED, REFUSED, UNKNOWN})
"""Statuses that are one node's word only: never an outcome, whatever their count."""
ORDER_STATUSES: Final = frozenset({"applied", "rejected"})
"""What the order made of a carried request (the host's result for its transaction)."""
CUSTOMER_EVENTS: Final = "customer_events"
"""The key of an app's apply result under which it declares later events of requests."""
_EVENT: Final = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
THRESHOLD: Final = Fraction(1, 3)
"""A receipt is accepted once strictly more than this share of the profile's members signed it."""
MAX_STATUS: Final = 40
MAX_DETAIL: Final = 256
DIGEST_LEN: Final = 32

Statement: TypeAlias = tuple[bytes, str, bytes, int, int, str, str]
"""What a receipt says: ``(community, app, request, epoch, position, status, detail)``."""


class InvalidReceipt(RemoteProtocolError):
    """A receipt whose shape is wrong (it never decodes)."""

    reason = "invalid_receipt"


class ConflictingReceipts(RemoteProtocolError):
    """Two different outcomes of one request each passed the threshold.

    Impossible while fewer than a third of the profile's members are faulty: the customer
    should trust neither, and tell the cooperative (the signatures are the evidence).
    """

    reason = "conflicting_receipts"


@wire_type(164)
@dataclass(frozen=True, slots=True)
class CustomerReceipt(Record):
    """One member's signed statement of what became of one customer request.

    ``epoch``/``position`` locate the transaction that produced the outcome in the
    cooperative's order; ``status`` is ``applied`` or ``rejected`` (or an app's later event,
    such as ``assigned``); ``detail`` the refusal reason or the app's short note.
    """

    community: bytes
    app: str
    request: bytes
    epoch: int
    position: int
    status: str
    detail: str
    member: bytes
    signature: bytes

    def __post_init__(self) -> None:
        if len(self.request) != DIGEST_LEN:
            raise InvalidReceipt("bad_request", "a request digest is 32 bytes")
        if self.epoch < 0 or self.position < 0:
            raise InvalidReceipt("bad_position", "epoch and position are 0 or more")
        if not 1 <= len(self.status) <= MAX_STATUS:
            raise InvalidReceipt("bad_status", f"a status is 1..{MAX_STATUS} characters")
        if len(self.detail) > MAX_DETAIL:
            raise InvalidReceipt("bad_detail", f"at most {MAX_DETAIL} characters")
        if len(self.member) != ID_LEN:
            raise InvalidReceipt("bad_member", "a member is a 32-byte id")
        if len(self.signature) != SIGNATURE_LEN:
            raise InvalidReceipt("bad_signature", "a signature is 64 bytes")

    @property
    def statement(self) -> Statement:
        """What the receipt says, without who signed it: equal statements are one outcome."""
        return (
            self.community,
            self.app,
            self.request,
            self.epoch,
            self.position,
            self.status,
            self.detail,
        )

    @property
    def digest(self) -> bytes:
        return receipt_digest(self.statement)

    def valid(self) -> bool:
        """Whether ``member`` signed exactly this statement."""
        return verify(self.member, receipt_message(self.digest), self.signature)


@wire_type(167)
@dataclass(frozen=True, slots=True)
class ReceiptQuery(Record):
    """A customer asks a member's node what became of one of its requests (by digest):
    ``event`` ``""`` for the outcome of the request itself, else a later event the app
    declared (``assigned``, ``finished``: :func:`customer_event`)."""

    community: bytes
    request: bytes
    event: str

    def __post_init__(self) -> None:
        if len(self.event) > MAX_STATUS:
            raise InvalidReceipt("bad_event", f"an event is at most {MAX_STATUS} characters")
        if not 1 <= len(self.community) <= 64:
            raise InvalidReceipt("bad_community", "a community id is 1..64 bytes")
        if len(self.request) != DIGEST_LEN:
            raise InvalidReceipt("bad_request", "a request digest is 32 bytes")


def customer_event(request: bytes, event: str, detail: str = "") -> dict[str, Value]:
    """A later event of a customer's request, for the app's ``peoplenet_apply_tx`` result.

    An app that assigns, finishes or cancels what a customer asked for returns, from the
    transaction that does it, ``{..., CUSTOMER_EVENTS: (customer_event(digest, "assigned"),)}``:
    every member's node notes the event at that transaction's place in the order and signs
    receipts of it, which the customer counts like the request's own outcome.  ``event`` is
    snake_case (at most 40 characters), never ``applied``/``rejected`` or a carrier's word.
    Raises :class:`InvalidReceipt` otherwise (the app's bug: its command or fold should not
    make one).
    """
    if not _EVENT.match(event) or event in ORDER_STATUSES | CARRIER_STATUSES:
        raise InvalidReceipt("bad_event", f"{event!r} is no event name")
    if len(request) != DIGEST_LEN or len(detail) > MAX_DETAIL:
        raise InvalidReceipt("bad_event", "a request digest is 32 bytes; detail <= 256 chars")
    return {"request": request, "event": event, "detail": detail}


def receipt_digest(statement: Statement) -> bytes:
    """``H(32, "peoplenet.rcpt1")(enc(statement))``: ``[community, app, request, epoch,
    position, status, detail]``."""
    data = encode(statement)
    return hashlib.blake2b(data, digest_size=32, person=_RECEIPT_PERSON).digest()


def receipt_message(digest: bytes) -> bytes:
    """What a member's key signs: the digest under :data:`RECEIPT_DOMAIN`."""
    return domain_message(RECEIPT_DOMAIN, digest)


def make_receipt(
    member: bytes,
    sign: Callable[[bytes, bytes], bytes],
    statement: Statement,
) -> CustomerReceipt:
    """A receipt of ``statement`` signed through ``sign(domain, digest)`` (a node's signer)."""
    digest = receipt_digest(statement)
    return CustomerReceipt(*statement, member, sign(RECEIPT_DOMAIN, digest))


@dataclass(frozen=True, slots=True)
class Tally:
    """What a customer's receipts show: the accepted statement (if any) and who signed what."""

    accepted: CustomerReceipt | None
    """One receipt of the statement that passed the threshold (None: none did yet)."""
    signers: int
    """Distinct profile members who validly signed the accepted statement (or the most-signed)."""
    needed: int
    """Signers a statement needs: the least count strictly above the threshold's share."""
    ignored: int
    """Receipts not counted: bad signature, not from a profile member, another request, or
    a member's second receipt for the request."""


def needed(members: int, threshold: Fraction = THRESHOLD) -> int:
    """The least number of signers strictly above ``threshold`` of ``members``."""
    return math.floor(threshold * members) + 1


def tally(
    receipts: Iterable[CustomerReceipt],
    members: Sequence[bytes],
    request: bytes,
    threshold: Fraction = THRESHOLD,
    *,
    event: str = "",
) -> Tally:
    """Count valid receipts of ``request`` from ``members`` (the profile's), one per member.

    ``event`` is what the customer asked about: ``""`` the request's own outcome (``applied``
    or ``rejected``), else a later event the app declared; receipts of anything else (a
    carrier's word, ``unknown``, another event) are not counted, nor held against their signer.

    Raises :class:`ConflictingReceipts` if two different statements both pass.  A member who
    signs two different statements of one request counts for neither (its first is kept and
    the second ignored would let it choose; dropping both costs the honest nothing).
    """
    listed = set(members)
    by_member: dict[bytes, CustomerReceipt] = {}
    liars: set[bytes] = set()
    total = 0
    for r in receipts:
        total += 1
        wanted = r.status in ORDER_STATUSES if not event else r.status == event
        if r.request != request or not wanted:
            continue  # (a carrier's word, "not seen yet", another event: no answer, no lie)
        if r.member not in listed or not r.valid():
            continue
        seen = by_member.setdefault(r.member, r)
        if seen.statement != r.statement:
            liars.add(r.member)
    counts: dict[Statement, list[CustomerReceipt]] = {}
    for member, r in sorted(by_member.items()):
        if member not in liars:
            counts.setdefault(r.statement, []).append(r)
    ignored = total - sum(len(rs) for rs in counts.values())
    need = needed(len(listed), threshold)
    passed = [rs for rs in counts.values() if len(rs) >= need]
    if len(passed) > 1:
        raise ConflictingReceipts(
            "conflicting_receipts", f"{len(passed)} outcomes each signed by {need} or more"
        )
    if passed:
        return Tally(passed[0][0], len(passed[0]), need, ignored)
    best = max((len(rs) for rs in counts.values()), default=0)
    return Tally(None, best, need, ignored)


__all__ = [
    "CARRIER_STATUSES",
    "CUSTOMER_EVENTS",
    "ORDER_STATUSES",
    "RECEIPT_DOMAIN",
    "REFUSED",
    "SUBMITTED",
    "THRESHOLD",
    "UNKNOWN",
    "ConflictingReceipts",
    "CustomerReceipt",
    "InvalidReceipt",
    "ReceiptQuery",
    "Statement",
    "Tally",
    "customer_event",
    "make_receipt",
    "needed",
    "receipt_digest",
    "receipt_message",
    "tally",
]

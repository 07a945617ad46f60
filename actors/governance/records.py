"""Governance transactions: what members put on the community's consensus (tags 110-129).

Why one envelope: consensus orders opaque codec values; every governance transaction is a
:class:`GovTx` carrying the submitter's clock (``at``, ms) and one action, so the fold can
derive community time from the same stream it folds.  Records check their own shape on
construction (a malformed one never decodes, so a block carrying it is refused); whether an
action makes sense *now* -- membership, open decisions, sureties -- is the fold's business,
and a refusal there is recorded, never silent.  Signed records (sureties, key updates) sign
domain-separated digests that name the community (``founding_digest``), so a signature made
for one cooperative cannot be replayed in another.

Limits added after records were first stored -- the length of a candidate's name, the size
of an app's settings -- are the fold's (a rejection with a reason), never the decoder's: a
block that decoded once must decode forever, or a stored lace could no longer be replayed and
nodes of two versions would disagree on which blocks are valid.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from peoplenet.actors.governance.charter import (
    Charter,
    InvalidCharter,
    fraction_text,
    parse_fraction,
)
from peoplenet.actors.governance.decision import KINDS, YES_NO_KINDS
from peoplenet.runtime.consensus.constitution import Approval
from peoplenet.runtime.consensus.consumer import domain_message
from peoplenet.runtime.errors import RemoteProtocolError
from peoplenet.runtime.keys.identity import ID_LEN, SIGNATURE_LEN, Identity, MemberId
from peoplenet.runtime.wire.codec import Record, Value, wire_type

MAX_LABEL_LEN: Final = 64
MAX_AMOUNT: Final = 10**12
MAX_VOUCHES: Final = 1024
MAX_CANDIDATES: Final = 256
MAX_APP_TX: Final = 64 * 1024
_SURETY_PERSON: Final = b"peoplenet.sure1"
_REKEY_PERSON: Final = b"peoplenet.rekey1"


class InvalidGovTx(RemoteProtocolError):
    """A governance record whose shape is wrong, whatever the community's state."""

    reason = "invalid_gov_tx"


def _check_id(value: bytes, what: str) -> None:
    if len(value) != ID_LEN:
        raise InvalidGovTx("bad_tx", f"{what} is a 32-byte member id")


def _check_signature(value: bytes, what: str) -> None:
    if len(value) != SIGNATURE_LEN:
        raise InvalidGovTx("bad_tx", f"{what} is a 64-byte signature")


def _check_label(value: str, what: str) -> None:
    if not 1 <= len(value) <= MAX_LABEL_LEN:
        raise InvalidGovTx("bad_tx", f"{what} is 1..{MAX_LABEL_LEN} characters")


def _check_decision(number: int) -> None:
    if number < 1:
        raise InvalidGovTx("bad_tx", "decisions are numbered from 1")


# -- sureties and key updates -----------------------------------------------------------------


SURETY_DOMAIN: Final = b"peoplenet/surety"
KEY_VOUCH_DOMAIN: Final = b"peoplenet/key-vouch"


def surety_digest(community: bytes, a: bytes, b: bytes) -> bytes:
    """What both sides of a mutual surety sign (the pair in either order gives one digest)."""
    lo, hi = sorted((a, b))
    data = b"".join((len(community).to_bytes(2, "big"), community, lo, hi))
    return hashlib.blake2b(data, digest_size=32, person=_SURETY_PERSON).digest()


def surety_message(community: bytes, a: bytes, b: bytes) -> bytes:
    """What each side actually signs: the digest under the surety signing domain.

    A node's signer signs only domain-tagged digests (runtime/consensus/consumer.py), so no
    signature made for a surety could ever pass for a block's.
    """
    return domain_message(SURETY_DOMAIN, surety_digest(community, a, b))


def key_update_message(community: bytes, old: bytes, new: bytes) -> bytes:
    """What the new key and each voucher sign (the key-vouch signing domain)."""
    return domain_message(KEY_VOUCH_DOMAIN, key_update_digest(community, old, new))


def key_update_digest(community: bytes, old: bytes, new: bytes) -> bytes:
    """What the new key and each vouching member sign to move a member to a new key."""
    data = b"".join((len(community).to_bytes(2, "big"), community, old, new))
    return hashlib.blake2b(data, digest_size=32, person=_REKEY_PERSON).digest()


@wire_type(111)
@dataclass(frozen=True, slots=True)
class Surety(Record):
    """A mutual surety: ``a`` and ``b`` (``a < b``) each vouch that the other is genuine."""

    a: bytes
    b: bytes
    signature_a: bytes
    signature_b: bytes

    def __post_init__(self) -> None:
        _check_id(self.a, "surety side a")
        _check_id(self.b, "surety side b")
        if self.a >= self.b:
            raise InvalidGovTx("bad_tx", "surety sides are distinct, lower id first")
        _check_signature(self.signature_a, "signature_a")
        _check_signature(self.signature_b, "signature_b")


def make_surety(one: Identity, other: Identity, community: bytes) -> Surety:
    """A surety signed by both (both keys at hand; phones exchange halves instead)."""
    digest = surety_message(community, one.member_id, other.member_id)
    lo, hi = sorted((one, other), key=lambda i: i.member_id)
    return Surety(lo.member_id, hi.member_id, lo.sign(digest), hi.sign(digest))


@wire_type(117)
@dataclass(frozen=True, slots=True)
class Vouch(Record):
    """A current member's signature on a key update (:func:`key_update_digest`)."""

    member: bytes
    signature: bytes

    def __post_init__(self) -> None:
        _check_id(self.member, "voucher")
        _check_signature(self.signature, "vouch signature")


@wire_type(116)
@dataclass(frozen=True, slots=True)
class KeyUpdate(Record):
    """Move member ``old`` to key ``new``: the new key signs, k surety holders vouch.

    Anyone may submit it: the old key may be lost, which is the point.
    """

    old: bytes
    new: bytes
    new_signature: bytes
    vouches: tuple[Vouch, ...]

    def __post_init__(self) -> None:
        _check_id(self.old, "old key")
        _check_id(self.new, "new key")
        if self.old == self.new:
            raise InvalidGovTx("bad_tx", "a key update changes the key")
        _check_signature(self.new_signature, "new key signature")
        if len(self.vouches) > MAX_VOUCHES:
            raise InvalidGovTx("bad_tx", f"at most {MAX_VOUCHES} vouches")


def make_key_update(
    old: MemberId, new: Identity, vouchers: Iterable[Identity], community: bytes
) -> KeyUpdate:
    """A key update signed by the new key and vouched by ``vouchers``."""
    digest = key_update_message(community, old, new.member_id)
    vouches = tuple(Vouch(v.member_id, v.sign(digest)) for v in vouchers)
    return KeyUpdate(old, new.member_id, new.sign(digest), vouches)


# -- what a yes/no decision would change ----------------------------------------------------


@wire_type(121)
@dataclass(frozen=True, slots=True)
class Admit(Record):
    """Admission of ``member`` (who must hold k sureties with current members)."""

    member: bytes

    def __post_init__(self) -> None:
        _check_id(self.member, "candidate")


@wire_type(122)
@dataclass(frozen=True, slots=True)
class Remove(Record):
    """Removal of ``member`` (e.g. an exposed sybil)."""

    member: bytes

    def __post_init__(self) -> None:
        _check_id(self.member, "member")


@wire_type(123)
@dataclass(frozen=True, slots=True)
class AppChange(Record):
    """Enable or disable an app (the decision's subject) with these settings."""

    enabled: bool
    settings: Value
    """A str-keyed map the app reads; the fold stores it as given."""
    action: Value = None
    """A one-off action the app carries out when the decision is adopted (the currency's
    community mint), or None."""

    def __post_init__(self) -> None:
        if type(self.settings) is not dict:
            raise InvalidGovTx("bad_tx", "app settings are a map")


@wire_type(125)
@dataclass(frozen=True, slots=True)
class ConsensusParams(Record):
    """New consensus threshold and timeout (Constitution checks them against members)."""

    threshold_num: int
    threshold_den: int
    timeout_ms: int


@wire_type(124)
@dataclass(frozen=True, slots=True)
class Amend(Record):
    """An amendment: a new charter, new consensus parameters, or both."""

    charter: Charter | None
    consensus: ConsensusParams | None

    def __post_init__(self) -> None:
        if self.charter is None and self.consensus is None:
            raise InvalidGovTx("bad_tx", "an amendment changes something")


Change = Admit | Remove | AppChange | Amend
_CHANGE_OF: Final[dict[str, type[Record]]] = {
    "admission": Admit,
    "removal": Remove,
    "app": AppChange,
    "amendment": Amend,
}


# -- decisions ---------------------------------------------------------------------------------


@wire_type(112)
@dataclass(frozen=True, slots=True)
class Open(Record):
    """Open decision number next: ``kind`` on ``subject``.

    ``subject`` is a declared subject's name (rate, budget, ranking, board, bylaws, officer
    role), the app's name for ``app``, and empty for admission, removal and amendment.
    ``candidates`` are the names standing (board, officer only).  ``change`` is what a yes
    would do (yes/no kinds only).  ``proposal`` is an optional first tabled proposal.
    """

    kind: str
    subject: str
    candidates: tuple[str, ...]
    change: Admit | Remove | AppChange | Amend | None
    proposal: Value

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidGovTx("bad_tx", f"unknown decision kind {self.kind!r}")
        if self.kind in ("admission", "removal", "amendment"):
            if self.subject:
                raise InvalidGovTx("bad_tx", f"{self.kind} has no subject name")
        else:
            _check_label(self.subject, "subject")
        if self.candidates and self.kind not in ("board", "officer"):
            raise InvalidGovTx("bad_tx", f"{self.kind} takes no candidates")
        if len(self.candidates) > MAX_CANDIDATES:
            raise InvalidGovTx("bad_tx", f"at most {MAX_CANDIDATES} candidates")
        needed = _CHANGE_OF.get(self.kind)
        if needed is None and self.change is not None:
            raise InvalidGovTx("bad_tx", f"{self.kind} takes no change")
        if needed is not None and type(self.change) is not needed:
            raise InvalidGovTx("bad_tx", f"{self.kind} takes a {needed.__name__} change")
        if self.kind in YES_NO_KINDS and self.proposal is not None:
            raise InvalidGovTx("bad_tx", "a yes/no decision takes no proposal")


@wire_type(113)
@dataclass(frozen=True, slots=True)
class Table(Record):
    """Table a public proposal on an open decision."""

    decision: int
    proposal: Value

    def __post_init__(self) -> None:
        _check_decision(self.decision)


@wire_type(114)
@dataclass(frozen=True, slots=True)
class Vote(Record):
    """Cast (or replace) a ballot: the voter's ideal point in the decision's space."""

    decision: int
    ballot: Value

    def __post_init__(self) -> None:
        _check_decision(self.decision)


@wire_type(115)
@dataclass(frozen=True, slots=True)
class Close(Record):
    """Close a decision whose voting period has passed in community time."""

    decision: int

    def __post_init__(self) -> None:
        _check_decision(self.decision)


# -- economics and the consensus bridge -------------------------------------------------------


@wire_type(118)
@dataclass(frozen=True, slots=True)
class Contribution(Record):
    """Hours or units the submitting member contributed in ``period``."""

    period: str
    amount: int

    def __post_init__(self) -> None:
        _check_label(self.period, "period")
        if not 1 <= self.amount <= MAX_AMOUNT:
            raise InvalidGovTx("bad_tx", f"a contribution is 1..{MAX_AMOUNT}")


@wire_type(119)
@dataclass(frozen=True, slots=True)
class Distribute(Record):
    """Split the ``surplus`` rate pro rata to the contributions of ``period`` (once)."""

    period: str

    def __post_init__(self) -> None:
        _check_label(self.period, "period")


@wire_type(120)
@dataclass(frozen=True, slots=True)
class EpochApproval(Record):
    """A participant's approval of the consensus constitution the next epoch must have."""

    approval: Approval


@wire_type(126)
@dataclass(frozen=True, slots=True)
class AppTx(Record):
    """A transaction of an enabled app: ``body`` is the app's own record, encoded.

    Kept as bytes so that governance and consensus never need the app's code: a node without
    the app still orders and folds the cooperative (the app's part is skipped there).
    """

    app: str
    body: bytes

    def __post_init__(self) -> None:
        if not 1 <= len(self.app) <= 40 or len(self.body) > MAX_APP_TX:
            raise InvalidGovTx("bad_tx", "app name 1..40 chars, body <= 64 KiB")


Action = (
    Surety
    | Open
    | Table
    | Vote
    | Close
    | KeyUpdate
    | Contribution
    | Distribute
    | EpochApproval
    | AppTx
)


@wire_type(110)
@dataclass(frozen=True, slots=True)
class GovTx(Record):
    """One governance transaction: the submitter's clock (ms) and the action."""

    at: int
    action: (
        Surety
        | Open
        | Table
        | Vote
        | Close
        | KeyUpdate
        | Contribution
        | Distribute
        | EpochApproval
        | AppTx
    )

    def __post_init__(self) -> None:
        if self.at < 0:
            raise InvalidGovTx("bad_tx", "negative time")


# -- points between the codec and the decision rule -------------------------------------------


def point_from_wire(kind: str, value: Value) -> object:
    """A ballot or proposal as the rule takes it: rates arrive as ``"n/d"`` text (or an int).

    Raises :class:`InvalidCharter` (``bad_fraction``) on non-canonical rate text; every other
    check is :func:`~peoplenet.actors.governance.decision.normalize_point`'s.
    """
    if kind == "rate" and type(value) is str:
        return parse_fraction(value, what="rate")
    return value


def point_to_wire(point: object) -> Value:
    """A normal-form point in codec form (Fractions as text)."""
    if isinstance(point, Fraction):
        return fraction_text(point)
    if isinstance(point, tuple):
        return tuple(point_to_wire(p) for p in point)
    assert isinstance(point, bool | int | str | bytes) or point is None
    return point


__all__ = [
    "Action",
    "Admit",
    "Amend",
    "AppChange",
    "AppTx",
    "Change",
    "Close",
    "ConsensusParams",
    "Contribution",
    "Distribute",
    "EpochApproval",
    "GovTx",
    "InvalidCharter",
    "InvalidGovTx",
    "KeyUpdate",
    "Open",
    "Remove",
    "Surety",
    "Table",
    "Vote",
    "Vouch",
    "key_update_digest",
    "key_update_message",
    "make_key_update",
    "make_surety",
    "point_from_wire",
    "point_to_wire",
    "surety_digest",
    "surety_message",
]

"""Constitutions, epoch geneses and amendments: the records that say who decides, and how.

A community's consensus runs in *epochs*.  Each epoch is governed by one
:class:`Constitution` -- the participants, the supermajority threshold and the timeout Δ --
fixed in the epoch's :class:`Genesis`.  The genesis is not a signed block: it is a record
every member can derive, and its hash *is* the epoch's lace id, so a block of the lace can
only ever be read under that constitution.  An :class:`Amendment` carrying the approvals of a
supermajority of the current participants ends the epoch once consensus orders it; the next
genesis names the previous lace and the block that ended it, which is how an epoch "points
back" (lace pointers never cross laces).  See ``docs/consensus.md``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from peoplenet.runtime.errors import RemoteProtocolError
from peoplenet.runtime.keys.identity import ID_LEN, SIGNATURE_LEN, Identity, MemberId, verify
from peoplenet.runtime.lace.block import LaceId
from peoplenet.runtime.wire.codec import Record, encode, wire_type

MAX_PARTICIPANTS: Final = 1024
MAX_COMMUNITY_LEN: Final = 64
MIN_TIMEOUT_MS: Final = 1
MAX_TIMEOUT_MS: Final = 3_600_000
DEFAULT_THRESHOLD: Final = (2, 3)
"""More than two thirds of the participants: the Byzantine-safe supermajority."""

EPOCH_LACE_PREFIX: Final = b"c/"
_GENESIS_PERSON: Final = b"peoplenet.epoch1"
_AMEND_PERSON: Final = b"peoplenet.amend1"


class InvalidConstitution(RemoteProtocolError):
    """A constitution (or genesis) that no member may run consensus under."""

    reason = "invalid_constitution"


class InvalidAmendment(RemoteProtocolError):
    """An amendment that does not carry a supermajority of valid current approvals."""

    reason = "invalid_amendment"


@wire_type(60)
@dataclass(frozen=True, slots=True)
class Constitution(Record):
    """Who takes part in consensus, how many make a supermajority, and how long to wait.

    The supermajority is the smallest count strictly above ``threshold_num/threshold_den`` of
    the participants, and must also exceed ``(n + f) / 2`` with ``f = (n - 1) // 3`` -- below
    that two quorums need not share a correct member and safety is lost -- and be at most
    ``n - f``, or ``f`` crashed members would halt the community.  Either way such a
    constitution is refused rather than run.
    """

    participants: tuple[bytes, ...]
    """Member ids, sorted ascending and distinct: the canonical order leaders rotate over."""
    threshold_num: int
    threshold_den: int
    timeout_ms: int
    """Δ: how long a correct member waits for a wave's leader before moving on."""

    def __post_init__(self) -> None:
        ps = self.participants
        if not 1 <= len(ps) <= MAX_PARTICIPANTS:
            raise InvalidConstitution("bad_participants", f"need 1..{MAX_PARTICIPANTS}")
        for i, p in enumerate(ps):
            if len(p) != ID_LEN:
                raise InvalidConstitution("bad_participants", "participants are 32-byte ids")
            if i and ps[i - 1] >= p:
                raise InvalidConstitution("bad_participants", "participants sorted, distinct")
        num, den = self.threshold_num, self.threshold_den
        if not (0 < den <= 1000 and 0 <= num < den):
            raise InvalidConstitution("bad_threshold", f"need 0 <= {num}/{den} < 1")
        if not MIN_TIMEOUT_MS <= self.timeout_ms <= MAX_TIMEOUT_MS:
            raise InvalidConstitution("bad_timeout", f"timeout_ms {self.timeout_ms} out of range")
        n = len(ps)
        bft_min = (n + self.f) // 2 + 1
        if self.quorum < bft_min:
            raise InvalidConstitution(
                "unsafe_threshold", f"{num}/{den} of {n} gives {self.quorum} < {bft_min}"
            )
        if self.quorum > n - self.f:
            raise InvalidConstitution(
                "unlive_threshold",
                f"{num}/{den} of {n} gives {self.quorum}: {self.f} crashed members would halt it",
            )

    @classmethod
    def of(
        cls,
        participants: Iterable[bytes],
        *,
        threshold: tuple[int, int] = DEFAULT_THRESHOLD,
        timeout_ms: int = 1000,
    ) -> Constitution:
        """A constitution over ``participants`` in canonical (sorted) order."""
        return cls(tuple(sorted(participants)), threshold[0], threshold[1], timeout_ms)

    @property
    def n(self) -> int:
        return len(self.participants)

    @property
    def f(self) -> int:
        """The most Byzantine participants this constitution tolerates."""
        return (len(self.participants) - 1) // 3

    @property
    def quorum(self) -> int:
        """The supermajority: the least count of distinct participants that decides."""
        return len(self.participants) * self.threshold_num // self.threshold_den + 1

    @property
    def timeout_s(self) -> float:
        return self.timeout_ms / 1000.0

    def leader(self, wave: int) -> MemberId:
        """The wave's leader: round robin over the canonical participant order."""
        return MemberId(self.participants[wave % len(self.participants)])


@wire_type(61)
@dataclass(frozen=True, slots=True)
class Genesis(Record):
    """The start of an epoch.  Its hash names the epoch's lace (:meth:`lace`)."""

    community: bytes
    """A name the founders chose; with the first genesis it identifies the community."""
    epoch: int
    constitution: Constitution
    previous_lace: bytes
    """The lace of the epoch this one follows (empty for epoch 0)."""
    ended_by: bytes
    """Id of the block whose amendment ended the previous epoch (empty for epoch 0)."""
    ended_at: int
    """Position, in the previous epoch's order, of that amendment (0 for epoch 0)."""

    def __post_init__(self) -> None:
        if not 1 <= len(self.community) <= MAX_COMMUNITY_LEN:
            raise InvalidConstitution("bad_genesis", "community name is 1..64 bytes")
        if self.epoch < 0 or self.ended_at < 0:
            raise InvalidConstitution("bad_genesis", "negative epoch or position")
        first = self.epoch == 0
        if first != (self.previous_lace == b"") or first != (self.ended_by == b""):
            raise InvalidConstitution("bad_genesis", "only epoch 0 has no predecessor")

    @classmethod
    def first(cls, community: bytes, constitution: Constitution) -> Genesis:
        return cls(community, 0, constitution, b"", b"", 0)

    def lace(self) -> LaceId:
        """The epoch's lace id: a digest of this genesis, so it fixes the constitution."""
        digest = hashlib.blake2b(encode(self), digest_size=32, person=_GENESIS_PERSON).digest()
        return LaceId(EPOCH_LACE_PREFIX + digest)

    def successor(self, constitution: Constitution, ended_by: bytes, ended_at: int) -> Genesis:
        """The genesis of the next epoch, after an amendment ordered at ``ended_at``."""
        return Genesis(
            self.community, self.epoch + 1, constitution, self.lace(), ended_by, ended_at
        )


@wire_type(63)
@dataclass(frozen=True, slots=True)
class Approval(Record):
    """One current participant's signature on an amendment (see :func:`amendment_digest`)."""

    member: bytes
    signature: bytes

    def __post_init__(self) -> None:
        if len(self.member) != ID_LEN or len(self.signature) != SIGNATURE_LEN:
            raise InvalidAmendment("bad_approval", "approval is a 32-byte id and a signature")


@wire_type(62)
@dataclass(frozen=True, slots=True)
class Amendment(Record):
    """A transaction that replaces the constitution once consensus orders it.

    ``lace`` binds it to the epoch it amends, so approvals gathered for one epoch cannot be
    replayed in a later one.  The governance layer produces the approvals from a decision;
    here a supermajority of current participants' signatures is what makes it valid.
    """

    lace: bytes
    constitution: Constitution
    approvals: tuple[Approval, ...]


def amendment_digest(lace: bytes, constitution: Constitution) -> bytes:
    """What each approving participant signs."""
    data = encode((lace, constitution))
    return hashlib.blake2b(data, digest_size=32, person=_AMEND_PERSON).digest()


def approve_amendment(identity: Identity, lace: bytes, constitution: Constitution) -> Approval:
    """``identity``'s approval of replacing the constitution of epoch ``lace``."""
    return Approval(identity.member_id, identity.sign(amendment_digest(lace, constitution)))


def check_amendment(amendment: Amendment, genesis: Genesis) -> None:
    """Raise :class:`InvalidAmendment` unless ``amendment`` may end ``genesis``'s epoch."""
    lace = genesis.lace()
    if amendment.lace != lace:
        raise InvalidAmendment("stale_epoch", "amendment is for another epoch")
    current = genesis.constitution
    members = set(current.participants)
    digest = amendment_digest(lace, amendment.constitution)
    approvers: set[bytes] = set()
    for approval in amendment.approvals:
        if approval.member not in members:
            raise InvalidAmendment("not_participant", "approval from a non-participant")
        if approval.member in approvers:
            raise InvalidAmendment("duplicate_approval", "one approval per participant")
        if not verify(approval.member, digest, approval.signature):
            raise InvalidAmendment("forged_approval", "approval signature does not verify")
        approvers.add(approval.member)
    if len(approvers) < current.quorum:
        raise InvalidAmendment(
            "no_supermajority", f"{len(approvers)} approvals < quorum {current.quorum}"
        )

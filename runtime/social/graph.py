"""Personal laces and the social graph folded from them.

Why personal laces: each member ``p`` writes one chain, ``personal_lace(p)``, and following
``q`` means replicating ``q``'s chain (as in Scuttlebutt).  A shared social lace pointing at
followed creators' tips could never be closed under pointers at a member who follows only
some creators.  See ``docs/dissemination.md``.

The fold (:class:`SocialGraph`) is order-independent: for every ``(creator, key)`` it keeps the
entry with the greatest ``(seq, block id)``, so applying blocks in chain order, in any order,
or after an equivocation gives the same graph on every node.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from peoplenet.runtime.errors import InvalidBlock, RemoteProtocolError
from peoplenet.runtime.keys.identity import ID_LEN, MemberId
from peoplenet.runtime.lace.block import Block, BlockId, LaceId
from peoplenet.runtime.lace.blocklace import BlockMeta
from peoplenet.runtime.wire.codec import Record, Value, wire_type

PERSONAL_PREFIX: Final = b"p/"
MAX_TEXT: Final = 4096
"""Most characters in a post, reply or introduction note."""
MAX_HOST: Final = 253


def _member(value: bytes, name: str) -> None:
    if len(value) != ID_LEN:
        raise RemoteProtocolError("bad_payload", f"{name} must be a {ID_LEN}-byte member id")


def _text(value: str, name: str) -> None:
    if len(value) > MAX_TEXT:
        raise RemoteProtocolError("bad_payload", f"{name}: {len(value)} > {MAX_TEXT} chars")


def _hint(host: str, port: int) -> None:
    if len(host) > MAX_HOST or not 0 <= port <= 65535:
        raise RemoteProtocolError("bad_payload", "bad address hint")


@wire_type(30)
@dataclass(frozen=True, slots=True)
class Follow(Record):
    """Replicate ``target``'s personal lace."""

    target: bytes

    def __post_init__(self) -> None:
        _member(self.target, "target")


@wire_type(31)
@dataclass(frozen=True, slots=True)
class Unfollow(Record):
    """Stop replicating ``target`` (friends are still followed implicitly)."""

    target: bytes

    def __post_init__(self) -> None:
        _member(self.target, "target")


@wire_type(32)
@dataclass(frozen=True, slots=True)
class Befriend(Record):
    """Consent to friendship with ``target``: a request, or the acceptance of one."""

    target: bytes

    def __post_init__(self) -> None:
        _member(self.target, "target")


@wire_type(33)
@dataclass(frozen=True, slots=True)
class Unfriend(Record):
    """Withdraw consent: either side alone ends a friendship."""

    target: bytes

    def __post_init__(self) -> None:
        _member(self.target, "target")


@wire_type(34)
@dataclass(frozen=True, slots=True)
class Post(Record):
    text: str

    def __post_init__(self) -> None:
        _text(self.text, "text")


@wire_type(35)
@dataclass(frozen=True, slots=True)
class Reply(Record):
    """A post answering ``creator``'s block ``block``."""

    creator: bytes
    block: bytes
    text: str

    def __post_init__(self) -> None:
        _member(self.creator, "creator")
        if len(self.block) != 32:
            raise RemoteProtocolError("bad_payload", "block must be a 32-byte block id")
        _text(self.text, "text")


@wire_type(36)
@dataclass(frozen=True, slots=True)
class Address(Record):
    """Where the creator can currently be reached (a hint for friends' cold calls)."""

    host: str
    port: int

    def __post_init__(self) -> None:
        _hint(self.host, self.port)


@wire_type(37)
@dataclass(frozen=True, slots=True)
class Introduce(Record):
    """The creator, a friend of both, suggests ``a`` and ``b`` befriend each other."""

    a: bytes
    b: bytes
    a_host: str
    a_port: int
    b_host: str
    b_port: int
    note: str

    def __post_init__(self) -> None:
        _member(self.a, "a")
        _member(self.b, "b")
        if self.a == self.b:
            raise RemoteProtocolError("bad_payload", "cannot introduce a member to itself")
        _hint(self.a_host, self.a_port)
        _hint(self.b_host, self.b_port)
        _text(self.note, "note")


SOCIAL_RECORDS: Final = (Follow, Unfollow, Befriend, Unfriend, Post, Reply, Address, Introduce)


def personal_lace(member: bytes) -> LaceId:
    """The one lace ``member`` writes its social (and later currency) blocks in."""
    return LaceId(PERSONAL_PREFIX + member)


def lace_owner(lace: bytes) -> MemberId | None:
    """The member whose personal lace this is, or ``None`` for any other lace."""
    if len(lace) == len(PERSONAL_PREFIX) + ID_LEN and lace.startswith(PERSONAL_PREFIX):
        return MemberId(lace[len(PERSONAL_PREFIX) :])
    return None


def check_personal_block(block: Block) -> None:
    """Raise :class:`InvalidBlock` unless ``block`` may be in its owner's personal lace.

    Any registered record is accepted as a payload (apps add their own records to personal
    laces; the social fold ignores them); a bare value (int, dict...) is not.  The chain rule
    (at most one pointer, to the owner's previous block) is enforced here too: since only the
    owner writes the lace, any pointer is a self pointer and the blocklace refuses two.
    """
    owner = lace_owner(block.lace)
    if owner is None:
        raise InvalidBlock("not_personal_lace", "not a personal lace", block_id=block.id)
    if block.creator != owner:
        raise InvalidBlock(
            "foreign_creator", "only the owner writes a personal lace", block_id=block.id
        )
    if not isinstance(block.payload, Record):
        raise InvalidBlock("bad_payload", "payload must be a record", block_id=block.id)
    if len(block.pointers) > 1:
        raise InvalidBlock("not_a_chain", "a personal block points to one block", block_id=block.id)


# -- the fold ---------------------------------------------------------------------------------

_Key = tuple[int, BlockId]
"""(seq, block id): the greater one is the later word of a creator."""

_NEWEST: Final = 1 << 62
"""Seq given to evidence whose chain position we cannot place: newer than anything we hold."""


@dataclass(frozen=True, slots=True)
class FeedItem:
    creator: MemberId
    block_id: BlockId
    seq: int
    kind: str
    """``post`` or ``reply``."""
    text: str
    reply_to: tuple[MemberId, BlockId] | None


@dataclass(frozen=True, slots=True)
class Introduction:
    introducer: MemberId
    other: MemberId
    hints: tuple[str, int]
    """Where ``other`` may be reached ("" / 0 if the introducer gave none)."""
    block_id: BlockId


@dataclass(frozen=True, slots=True)
class _Evidence:
    block_id: BlockId
    parent: BlockId | None


@dataclass(slots=True)
class _Member:
    consent: dict[MemberId, tuple[_Key, bool]] = field(default_factory=dict)
    """target -> latest (key, befriended?)."""
    consent_block: dict[MemberId, BlockId] = field(default_factory=dict)
    follow: dict[MemberId, tuple[_Key, bool]] = field(default_factory=dict)
    address: tuple[_Key, str, int] | None = None
    feed: list[FeedItem] = field(default_factory=list)


class SocialGraph:
    """Follows, consents, addresses, introductions and posts, folded from personal blocks.

    ``seq_of`` answers the chain position of a block we hold (``None`` if we do not): it
    places received friend-request evidence (a Befriend block whose lace we do not replicate)
    relative to the creator's blocks we do hold.
    """

    def __init__(self, seq_of: Callable[[BlockId], int | None] = lambda _: None) -> None:
        self._seq_of = seq_of
        self._members: dict[MemberId, _Member] = {}
        self._intros: dict[MemberId, dict[BlockId, Introduction]] = {}
        self._evidence: dict[tuple[MemberId, MemberId], _Evidence] = {}
        self._applied_consents: set[BlockId] = set()

    def _m(self, p: MemberId) -> _Member:
        got = self._members.get(p)
        if got is None:
            got = self._members[p] = _Member()
        return got

    # -- input ------------------------------------------------------------------------------

    def apply(self, meta: BlockMeta, payload: Value) -> None:
        """Fold one valid personal-lace block (any order; re-applying is harmless)."""
        p = meta.creator
        key: _Key = (meta.seq, meta.id)
        m = self._m(p)
        if isinstance(payload, Befriend | Unfriend):
            target = MemberId(payload.target)
            self._applied_consents.add(meta.id)
            old = m.consent.get(target)
            if target != p and (old is None or old[0] < key):
                m.consent[target] = (key, isinstance(payload, Befriend))
                m.consent_block[target] = meta.id
        elif isinstance(payload, Follow | Unfollow):
            target = MemberId(payload.target)
            old_f = m.follow.get(target)
            if target != p and (old_f is None or old_f[0] < key):
                m.follow[target] = (key, isinstance(payload, Follow))
        elif isinstance(payload, Address):
            if m.address is None or m.address[0] < key:
                m.address = (key, payload.host, payload.port)
        elif isinstance(payload, Post):
            m.feed.append(FeedItem(p, meta.id, meta.seq, "post", payload.text, None))
        elif isinstance(payload, Reply):
            to = (MemberId(payload.creator), BlockId(payload.block))
            m.feed.append(FeedItem(p, meta.id, meta.seq, "reply", payload.text, to))
        elif isinstance(payload, Introduce):
            a, b = MemberId(payload.a), MemberId(payload.b)
            self._intros.setdefault(a, {})[meta.id] = Introduction(
                p, b, (payload.b_host, payload.b_port), meta.id
            )
            self._intros.setdefault(b, {})[meta.id] = Introduction(
                p, a, (payload.a_host, payload.a_port), meta.id
            )
        # other records (apps' own) are kept in the lace and ignored here

    def add_evidence(self, block: Block) -> None:
        """Record a received, verified ``Befriend`` block whose lace we may not hold."""
        assert isinstance(block.payload, Befriend)
        parent = block.pointers[0] if block.pointers else None
        self._evidence[(block.creator, MemberId(block.payload.target))] = _Evidence(
            block.id, parent
        )

    def drop_evidence(self, creator: MemberId, target: MemberId) -> None:
        self._evidence.pop((creator, target), None)

    def evidence_redundant(self, creator: MemberId, target: MemberId) -> bool:
        """Whether the lace fold now says at least as much as the stored evidence."""
        ev = self._evidence.get((creator, target))
        if ev is None:
            return False
        if ev.block_id in self._applied_consents:
            return True
        lace = self._m(creator).consent.get(target)
        return lace is not None and lace[0] >= self._evidence_key(ev)

    def _evidence_key(self, ev: _Evidence) -> _Key:
        if ev.parent is None:
            return (0, ev.block_id)
        parent_seq = self._seq_of(ev.parent)
        # Our copy of a chain is a prefix (closed under pointers): an unknown parent means
        # the evidence is later than every block of that creator we hold.
        return (_NEWEST if parent_seq is None else parent_seq + 1, ev.block_id)

    # -- queries ----------------------------------------------------------------------------

    def consents(self, p: MemberId, q: MemberId) -> bool:
        """Whether ``p``'s latest word about ``q`` is Befriend (lace or request evidence)."""
        m = self._members.get(p)
        lace = m.consent.get(q) if m is not None else None
        ev = self._evidence.get((p, q))
        if (
            ev is not None
            and ev.block_id not in self._applied_consents
            and (lace is None or lace[0] < self._evidence_key(ev))
        ):
            return True  # the request is newer than anything its creator's lace told us
        return lace is not None and lace[1]

    def befriended(self, p: MemberId) -> set[MemberId]:
        """Members ``p`` consents to be friends with (whether or not they agreed)."""
        m = self._members.get(p)
        candidates = set(m.consent) if m is not None else set()
        candidates.update(t for c, t in self._evidence if c == p)
        return {q for q in candidates if self.consents(p, q)}

    def admirers(self, p: MemberId) -> set[MemberId]:
        """Members whose latest word about ``p`` is Befriend."""
        candidates = {c for c, m in self._members.items() if p in m.consent}
        candidates.update(c for c, t in self._evidence if t == p)
        return {c for c in candidates if c != p and self.consents(c, p)}

    def friends(self, p: MemberId) -> set[MemberId]:
        """Members with mutual consent with ``p``."""
        return {q for q in self.befriended(p) if self.consents(q, p)}

    def is_friend(self, p: MemberId, q: MemberId) -> bool:
        return p != q and self.consents(p, q) and self.consents(q, p)

    def explicit_follows(self, p: MemberId) -> set[MemberId]:
        m = self._members.get(p)
        return set() if m is None else {q for q, (_, yes) in m.follow.items() if yes}

    def follows(self, p: MemberId) -> set[MemberId]:
        """Creators whose laces ``p`` replicates: itself, explicit follows and friends."""
        return {p} | self.explicit_follows(p) | self.friends(p)

    def address(self, p: MemberId) -> tuple[str, int] | None:
        m = self._members.get(p)
        if m is None or m.address is None:
            return None
        return (m.address[1], m.address[2])

    def consent_block(self, p: MemberId, q: MemberId) -> BlockId | None:
        """``p``'s latest Befriend/Unfriend block about ``q`` in its lace, if any."""
        m = self._members.get(p)
        return None if m is None else m.consent_block.get(q)

    def introductions_for(self, p: MemberId) -> list[Introduction]:
        """Introductions of ``p`` to someone, by any creator whose lace we hold."""
        found = self._intros.get(p, {})
        return sorted(found.values(), key=lambda i: (i.introducer, i.block_id))

    def feed(self, viewer: MemberId, limit: int = 50) -> list[FeedItem]:
        """Posts and replies of creators ``viewer`` follows, newest last.

        Blocks carry no clock, so the order is by chain position, then creator, then id: exact
        within a creator and the same on every node.
        """
        items = [
            i for c in self.follows(viewer) if c in self._members for i in self._members[c].feed
        ]
        items.sort(key=lambda i: (i.seq, i.creator, i.block_id))
        return items[-limit:] if limit > 0 else []

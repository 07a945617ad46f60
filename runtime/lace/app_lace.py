"""A community-scoped replicated lace for apps: every member holds every block, nothing is ordered.

Why: an app such as the currency (Grassroots Flash) records payments, approvals and acceptances
as blocks that every member of the cooperative must see quickly, and the blocklace already
turns a double spend into an :class:`~peoplenet.runtime.lace.blocklace.Equivocation`.  Total order
is not
needed, so there is no consensus here: no rounds, no waves, no timers beyond asking for
missing pointees.  :class:`LaceReplica` is a sans-IO core (``now`` passed in, records out);
the host routes :class:`LaceBlocks` and :class:`LaceHave` by ``lace`` to it.

Push: the creator sends each new block to every member (:meth:`LaceReplica.add_own`).
Received blocks are not re-pushed, except the two blocks of a newly detected equivocation,
which go to every member once so that the fork is known everywhere.

Pull: :class:`LaceHave` says "of this lace I hold, per creator, blocks up to this seq; send me
the rest, and these ids".  A member sends it when a connection comes up, and when a block
arrives whose pointees are missing (to the sender at once, then while the gap lasts every
``resend_after_s``, to every member after two such periods).  The answer is exact: blocks
beyond the asker's frontier per creator (every branch of a forked creator from its first
fork on) plus the wanted ids, pointees first, split to fit the message limits.
"""

from __future__ import annotations

import hashlib
import re
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from peoplenet.runtime.errors import InvalidBlock, LocalError, PeoplenetError, RemoteProtocolError
from peoplenet.runtime.keys.identity import MemberId
from peoplenet.runtime.lace.block import BLOCK_ID_LEN, MAX_LACE_LEN, Block, BlockId, LaceId
from peoplenet.runtime.lace.blocklace import AddReport, Blocklace, BlockMeta, Equivocation
from peoplenet.runtime.lace.frontier_sync import (
    MAX_BLOCKS,
    MAX_BYTES,
    MAX_FRONTIER,
    check_frontier_have,
    chunk,
    frontier_of,
    missing_by_frontier,
    wants_of,
)
from peoplenet.runtime.lace.own_chain import (
    OwnChainGuard,
    OwnProblem,
    SigningRefused,
    quorum_of_others,
)
from peoplenet.runtime.wire.codec import Record, decode, wire_type
from peoplenet.runtime.wire.fast_parsers import record_body_at, usual_epoch_blocks

MAX_LACE_BLOCKS: Final = MAX_BLOCKS
"""Most blocks in one :class:`LaceBlocks`."""
MAX_LACE_BYTES: Final = MAX_BYTES
"""Most bytes of block encodings in one :class:`LaceBlocks`."""
MAX_HAVE_ENTRIES: Final = MAX_FRONTIER
"""Most frontier entries, and most wanted ids, in one :class:`LaceHave`."""
MAX_LACE_MESSAGE_SIZE: Final = MAX_LACE_BYTES + 8 * 1024
"""Ceiling for decoding one message: the blocks plus headers (a full LaceHave is ~80 KiB)."""
MAX_COMMUNITY_ID_LEN: Final = 64

_APP_NAME: Final = re.compile(r"[a-z0-9_-]{1,40}")
_APP_PERSON: Final = b"peoplenet.app"
_NEVER: Final = float("-inf")


_BLOCK_PERSON: Final = b"peoplenet.blk.v1"
""":mod:`peoplenet.runtime.lace.block`'s id personalisation.  Should it ever differ,
:func:`_known_id` only
misses (every block then takes the full parse); it can never drop a block we lack."""


def _known_id(raw: bytes) -> BlockId | None:
    """The id of ``raw`` if it is laid out as a canonical block, without parsing the payload.

    Why: duplicates are the common case of push plus pull, and this costs one hash.  Bytes
    that only look like a block hash to an id we hold only if their unsigned part *is* that
    block's, so dropping them is safe whatever the rest says.
    """
    head = record_body_at(raw)
    if head is None or raw[head : head + 2] != b"\x96\x01" or raw[-66:-64] != b"\xc4\x40":
        return None
    digest = hashlib.blake2b(b"\x94", digest_size=BLOCK_ID_LEN, person=_BLOCK_PERSON)
    digest.update(raw[head + 2 : -66])
    return BlockId(digest.digest())


def _check_lace(lace: bytes) -> None:
    if not 1 <= len(lace) <= MAX_LACE_LEN:
        raise RemoteProtocolError("bad_lace", f"lace id must be 1..{MAX_LACE_LEN} bytes")


@wire_type(67)
@dataclass(frozen=True, slots=True)
class LaceBlocks(Record):
    """Blocks of an app lace as their canonical bytes, pointees first."""

    lace: bytes
    blocks: tuple[bytes, ...]

    def __post_init__(self) -> None:
        _check_lace(self.lace)
        if len(self.blocks) > MAX_LACE_BLOCKS:
            raise RemoteProtocolError("too_many_blocks", f"{len(self.blocks)} > {MAX_LACE_BLOCKS}")
        size = sum(map(len, self.blocks))
        if size > MAX_LACE_BYTES:
            raise RemoteProtocolError("too_many_bytes", f"{size} > {MAX_LACE_BYTES}")


@wire_type(68)
@dataclass(frozen=True, slots=True)
class LaceHave(Record):
    """ "Of ``lace`` I hold, per creator, blocks up to this seq; send me the rest, and ``wants``.

    A per-creator frontier (as in the consensus ``EpochHave``): the answer never depends on
    the responder knowing the asker's blocks, so diverged members catch up in one exchange.
    """

    lace: bytes
    frontier: tuple[tuple[bytes, int], ...]
    wants: tuple[bytes, ...]
    """Blocks my buffered blocks point to and nobody has given me yet."""

    def __post_init__(self) -> None:
        _check_lace(self.lace)
        check_frontier_have(self.frontier, self.wants)


LaceMessage: Final = LaceBlocks | LaceHave
"""The two records the host routes to a :class:`LaceReplica` by their ``lace``."""


def decode_lace_message(data: bytes) -> LaceBlocks | LaceHave:
    """Decode one app-lace message; anything else raises :class:`RemoteProtocolError`.

    The usual message, blocks pushed by their creator, is read from its headers by hand
    (:func:`~peoplenet.runtime.wire.fast_parsers.usual_epoch_blocks`, the layout it shares
    with ``EpochBlocks``): the same value, or the same refusal, as the general decoder's, at
    a fraction of its cost.  Anything else takes the general decoder."""
    if type(data) is bytes and len(data) <= MAX_LACE_MESSAGE_SIZE:
        parts = usual_epoch_blocks(data, LaceBlocks.wire_tag)
        if parts is not None:
            return LaceBlocks(*parts)  # its own checks raise what decoding it would raise
    value = decode(data, max_size=MAX_LACE_MESSAGE_SIZE)
    if not isinstance(value, LaceMessage):
        raise RemoteProtocolError("unexpected_message", type(value).__name__)
    return value


def app_lace_id(community: bytes, app: str) -> LaceId:
    """The lace of ``app`` in ``community``: the same on every member's phone, 34 bytes."""
    if type(community) is not bytes or not 1 <= len(community) <= MAX_COMMUNITY_ID_LEN:
        raise LocalError(f"a community id is 1..{MAX_COMMUNITY_ID_LEN} bytes")
    if type(app) is not str or _APP_NAME.fullmatch(app) is None:
        raise LocalError("an app name is 1..40 characters of [a-z0-9_-]")
    digest = hashlib.blake2b(
        community + b"\0" + app.encode(), digest_size=32, person=_APP_PERSON
    ).digest()
    return LaceId(b"a/" + digest)


@dataclass(frozen=True, slots=True)
class ReplicaOutput:
    """What the host must do after one call, and what happened."""

    sends: tuple[tuple[MemberId, LaceBlocks | LaceHave], ...] = ()
    added: tuple[Block, ...] = ()
    """Newly stored blocks of the lace, pointees first (released buffered ones included)."""
    equivocations: tuple[Equivocation, ...] = ()
    rejected: tuple[tuple[MemberId, PeoplenetError], ...] = ()
    """Refused input and who sent it; nothing refused was stored or buffered."""
    wake_at: float | None = None
    """Call :meth:`LaceReplica.tick` then (replaces any earlier time; None: stay quiet)."""
    own_problems: tuple[OwnProblem, ...] = ()
    """New signs that someone else signs with my key in this lace (log them loudly)."""


@dataclass(slots=True)
class _Out:
    sends: list[tuple[MemberId, LaceBlocks | LaceHave]] = field(default_factory=list)
    added: list[Block] = field(default_factory=list)
    equivocations: list[Equivocation] = field(default_factory=list)
    rejected: list[tuple[MemberId, PeoplenetError]] = field(default_factory=list)
    own_problems: list[OwnProblem] = field(default_factory=list)


@dataclass(slots=True)
class _Waiting:
    """A buffered block of the lace: what it points to, who sent it, since when."""

    pointers: tuple[BlockId, ...]
    sender: MemberId
    since: float


class _MembersOnly:
    """Blocklace validator: blocks of the replica's lace must come from its current members.

    Holds the replica weakly, so a discarded replica stops judging (validators cannot be
    removed from a blocklace).
    """

    def __init__(self, replica: LaceReplica) -> None:
        self._replica = weakref.ref(replica)

    def __call__(
        self, block: Block, meta: BlockMeta, known: Mapping[BlockId, BlockMeta]
    ) -> InvalidBlock | None:
        replica = self._replica()
        if replica is None or block.lace != replica.lace or block.creator in replica.members:
            return None
        return InvalidBlock("not_member", "creator is not a member", block_id=block.id)


class LaceReplica:
    """One member's replica of one app lace (sans-IO)."""

    def __init__(
        self,
        lace: LaceId,
        blocklace: Blocklace,
        me: MemberId,
        members: Iterable[MemberId],
        *,
        resend_after_s: float = 5.0,
        learn_own_first: bool = False,
    ) -> None:
        """``learn_own_first``: if the store holds blocks of mine here (it may be an old backup
        of them), sign nothing until f + 1 other members reported how far they hold my chain
        and I hold that much; and answer every LaceHave with mine (once per
        ``resend_after_s``), so that the others can do the same.  The node's app host sets
        it."""
        if not 1 <= len(lace) <= MAX_LACE_LEN:
            raise LocalError(f"lace id must be 1..{MAX_LACE_LEN} bytes")
        if not resend_after_s > 0:
            raise LocalError("resend_after_s must be positive")
        self.lace = lace
        self.me = me
        self.members: frozenset[MemberId] = frozenset()
        self._bl = blocklace
        self._resend = resend_after_s
        self._asked: dict[MemberId, float] = {}
        self._waiting: dict[BlockId, _Waiting] = {}
        self.set_members(members)
        blocklace.add_validator(_MembersOnly(self))
        self._learn_own_first = learn_own_first
        need = quorum_of_others(len(self.members)) if me in self.members else 0
        stored = blocklace.latest(lace, me) is not None or blocklace.has_forked(lace, me)
        self.own = OwnChainGuard(need if learn_own_first and stored else 0)
        """May I sign here yet (self-sync), and has someone else signed as me."""
        for fork in blocklace.equivocations(lace):
            if fork.creator == me:
                self.own.forked(fork.seq)
                break

    # -- my own chain -------------------------------------------------------------------------

    def may_sign(self) -> bool:
        """Whether a new block of mine may be made now (see ``learn_own_first``)."""
        return self.own.may_sign()

    def signing_refusal(self) -> SigningRefused | None:
        """Why no block of mine may be made now (None: it may)."""
        return self.own.refusal(self._peers(), "members")

    def start(self, now: float) -> ReplicaOutput:
        """After opening: ask every member how far it holds the lace (self-sync)."""
        out = _Out()
        if self._learn_own_first and not self.own.synced:
            for peer in self._peers():
                self._ask(peer, now, out)
        return self._finish(now, out)

    def _own_top(self, report: object) -> bool:
        assert isinstance(report, int)
        return self._bl.creator_frontier(self.lace).get(self.me, -1) >= report

    # -- membership ---------------------------------------------------------------------------

    def set_members(self, members: Iterable[MemberId]) -> None:
        """Who may create blocks here, and whom we push to and pull from (never ourselves).

        Blocks refused earlier are not kept: a new member's earlier blocks come with its
        next block (as wanted pointees) or when the host calls :meth:`peer_up` for it.
        """
        self.members = frozenset(MemberId(bytes(m)) for m in members)
        for peer in [p for p in self._asked if p not in self.members]:
            del self._asked[peer]

    def _peers(self) -> list[MemberId]:
        return sorted(m for m in self.members if m != self.me)

    # -- calls --------------------------------------------------------------------------------

    def add_own(self, block: Block, now: float) -> ReplicaOutput:
        """Store our own new block, just signed by our signer (not verified again), and push
        it to every member."""
        if block.lace != self.lace or block.creator != self.me:
            raise LocalError("add_own takes our own blocks of this lace")
        if self.me not in self.members:
            raise LocalError("we are not a member of this lace")
        refusal = self.signing_refusal()
        if refusal is not None:
            raise refusal
        if block.id in self._bl:
            raise LocalError("block already stored")
        if not all(p in self._bl for p in block.pointers):
            raise LocalError("our block points to blocks we do not hold")
        out = _Out()
        try:
            # Our signer just signed it: checking the signature again would only cost.
            report = self._bl.add(block, raw=block.to_bytes(), verified=True)
        except InvalidBlock as exc:  # e.g. two pointers to our own blocks: our bug
            raise LocalError(f"our own block is invalid: {exc}") from exc
        self.own.made_block(block.id, self._bl.meta(block.id).seq)
        self._account(report, self.me, now, out, {})
        msg = LaceBlocks(self.lace, (block.to_bytes(),))
        out.sends.extend((peer, msg) for peer in self._peers())
        return self._finish(now, out)

    def receive(self, peer: MemberId, msg: LaceBlocks | LaceHave, now: float) -> ReplicaOutput:
        """A message from ``peer`` (authenticated by the transport); a peer's fault never raises."""
        out = _Out()
        if peer not in self.members or peer == self.me:
            out.rejected.append((peer, RemoteProtocolError("not_member", "peer is not a member")))
            return self._finish(now, out)
        if msg.lace != self.lace:
            out.rejected.append((peer, RemoteProtocolError("wrong_lace", msg.lace.hex()[:20])))
            return self._finish(now, out)
        if isinstance(msg, LaceBlocks):
            self._take(peer, msg.blocks, now, out)
        else:
            self._answer(peer, msg, now, out)
        return self._finish(now, out)

    def peer_up(self, peer: MemberId, now: float) -> ReplicaOutput:
        """A connection to ``peer`` came up: tell it what we hold (it answers what we lack)."""
        out = _Out()
        if peer in self.members and peer != self.me:
            self._asked[peer] = now
            out.sends.append((peer, self._have()))
        return self._finish(now, out)

    def tick(self, now: float) -> ReplicaOutput:
        """Anti-entropy: while blocks wait for pointees, ask again (see ``wake_at``)."""
        return self._finish(now, _Out())

    def missing(self) -> int:
        """Buffered blocks of this lace still waiting for pointees."""
        self._prune()
        return len(self._waiting)

    # -- input --------------------------------------------------------------------------------

    def _take(self, peer: MemberId, raws: tuple[bytes, ...], now: float, out: _Out) -> None:
        bl = self._bl
        blocks: list[Block] = []
        kept: list[bytes] = []
        seen: set[BlockId] = set()
        for raw in raws:
            if _known_id(raw) in bl:
                continue  # a duplicate costs one hash: no parse, no signature check
            try:
                block = Block.from_bytes(raw)
            except RemoteProtocolError as exc:
                out.rejected.append((peer, exc))
                continue
            bid = block.id
            if bid in bl or bid in seen:
                continue
            # (A buffered one is dropped cheaply by add_many -- or buffered again if the
            # blocklace evicted it meanwhile.)
            if block.lace != self.lace:
                bad = InvalidBlock("wrong_lace", "block of another lace", block_id=bid)
                out.rejected.append((peer, bad))
                continue
            if block.creator not in self.members:
                bad = InvalidBlock("not_member", "creator is not a member", block_id=bid)
                out.rejected.append((peer, bad))
                continue
            seen.add(bid)
            blocks.append(block)
            kept.append(raw)
        if not blocks:
            return
        report = bl.add_many(blocks, raws=kept)
        self._account(report, peer, now, out, {b.id: b for b in blocks})
        if report.equivocations:
            self._spread_evidence(report.equivocations, out)

    def _account(
        self,
        report: AddReport,
        peer: MemberId,
        now: float,
        out: _Out,
        batch: Mapping[BlockId, Block],
    ) -> None:
        """Turn an add report into output, and keep the buffered set of this lace."""
        bl = self._bl
        waiting = self._waiting
        for bid, error in report.rejected:
            entry = waiting.pop(bid, None) if bid is not None else None
            out.rejected.append((entry.sender if entry is not None else peer, error))
        for bid in report.added:
            waiting.pop(bid, None)
            block = bl.get(bid)
            if block.lace == self.lace:
                out.added.append(block)
        for bid in report.buffered:
            waiting[bid] = _Waiting(batch[bid].pointers, peer, now)
        out.equivocations.extend(e for e in report.equivocations if e.lace == self.lace)
        if peer == self.me:
            return
        for ev in report.equivocations:
            if ev.lace == self.lace and ev.creator == self.me:
                self._own_problem(self.own.forked(ev.seq), out)
        mine = False
        for bid in report.added:
            meta = bl.meta(bid)
            if meta.lace == self.lace and meta.creator == self.me:
                mine = True
                self._own_problem(self.own.saw_own(bid, meta.seq, peer), out)
        if mine and not self.own.synced:
            self.own.recheck(self._own_top)

    def _own_problem(self, problem: OwnProblem | None, out: _Out) -> None:
        if problem is not None:
            out.own_problems.append(problem)

    def _spread_evidence(self, found: Iterable[Equivocation], out: _Out) -> None:
        """Send both blocks of each new fork to every member, once: a fork must be known to all."""
        bl = self._bl
        for ev in found:
            if ev.lace != self.lace:
                continue
            pair = tuple(bl.raw(b) for b in bl.topological([ev.first, ev.second]))
            msg = LaceBlocks(self.lace, pair)
            out.sends.extend((p, msg) for p in self._peers())

    def _answer(self, peer: MemberId, have: LaceHave, now: float, out: _Out) -> None:
        theirs: dict[bytes, int] = dict(have.frontier)
        found = missing_by_frontier(self._bl, self.lace, theirs, have.wants, creators=self.members)
        self._send_blocks(peer, found.ids, out)
        if self._learn_own_first and not self.own.synced:
            self.own.report(peer, theirs.get(self.me, -1), self._own_top)
        if found.peer_ahead:
            self._ask(peer, now, out)  # it holds blocks we lack
        elif self._learn_own_first:
            self._ask(peer, now, out)  # it may be learning its own chain: tell it mine

    def _send_blocks(self, peer: MemberId, ids: Iterable[BlockId], out: _Out) -> None:
        for _, raws in chunk(self._bl, ids):
            out.sends.append((peer, LaceBlocks(self.lace, raws)))

    # -- pulling ------------------------------------------------------------------------------

    def _have(self) -> LaceHave:
        return LaceHave(self.lace, frontier_of(self._bl, self.lace), wants_of(self._wants()))

    def _wants(self) -> set[BlockId]:
        bl, waiting = self._bl, self._waiting
        return {p for w in waiting.values() for p in w.pointers if p not in bl and p not in waiting}

    def _ask(self, peer: MemberId, now: float, out: _Out) -> None:
        """Send ``peer`` our LaceHave, at most once per ``resend_after_s``."""
        if peer not in self.members or peer == self.me:
            return
        if now < self._asked.get(peer, _NEVER) + self._resend:
            return
        self._asked[peer] = now
        out.sends.append((peer, self._have()))

    def _prune(self) -> None:
        """Forget buffered blocks whose pointees are all stored: inserted, evicted or refused.

        The blocklace releases a buffered block as soon as its last pointee is stored, so one
        still absent by then was dropped from its bounded buffer or refused.
        """
        bl, waiting = self._bl, self._waiting
        gone = [bid for bid, w in waiting.items() if all(p in bl for p in w.pointers)]
        for bid in gone:
            del waiting[bid]

    def _targets(self, now: float) -> list[MemberId]:
        """Whom to ask about the gaps: their senders, or everyone once a gap is old."""
        peers = self._peers()
        waiting = self._waiting.values()
        senders = {w.sender for w in waiting}
        targets = [p for p in peers if p in senders]
        if not targets or now >= min(w.since for w in waiting) + 2 * self._resend:
            return peers  # the senders cannot help (or are gone): ask everyone
        return targets

    def _finish(self, now: float, out: _Out) -> ReplicaOutput:
        """Ask for what is still missing if due, and say when to be woken."""
        wake_at: float | None = None
        if self._learn_own_first and not self.own.synced:
            # Not self-synced: keep asking those that have not answered (a lost answer,
            # a member that came up later), and be woken for it.
            for peer in self._peers():
                if peer not in self.own.confirmed:
                    self._ask(peer, now, out)
                    due = self._asked.get(peer, now) + self._resend
                    wake_at = due if wake_at is None else min(wake_at, due)
        if self._waiting:
            targets = self._targets(now)
            asked, resend = self._asked, self._resend
            if any(now >= asked.get(p, _NEVER) + resend for p in targets):
                self._prune()  # only before asking: added blocks leave ``_waiting`` at once
                targets = self._targets(now) if self._waiting else []
            for peer in targets:
                self._ask(peer, now, out)
            if targets:
                gap_wake = min(asked.get(p, now) for p in targets) + resend
                wake_at = gap_wake if wake_at is None else min(wake_at, gap_wake)
        return ReplicaOutput(
            tuple(out.sends),
            tuple(out.added),
            tuple(out.equivocations),
            tuple(out.rejected),
            wake_at,
            tuple(out.own_problems),
        )

"""Cordial grassroots dissemination of personal laces along friendship edges (sans-IO).

Why this shape: nothing but a :class:`FriendRequest` ever travels outside a friendship edge,
and a friend is sent exactly the blocks of creators it follows that its latest disclosure
shows it lacks -- never a block twice in one session.  See ``docs/dissemination.md``.

Flow: a friend coming up gets my :class:`Disclose` (my tips of every lace I follow).  On its
disclosure I send what it lacks in :class:`Blocks` messages, at most ``window`` unacknowledged.
The receiver answers every Blocks message with a fresh Disclose; a message counts as
acknowledged once a disclosure shows its blocks held (content acks: reordering and duplicates
need no sequence numbers).  A message unacknowledged after ``ack_timeout_s`` is taken as lost:
its blocks may be sent again once the friend discloses anew.  ``tick`` re-discloses every
``disclose_interval_s`` (anti-entropy against loss).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Final

from peoplenet.runtime.errors import LocalError, RemoteProtocolError
from peoplenet.runtime.keys.identity import MemberId
from peoplenet.runtime.lace.block import BLOCK_ID_LEN, MAX_LACE_LEN, BlockId, LaceId
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.frontier_sync import (
    MAX_BLOCKS,
    MAX_BYTES,
    MAX_FRONTIER,
    SyncLimits,
    chunk,
    missing_by_tips,
    tips_of,
)
from peoplenet.runtime.social.graph import SocialGraph, lace_owner, personal_lace
from peoplenet.runtime.wire.codec import Record, wire_type

MAX_BLOCKS_PER_MESSAGE: Final = MAX_BLOCKS
MAX_BYTES_PER_MESSAGE: Final = MAX_BYTES
MAX_TIPS: Final = MAX_FRONTIER


@wire_type(53)
@dataclass(frozen=True, slots=True)
class Heads(Record):
    """My tips of one lace I follow (empty: I follow it but hold none of it)."""

    lace: bytes
    tips: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not 1 <= len(self.lace) <= MAX_LACE_LEN:
            raise RemoteProtocolError("bad_heads", "bad lace id")
        if len(self.tips) > MAX_TIPS or any(len(t) != BLOCK_ID_LEN for t in self.tips):
            raise RemoteProtocolError("bad_heads", "tips are at most 1024 block ids")


@wire_type(50)
@dataclass(frozen=True, slots=True)
class Disclose(Record):
    """What I hold of every lace I follow: my latest state, authenticated by the connection."""

    heads: tuple[Heads, ...]

    def __post_init__(self) -> None:
        laces = [h.lace for h in self.heads]
        if len(set(laces)) != len(laces):
            raise RemoteProtocolError("bad_heads", "a lace is disclosed twice")


@wire_type(51)
@dataclass(frozen=True, slots=True)
class Blocks(Record):
    """Raw blocks, pointees first (each decoded and checked on its own by the receiver)."""

    blocks: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if len(self.blocks) > MAX_BLOCKS_PER_MESSAGE:
            raise RemoteProtocolError("too_many_blocks", f"{len(self.blocks)}")
        if sum(len(b) for b in self.blocks) > MAX_BYTES_PER_MESSAGE:
            raise RemoteProtocolError("too_large", "more than 512 KiB of blocks")


@wire_type(52)
@dataclass(frozen=True, slots=True)
class FriendRequest(Record):
    """A cold call: my signed ``Befriend(you)`` block, alone (you do not have my lace yet)."""

    block: bytes


@dataclass(frozen=True, slots=True)
class Outgoing:
    """Send ``msg`` to ``peer`` (the store actor encodes it, once; the network frames it)."""

    peer: MemberId
    msg: Record


@dataclass(frozen=True, slots=True)
class SocialConfig:
    window: int = 8
    """Most Blocks messages unacknowledged per friend."""
    disclose_interval_s: float = 5.0
    ack_timeout_s: float = 15.0
    max_blocks_per_message: int = MAX_BLOCKS_PER_MESSAGE
    max_bytes_per_message: int = MAX_BYTES_PER_MESSAGE
    max_pending_requests: int = 1000
    """Friend requests kept while unanswered; beyond, the oldest is dropped."""
    pending_request_ttl_s: float = 30 * 24 * 3600.0
    """How long an unanswered friend request is kept (wall-clock)."""

    def __post_init__(self) -> None:
        if self.window < 1 or not 1 <= self.max_blocks_per_message <= MAX_BLOCKS_PER_MESSAGE:
            raise LocalError("window and max_blocks_per_message must be positive (<= 256)")
        if not 0 < self.max_bytes_per_message <= MAX_BYTES_PER_MESSAGE:
            raise LocalError("max_bytes_per_message must be within (0, 512 KiB]")
        if not (self.disclose_interval_s > 0 and self.ack_timeout_s > 0):
            raise LocalError("intervals must be positive")
        if self.max_pending_requests < 1 or self.pending_request_ttl_s <= 0:
            raise LocalError("max_pending_requests and pending_request_ttl_s must be positive")

    @property
    def limits(self) -> SyncLimits:
        """The frontier core's limits for my Blocks messages."""
        return SyncLimits(
            max_blocks=self.max_blocks_per_message, max_bytes=self.max_bytes_per_message
        )


@dataclass(slots=True)
class _Flight:
    """One unacknowledged Blocks message."""

    sent_at: float
    need: dict[LaceId, int]
    """lace -> highest seq in the message: acked when a disclosure shows it held."""
    ids: tuple[BlockId, ...]


@dataclass(slots=True)
class _Session:
    """What I know of one friend since it came up (forgotten on peer_down)."""

    tips: dict[LaceId, tuple[BlockId, ...]] | None = None
    """Its latest disclosure, or None before the first."""
    sent: set[BlockId] = field(default_factory=set)
    """Blocks it has: sent by me this session (minus lost ones) or received from it."""
    flights: list[_Flight] = field(default_factory=list)
    stalled: bool = False
    """A message was lost: send nothing until the friend discloses again."""
    last_disclosed: float = float("-inf")


class Disseminator:
    """Decides what goes to which friend.  Reads the blocklace and the graph; never writes."""

    def __init__(
        self, me: MemberId, lace: Blocklace, graph: SocialGraph, config: SocialConfig
    ) -> None:
        self.me = me
        self.lace = lace
        self.graph = graph
        self.config = config
        self._sessions: dict[MemberId, _Session] = {}
        self.max_in_flight = 0
        """Most unacknowledged Blocks messages ever held for one friend (for tests)."""

    # -- events -----------------------------------------------------------------------------

    def peer_up(self, q: MemberId, now: float) -> list[Outgoing]:
        """A friend's connection is up: a new session, starting with my disclosure."""
        if not self.graph.is_friend(self.me, q):
            return []
        self._sessions[q] = _Session()
        return [self._disclose_to(q, now)]

    def peer_down(self, q: MemberId) -> None:
        self._sessions.pop(q, None)

    def is_up(self, q: MemberId) -> bool:
        return q in self._sessions

    def on_disclose(self, q: MemberId, msg: Disclose, now: float) -> list[Outgoing]:
        """A friend's latest state: acknowledge what it holds, send what it lacks."""
        if not self.graph.is_friend(self.me, q):
            return []
        s = self._session(q)
        s.tips = {LaceId(h.lace): tuple(BlockId(t) for t in h.tips) for h in msg.heads}
        s.stalled = False
        s.flights = [f for f in s.flights if not self._acked(s, f)]
        return self._pump(q, s, now, None)

    def blocks_received(self, q: MemberId, ids: Iterable[BlockId]) -> None:
        """``q`` sent me these: it has them, so they never echo back to it."""
        if self.graph.is_friend(self.me, q):
            self._session(q).sent.update(ids)

    def ack(self, q: MemberId, now: float) -> list[Outgoing]:
        """My fresh disclosure after processing a Blocks message from ``q``."""
        if not self.graph.is_friend(self.me, q):
            return []
        self._session(q)
        return [self._disclose_to(q, now)]

    def _session(self, q: MemberId) -> _Session:
        """``q``'s session; a friend's message proves its connection is up."""
        s = self._sessions.get(q)
        if s is None:
            s = self._sessions[q] = _Session()
        return s

    def disclose_all(self, now: float) -> list[Outgoing]:
        """What I follow changed: tell every friend that is up."""
        return [self._disclose_to(q, now) for q in sorted(self._sessions)]

    def on_new_blocks(self, ids: Iterable[BlockId], now: float) -> list[Outgoing]:
        """Push new blocks (mine or received) at once to friends that follow their creator."""
        laces = {self.lace.meta(b).lace for b in ids}
        if not laces:
            return []
        out: list[Outgoing] = []
        for q in sorted(self._sessions):
            out.extend(self._pump(q, self._sessions[q], now, laces))
        return out

    def tick(self, now: float) -> list[Outgoing]:
        """Expire lost messages, re-disclose periodically."""
        out: list[Outgoing] = []
        for q in sorted(self._sessions):
            s = self._sessions[q]
            live: list[_Flight] = []
            for f in s.flights:
                if now >= f.sent_at + self.config.ack_timeout_s:  # the form next_due uses
                    s.sent.difference_update(f.ids)
                    s.stalled = True
                else:
                    live.append(f)
            s.flights = live
            if now >= s.last_disclosed + self.config.disclose_interval_s:
                out.append(self._disclose_to(q, now))
        return out

    def next_due(self) -> float | None:
        """When :meth:`tick` next has work: a re-disclosure or an ack timeout (None: no session).

        Computed as ``tick`` compares, so a tick at this time always does that work.
        """
        sessions = self._sessions.values()
        if not sessions:
            return None
        # Flights are kept in the order sent, and ``now`` never goes back: the first is oldest.
        disclose = min(s.last_disclosed for s in sessions) + self.config.disclose_interval_s
        sent = min((s.flights[0].sent_at for s in sessions if s.flights), default=None)
        return disclose if sent is None else min(disclose, sent + self.config.ack_timeout_s)

    def in_flight(self, q: MemberId) -> int:
        s = self._sessions.get(q)
        return 0 if s is None else len(s.flights)

    # -- internals --------------------------------------------------------------------------

    def disclosure(self) -> Disclose:
        heads = []
        for creator in sorted(self.graph.follows(self.me)):
            lace = personal_lace(creator)
            heads.append(Heads(lace, tips_of(self.lace, lace)))
        return Disclose(tuple(heads))

    def _disclose_to(self, q: MemberId, now: float) -> Outgoing:
        s = self._sessions.get(q)
        if s is not None:
            s.last_disclosed = now
        return Outgoing(q, self.disclosure())

    def _acked(self, s: _Session, f: _Flight) -> bool:
        assert s.tips is not None
        for lace, seq in f.need.items():
            tips = s.tips.get(lace)
            if tips is None:
                continue  # it no longer follows the lace: nothing more to wait for
            if not any(t not in self.lace or self.lace.meta(t).seq >= seq for t in tips):
                return False
        return True

    def _pump(
        self, q: MemberId, s: _Session, now: float, laces: Collection[LaceId] | None
    ) -> list[Outgoing]:
        """Blocks ``q`` lacks of laces it follows, within the window."""
        budget = self.config.window - len(s.flights)
        if s.tips is None or s.stalled or budget <= 0:
            return []
        if not self.graph.is_friend(self.me, q):
            return []
        follows_q = self.graph.follows(q)
        wanted: list[BlockId] = []
        for lace in sorted(s.tips if laces is None else (lc for lc in laces if lc in s.tips)):
            owner = lace_owner(lace)
            tips = s.tips[lace]
            if owner is None or owner not in follows_q:
                continue
            # A tip I lack: it is ahead of me (or saw a fork) in this chain; nothing to give.
            found = missing_by_tips(self.lace, lace, tips, creators=(owner,), chain=True)
            wanted.extend(found.ids)
        out: list[Outgoing] = []
        for ids, raws in chunk(
            self.lace, wanted, self.config.limits, skip=s.sent, max_messages=budget
        ):
            need: dict[LaceId, int] = {}
            for bid in ids:
                meta = self.lace.meta(bid)
                need[meta.lace] = max(need.get(meta.lace, -1), meta.seq)
            s.sent.update(ids)
            s.flights.append(_Flight(now, need, ids))
            out.append(Outgoing(q, Blocks(raws)))
        self.max_in_flight = max(self.max_in_flight, len(s.flights))
        return out

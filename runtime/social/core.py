"""The social core a node's store actor wraps: personal laces, friendship, dissemination.

Why a pure core: every decision (what to accept, whom to tell, what to send) is a function of
the blocklace, the request evidence and the messages handed in with ``now``, so the simulator
can run hundreds of these and the actor shell only does I/O.  Signing stays with the member
actor: :meth:`SocialNode.next_block` says which lace and pointers to sign, and
:meth:`SocialNode.add_own` takes the signed block.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from peoplenet.runtime.errors import InvalidBlock, LocalError, RemoteProtocolError
from peoplenet.runtime.keys.identity import MemberId
from peoplenet.runtime.lace.block import Block, BlockId, LaceId
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.own_chain import OwnChainGuard, OwnProblem
from peoplenet.runtime.log import get_logger
from peoplenet.runtime.sans_io import earliest
from peoplenet.runtime.social.dissemination import (
    Blocks,
    Disclose,
    Disseminator,
    FriendRequest,
    Outgoing,
    SocialConfig,
)
from peoplenet.runtime.social.evidence_store import Evidence, EvidenceStore
from peoplenet.runtime.social.graph import (
    Befriend,
    FeedItem,
    Introduce,
    Introduction,
    Post,
    Reply,
    SocialGraph,
    check_personal_block,
    lace_owner,
    personal_lace,
)
from peoplenet.runtime.wire.codec import Record, Value

_log = get_logger("social")

EventKind = Literal[
    "friend_added",
    "friend_removed",
    "request_received",
    "introduced",
    "post_received",
    "self_synced",
    "own_fork",
    "another_device",
]


@dataclass(frozen=True, slots=True)
class SocialEvent:
    """Something the user should see; ``member`` is the friend, requester, introducee or poster."""

    kind: EventKind
    member: MemberId
    by: MemberId | None = None
    """The introducer (``introduced`` only)."""
    block_id: BlockId | None = None
    detail: str = ""
    """What went wrong (``own_fork`` and ``another_device`` only)."""


@dataclass(slots=True)
class SocialStep:
    """One call's step (runtime/sans_io.py): what to send, what happened, when to wake.

    Every call that changes what is due (:meth:`SocialNode.on_wire`, ``peer_up``, ``tick``,
    ``add_own``) answers with one; its ``wake_at`` is the core's whole next wish, so it
    replaces the shell's earlier timer.
    """

    outgoing: list[Outgoing] = field(default_factory=list)
    added: list[BlockId] = field(default_factory=list)
    """Received blocks stored (``on_wire``)."""
    errors: list[RemoteProtocolError] = field(default_factory=list)
    """Why parts of a peer's message were refused (``on_wire``)."""
    events: list[SocialEvent] = field(default_factory=list)
    wake_at: float | None = None
    """When ``tick`` has work: a re-disclosure, an ack timeout or an expiring friend request."""

    @property
    def sends(self) -> list[tuple[MemberId, Record]]:
        return [(o.peer, o.msg) for o in self.outgoing]


class SocialNode:
    """One member's social state: its blocklace of personal laces, graph and disseminator."""

    def __init__(
        self,
        me: MemberId,
        lace: Blocklace,
        evidence: EvidenceStore,
        config: SocialConfig | None = None,
        *,
        wall: Callable[[], float] = time.time,
    ) -> None:
        """``wall``: wall-clock seconds, to age friend requests across restarts."""
        self.me = me
        self._wall = wall
        self.lace = lace
        self.evidence = evidence
        self.config = config or SocialConfig()
        self.graph = SocialGraph(self._seq_of)
        for lc in lace.laces():
            if lace_owner(lc) is not None:
                for bid in lace.iter_lace(lc):
                    self.graph.apply(lace.meta(bid), lace.get(bid).payload)
        for ev in evidence.items():
            try:
                self.graph.add_evidence(_request_block(ev.raw, ev.creator, me))
            except RemoteProtocolError:
                evidence.remove(ev.creator, ev.target)  # unreadable: useless as evidence
        self._prune_evidence({ev.creator for ev in evidence.items()})
        oldest = evidence.oldest()
        self._requests_expire = None if oldest is None else self._expiry(oldest)
        """Wall-clock time the oldest kept friend request expires (None: none kept)."""
        self.dissem = Disseminator(me, lace, self.graph, self.config)
        self._friends = self.graph.friends(me)
        self._follows = self.graph.follows(me)
        self._answered: dict[MemberId, float] = {}
        """When I last answered a peer's friend request with my own."""
        self.own = OwnChainGuard(need=1 if self._friends else 0)
        """Signing waits until one friend showed it holds no block of mine I lack (my store may
        be older than my chain: a restored backup); stops if someone else signs as me."""
        mine = personal_lace(me)
        for fork in lace.equivocations(mine):
            if fork.creator == me:
                self.own.forked(fork.seq)
                break

    def _seq_of(self, bid: BlockId) -> int | None:
        return self.lace.meta(bid).seq if bid in self.lace else None

    # -- my own blocks ----------------------------------------------------------------------

    def next_block(self, payload: Value) -> tuple[LaceId, tuple[BlockId, ...]]:
        """The lace and pointers of my next block (the member actor signs it)."""
        if not isinstance(payload, Record):
            raise LocalError("a personal block's payload is a record")
        refusal = self.own.refusal(sorted(self._friends), "friends")
        if refusal is not None:
            raise refusal
        mine = personal_lace(self.me)
        tips = self.lace.tips(mine, self.me)
        if len(tips) > 1:
            raise LocalError("my own lace is forked; refusing to extend it")
        return mine, tuple(tips)

    def may_sign(self) -> bool:
        """Whether :meth:`next_block` would give pointers now (self-synced, no own problem)."""
        return self.own.may_sign()

    def override_self_sync(self) -> None:
        """Sign without having heard from a friend (the member chose to, see docs)."""
        self.own.override()

    def own_problems(self) -> list[OwnProblem]:
        return [] if self.own.problem is None else [self.own.problem]

    def _own_tips_held(self, report: object) -> bool:
        assert isinstance(report, tuple)
        return all(t in self.lace for t in report)

    def _own_event(self, problem: OwnProblem | None, out: list[SocialEvent]) -> None:
        if problem is not None:
            out.append(SocialEvent(problem.kind, self.me, detail=problem.detail))

    def _learn_own(self, peer: MemberId, msg: Disclose, out: SocialStep) -> None:
        """A friend's disclosure shows how far it holds my lace: count it once I hold that."""
        mine = personal_lace(self.me)
        for heads in msg.heads:
            if heads.lace == mine:
                tips = tuple(BlockId(t) for t in heads.tips)
                if self.own.report(peer, tips, self._own_tips_held):
                    out.events.append(SocialEvent("self_synced", peer))
                return

    def add_own(self, block: Block, now: float) -> SocialStep:
        """Store my new signed block, push it to friends; a Befriend also cold-calls."""
        if block.creator != self.me:
            raise LocalError("add_own takes my own blocks")
        try:
            check_personal_block(block)
            self.lace.add(block)
        except InvalidBlock as exc:
            raise LocalError(f"own block refused: {exc}") from None
        self.own.made_block(block.id, self.lace.meta(block.id).seq)
        out, events = self._absorb([block.id], now)
        payload = block.payload
        if isinstance(payload, Befriend) and payload.target != self.me:
            out.append(Outgoing(MemberId(payload.target), FriendRequest(block.to_bytes())))
        return self._step(SocialStep(outgoing=out, events=events), now)

    # -- the wire ---------------------------------------------------------------------------

    def on_wire(
        self, peer: MemberId, msg: Value, now: float, *, verified: bool = False
    ) -> SocialStep:
        """A message from an authenticated peer; ``verified``: its block signatures are checked."""
        out = SocialStep()
        if isinstance(msg, FriendRequest):
            self._on_request(peer, msg, now, verified, out)
        elif not isinstance(msg, Disclose | Blocks):
            out.errors.append(RemoteProtocolError("unexpected_message", type(msg).__name__))
        elif not self.graph.is_friend(self.me, peer):
            out.errors.append(RemoteProtocolError("not_friend", "only friends exchange laces"))
        elif isinstance(msg, Disclose):
            self._learn_own(peer, msg, out)
            out.outgoing.extend(self.dissem.on_disclose(peer, msg, now))
        else:
            self._on_blocks(peer, msg, now, verified, out)
        for err in out.errors:
            _log.warning("refused", peer=peer.hex()[:16], reason=err.reason)
        return self._step(out, now)

    def _on_blocks(
        self, peer: MemberId, msg: Blocks, now: float, verified: bool, out: SocialStep
    ) -> None:
        blocks: list[Block] = []
        raws: list[bytes] = []
        for raw in msg.blocks:
            try:
                block = Block.from_bytes(raw)
                check_personal_block(block)
                if lace_owner(block.lace) not in self._follows:
                    raise InvalidBlock("not_followed", "I do not follow it", block_id=block.id)
            except RemoteProtocolError as exc:
                out.errors.append(exc)
                continue
            blocks.append(block)
            raws.append(raw)
        report = self.lace.add_many(blocks, raws=raws, verified=verified)
        out.errors.extend(err for _, err in report.rejected)
        refused = {bid for bid, _ in report.rejected}
        self.dissem.blocks_received(peer, (b.id for b in blocks if b.id not in refused))
        out.added.extend(report.added)
        for bid in report.added:
            meta = self.lace.meta(bid)
            if meta.creator == self.me:
                self._own_event(self.own.saw_own(bid, meta.seq, peer), out.events)
        for ev in report.equivocations:
            if ev.creator == self.me:
                self._own_event(self.own.forked(ev.seq), out.events)
        if report.added and self.own.recheck(self._own_tips_held):
            out.events.append(SocialEvent("self_synced", peer))
        sent, events = self._absorb(report.added, now)
        out.events.extend(events)
        out.outgoing.extend(self.dissem.ack(peer, now))
        out.outgoing.extend(sent)

    def _on_request(
        self, peer: MemberId, msg: FriendRequest, now: float, verified: bool, out: SocialStep
    ) -> None:
        try:
            block = _request_block(msg.block, peer, self.me)
            if not verified and not block.signature_ok():
                raise InvalidBlock("forged_signature", "signature does not verify")
        except RemoteProtocolError as exc:
            out.errors.append(exc)
            return
        if self.evidence_block(peer) == block.id or block.id in self.lace:
            # A repeat: the peer still lacks my consent (it keeps cold-calling), so answer,
            # at most once per disclose interval (two nodes' answers never ping-pong).
            last = self._answered.get(peer)
            mine = self.friend_request_for(peer, even_if_friends=True)
            if mine is not None and (last is None or now - last >= self.config.disclose_interval_s):
                self._answered[peer] = now
                out.outgoing.append(Outgoing(peer, mine))
            return
        self.evidence.put(Evidence(peer, self.me, msg.block, block.id, self._wall()))
        self.graph.add_evidence(block)
        self._prune_evidence({peer})
        if self._evict_requests() and self.evidence.get(peer, self.me) is None:
            return  # it was the oldest kept (a clock gone backwards): nothing more to do
        if not self.graph.consents(self.me, peer) and self.graph.consents(peer, self.me):
            out.events.append(SocialEvent("request_received", peer, block_id=block.id))
        sent, events = self._absorb([], now)
        out.events.extend(events)
        out.outgoing.extend(sent)
        mine = self.friend_request_for(peer, even_if_friends=True)
        if mine is not None:  # it may not have my consent yet: answer with it
            self._answered[peer] = now
            out.outgoing.append(Outgoing(peer, mine))

    def evidence_block(self, creator: MemberId) -> BlockId | None:
        ev = self.evidence.get(creator, self.me)
        return None if ev is None else ev.block_id

    def _evict_requests(self) -> int:
        """Drop the oldest requests beyond ``max_pending_requests`` and expired ones."""
        cfg = self.config
        wall = self._wall()
        dropped = 0
        while True:
            ev = self.evidence.oldest()
            if ev is None:
                self._requests_expire = None
                return dropped
            # expired at its _expiry (the time wake_at names), compared in that same form
            if self.evidence.count() <= cfg.max_pending_requests and self._expiry(ev) > wall:
                self._requests_expire = self._expiry(ev)
                return dropped
            self.evidence.remove(ev.creator, ev.target)
            self.graph.drop_evidence(ev.creator, ev.target)
            dropped += 1

    # -- folding new blocks -------------------------------------------------------------------

    def _absorb(
        self, added: Iterable[BlockId], now: float
    ) -> tuple[list[Outgoing], list[SocialEvent]]:
        added = list(added)
        events: list[SocialEvent] = []
        creators: set[MemberId] = set()
        for bid in added:
            meta = self.lace.meta(bid)
            payload = self.lace.get(bid).payload
            self.graph.apply(meta, payload)
            creators.add(meta.creator)
            if meta.creator == self.me:
                continue
            if isinstance(payload, Post | Reply):
                events.append(SocialEvent("post_received", meta.creator, block_id=bid))
            elif isinstance(payload, Introduce) and self.me in (payload.a, payload.b):
                other = MemberId(payload.b if payload.a == self.me else payload.a)
                events.append(SocialEvent("introduced", other, by=meta.creator, block_id=bid))
        self._prune_evidence(creators)
        out: list[Outgoing] = []
        friends = self.graph.friends(self.me)
        for q in sorted(friends - self._friends):
            events.append(SocialEvent("friend_added", q))
        for q in sorted(self._friends - friends):
            events.append(SocialEvent("friend_removed", q))
            self.dissem.peer_down(q)
        self._friends = friends
        follows = self.graph.follows(self.me)
        if follows != self._follows:
            self._follows = follows
            out.extend(self.dissem.disclose_all(now))
        out.extend(self.dissem.on_new_blocks(added, now))
        return out, events

    def _prune_evidence(self, creators: set[MemberId]) -> None:
        """Drop requests that the requester's own lace (now replicated) makes redundant."""
        for creator in creators:
            if self.graph.evidence_redundant(creator, self.me):
                self.evidence.remove(creator, self.me)
                self.graph.drop_evidence(creator, self.me)

    # -- connections and time -----------------------------------------------------------------

    def peer_up(self, q: MemberId, now: float) -> SocialStep:
        """A friend's connection is up: a new session, starting with my disclosure."""
        return self._step(SocialStep(outgoing=self.dissem.peer_up(q, now)), now)

    def peer_down(self, q: MemberId) -> None:
        self.dissem.peer_down(q)

    def tick(self, now: float) -> SocialStep:
        """Expire lost messages and old friend requests, re-disclose when due."""
        self._evict_requests()
        return self._step(SocialStep(outgoing=self.dissem.tick(now)), now)

    def _expiry(self, ev: Evidence) -> float:
        return ev.received + self.config.pending_request_ttl_s

    def _step(self, step: SocialStep, now: float) -> SocialStep:
        """Set ``step.wake_at``: the earliest of the disseminator's duties and request expiry.

        A request's expiry is wall-clock time; its distance from now is taken as monotonic
        seconds (a wall clock set forward or back is noticed at the next tick).
        """
        expire = self._requests_expire
        in_s = None if expire is None else now + max(0.0, expire - self._wall())
        wake = earliest(self.dissem.next_due(), in_s)
        step.wake_at = None if wake is None else max(wake, now)  # due already: now
        return step

    # -- queries ------------------------------------------------------------------------------

    def friends(self) -> set[MemberId]:
        return set(self._friends)

    def follows(self) -> set[MemberId]:
        return set(self._follows)

    def pending_requests(self) -> list[MemberId]:
        """Members who befriended me and whom I have not befriended."""
        return sorted(
            q for q in self.graph.admirers(self.me) if not self.graph.consents(self.me, q)
        )

    def outgoing_requests(self) -> list[MemberId]:
        """Members I befriended without (known) consent back: keep cold-calling them."""
        return sorted(
            q for q in self.graph.befriended(self.me) if not self.graph.consents(q, self.me)
        )

    def friend_request_for(
        self, q: MemberId, *, even_if_friends: bool = False
    ) -> FriendRequest | None:
        """My latest Befriend(q) block as a cold call, while q has not (known to) agreed."""
        bid = self.graph.consent_block(self.me, q)
        if bid is None or not self.graph.consents(self.me, q):
            return None
        if not even_if_friends and self.graph.consents(q, self.me):
            return None
        return FriendRequest(self.lace.raw(bid))

    def introductions(self) -> list[Introduction]:
        """Introductions of me to members I have not befriended yet."""
        return [
            i
            for i in self.graph.introductions_for(self.me)
            if i.other != self.me and not self.graph.consents(self.me, i.other)
        ]

    def feed(self, limit: int = 50) -> list[FeedItem]:
        return self.graph.feed(self.me, limit)

    def addresses(self) -> dict[MemberId, tuple[str, int]]:
        """Friends' latest Address blocks."""
        out: dict[MemberId, tuple[str, int]] = {}
        for q in sorted(self._friends):
            addr = self.graph.address(q)
            if addr is not None:
                out[q] = addr
        return out

    def status(self) -> dict[str, Value]:
        return {
            "blocks": len(self.lace),
            "laces": sum(1 for lc in self.lace.laces() if lace_owner(lc) is not None),
            "friends": len(self._friends),
            "follows": len(self._follows),
            "pending": len(self.pending_requests()),
            "outgoing": len(self.outgoing_requests()),
        }

    def own_chain_status(self) -> dict[str, Value]:
        """Whether I may sign, and from how many friends I learnt my own lace since the start."""
        return self.own.status("personal lace")


def _request_block(raw: bytes, sender: MemberId, me: MemberId) -> Block:
    """Decode a friend request and check what it says (not the signature)."""
    block = Block.from_bytes(raw)
    if block.creator != sender:
        raise InvalidBlock("wrong_sender", "a request comes from its creator", block_id=block.id)
    check_personal_block(block)
    payload = block.payload
    if not isinstance(payload, Befriend) or payload.target != me:
        raise InvalidBlock("not_a_request", "not Befriend(me)", block_id=block.id)
    return block

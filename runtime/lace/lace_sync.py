"""Pull-push anti-entropy for one lace: a sans-IO node core that keeps peers' blocklaces equal.

Why: it is the smallest protocol that exercises every blocklace operation over an unreliable
network (buffering, missing_for, equivocation evidence), so the simulator and the demo can
show signed blocks travelling between phones.  The grassroots, friends-only dissemination of
the node runtime builds on the same two messages.

Every ``interval`` seconds a node sends a random peer :class:`SyncHave` with its lace tips
(every block it holds is observed by one of them).  The peer answers with
:class:`SyncBlocks`, the blocks the tips show are missing, in topological order; if some tips
are unknown to it, it also answers with its own :class:`SyncHave` so the first node sends
those back.  Bad input from a peer is logged as a rejection and never stops the node.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from peoplenet.runtime.errors import RemoteProtocolError
from peoplenet.runtime.keys.identity import Identity, fingerprint
from peoplenet.runtime.lace.block import Block, LaceId
from peoplenet.runtime.lace.blocklace import AddReport, Blocklace
from peoplenet.runtime.lace.frontier_sync import (
    MAX_BLOCKS,
    MAX_FRONTIER,
    chunk,
    missing_by_tips,
    tips_of,
)
from peoplenet.runtime.log import get_logger
from peoplenet.runtime.sim.simulator import Action, Send, SetTimer
from peoplenet.runtime.wire.codec import Record, Value, decode, encode, wire_type

_log = get_logger("lace_sync")

MAX_BLOCKS_PER_MESSAGE: Final = MAX_BLOCKS
MAX_HEADS: Final = MAX_FRONTIER


@wire_type(2)
@dataclass(frozen=True, slots=True)
class SyncHave(Record):
    """ "These are my tips of ``lace``: send me what they do not observe."""

    lace: bytes
    heads: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if len(self.heads) > MAX_HEADS:
            raise RemoteProtocolError("too_many_heads", f"{len(self.heads)} > {MAX_HEADS}")


@wire_type(3)
@dataclass(frozen=True, slots=True)
class SyncBlocks(Record):
    """Blocks of ``lace`` the receiver lacks, pointees first."""

    lace: bytes
    blocks: tuple[Block, ...]

    def __post_init__(self) -> None:
        if len(self.blocks) > MAX_BLOCKS_PER_MESSAGE:
            raise RemoteProtocolError("too_many_blocks", f"{len(self.blocks)}")


@dataclass(frozen=True, slots=True)
class SyncEvent:
    """Something a node did or saw, for logs, tests and the demo's narration."""

    node: str
    kind: str
    """``posted``, ``received``, ``rejected``, ``equivocation`` or ``bad_message``."""
    at: float
    peer: str = ""
    count: int = 0
    detail: str = ""


@dataclass(slots=True)
class LaceSync:
    """One node's anti-entropy core for one lace (implements the simulator's node protocol)."""

    name: str
    identity: Identity
    blocklace: Blocklace
    lace: LaceId
    peers: list[str]
    rng: random.Random
    interval: float = 0.5
    posts: list[tuple[float, str]] = field(default_factory=list)
    """Scheduled posts: (time, text)."""
    on_event: Callable[[SyncEvent], None] = lambda e: None

    def start(self, now: float) -> Iterable[Action]:
        actions: list[Action] = [SetTimer("sync", now + self.rng.uniform(0, self.interval))]
        actions.extend(
            SetTimer(f"post:{i}", at) for i, (at, _) in enumerate(self.posts) if at >= now
        )
        return actions

    def timer(self, key: str, now: float) -> Iterable[Action]:
        if key == "sync":
            actions: list[Action] = [SetTimer("sync", now + self.interval)]
            if self.peers:
                peer = self.rng.choice(self.peers)
                actions.append(Send(peer, encode(self._have())))
            return actions
        if key.startswith("post:"):
            _, text = self.posts[int(key[5:])]
            self.post({"t": "post", "text": text}, now)
        return ()

    def post(self, payload: dict[str, Value], now: float) -> Block:
        """Sign a block pointing to our latest block and every lace tip we know (cordial)."""
        own = self.blocklace.latest(self.lace, self.identity.member_id)
        tips = set(self.blocklace.lace_tips(self.lace))
        if own is not None:
            tips = {t for t in tips if self.blocklace.meta(t).creator != self.identity.member_id}
            tips.add(own)
        block = Block.create(self.identity, self.lace, payload, tuple(tips))
        self.blocklace.add(block)
        self.on_event(SyncEvent(self.name, "posted", now, detail=str(payload.get("text", ""))))
        return block

    def receive(self, src: str, data: bytes, now: float) -> Iterable[Action]:
        try:
            message = decode(data)
        except RemoteProtocolError as exc:
            _log.warning("bad_message", node=self.name, peer=src, reason=exc.reason)
            self.on_event(SyncEvent(self.name, "bad_message", now, src, detail=exc.reason))
            return ()
        if isinstance(message, SyncHave) and message.lace == self.lace:
            return self._answer(src, message)
        if isinstance(message, SyncBlocks) and message.lace == self.lace:
            self._take(src, message.blocks, now)
            return ()
        self.on_event(SyncEvent(self.name, "bad_message", now, src, detail="unexpected"))
        return ()

    def _have(self) -> SyncHave:
        return SyncHave(self.lace, tips_of(self.blocklace, self.lace))

    def _answer(self, src: str, have: SyncHave) -> list[Action]:
        found = missing_by_tips(self.blocklace, self.lace, have.heads)
        actions: list[Action] = []
        for ids, _ in chunk(self.blocklace, found.ids):
            blocks = tuple(self.blocklace.get(b) for b in ids)
            actions.append(Send(src, encode(SyncBlocks(self.lace, blocks))))
        if found.peer_ahead:
            actions.append(Send(src, encode(self._have())))
        return actions

    def _take(self, src: str, blocks: tuple[Block, ...], now: float) -> None:
        report: AddReport = self.blocklace.add_many(blocks)
        if report.added:
            self.on_event(SyncEvent(self.name, "received", now, src, len(report.added)))
        for bid, error in report.rejected:
            _log.warning(
                "block_rejected",
                node=self.name,
                peer=src,
                reason=error.reason,
                block=bid.hex()[:16] if bid else None,
            )
            self.on_event(SyncEvent(self.name, "rejected", now, src, detail=error.reason))
        for ev in report.equivocations:
            _log.warning(
                "equivocation",
                node=self.name,
                peer=src,
                creator=fingerprint(ev.creator),
                seq=ev.seq,
            )
            self.on_event(
                SyncEvent(self.name, "equivocation", now, src, detail=ev.creator.hex()[:8])
            )

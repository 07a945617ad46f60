"""Cordial Miners' ordering for one epoch: approve, ratify, super-ratify, and τ.

Definitions (``docs/consensus.md`` has the reasoning):

* Rounds are depths; wave ``k`` is rounds ``3k`` (leader), ``3k+1``, ``3k+2``.  Its leader is
  ``constitution.leader(k)``; a *leader block* is that member's block at round ``3k``.
* ``approves(z, L)``: ``z`` observes ``L`` and no block of ``L``'s creator that conflicts
  with ``L`` (neither observes the other).
* ``ratifies(y, L)``: ``[y]`` holds approvals of ``L`` from a supermajority of creators.
  Approvals are counted among blocks of ``L``'s own wave -- the only ones that matter for
  finality, and a fixed function of ``[y]``, so every member computes the same relation.
* ``L`` is *final* when blocks of its wave from a supermajority of creators ratify it.
* τ: from the latest final leader, recurse to the most recent earlier-wave leader it
  ratifies; each such *anchor* emits the blocks of ``[anchor] - [previous anchor]`` that it
  approves, by ``(depth, id)``.  A final leader is ratified by every later block (quorum
  intersection), so the recursion never skips one and the order only ever grows.

Everything here is incremental: :meth:`EpochOrder.on_block` is called once per inserted
block (pointees first) and costs O(pointers); :meth:`EpochOrder.advance` emits what became
final.  Feeding the same blocks in any topological order gives the same result.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Final

from peoplenet.runtime.consensus.constitution import Constitution
from peoplenet.runtime.consensus.rules import WAVE_LENGTH
from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.keys.identity import MemberId
from peoplenet.runtime.lace.block import BlockId, LaceId
from peoplenet.runtime.lace.blocklace import Blocklace, BlockMeta

W = WAVE_LENGTH
_DEPTH_AT: Final = itemgetter(4)
"""A :class:`BlockMeta`'s depth, read by position (C-level, where the named field is not)."""


@dataclass(slots=True)
class _Leader:
    """What is known about one leader block of a wave."""

    id: BlockId
    depth: int
    creator: MemberId
    approvals: dict[MemberId, list[BlockId]] = field(default_factory=dict)
    """Creator -> its blocks (in the wave) that approve this leader."""
    approvers: dict[BlockId, MemberId] = field(default_factory=dict)
    """The same approvals by block: approving block -> its creator."""
    observers: set[BlockId] = field(default_factory=set)
    """Blocks of the wave that observe this leader block (itself included)."""
    ratifiers: set[MemberId] = field(default_factory=set)
    final_at: int = -1
    """Depth of the block that completed the super-ratification (-1: not final)."""


@dataclass(frozen=True, slots=True)
class Anchor:
    """One step of the order: a leader block and the blocks it newly emits, in order."""

    leader: BlockId
    wave: int
    final_leader: BlockId
    """The final leader whose recursion reached this anchor (itself, for the newest)."""
    final_at: int
    """Depth at which that final leader was seen final (for latency metrics)."""
    blocks: tuple[BlockId, ...]


class EpochOrder:
    """Finality and the τ order for one epoch lace (see module docstring)."""

    def __init__(self, lace: LaceId, constitution: Constitution, blocklace: Blocklace) -> None:
        self.lace = lace
        self._c = constitution
        self._participants = constitution.participants
        """Round robin of :meth:`Constitution.leader`, read directly once per block."""
        self._q = constitution.quorum
        self._bl = blocklace
        self._forked = blocklace.forked_view(lace)
        """Creators that forked in this lace (live): tested once per block and leader."""
        self._metas = blocklace.metas
        self._leaders: dict[int, list[_Leader]] = {}
        self._leader_by_id: dict[BlockId, _Leader] = {}
        self._covered: set[BlockId] = set()
        self._anchor: BlockId | None = None
        self._anchor_wave = -1
        self._new_final: list[_Leader] = []
        self.final_leaders: dict[int, BlockId] = {}
        """Wave -> its final leader block, as seen by this member."""
        self.final_depths: dict[int, int] = {}
        """Wave -> depth at which its leader was seen final (latency metrics)."""

    @property
    def anchor_wave(self) -> int:
        """Wave of the latest anchor emitted (-1 before any)."""
        return self._anchor_wave

    def leader_blocks(self, wave: int) -> list[BlockId]:
        """The wave's leader blocks known so far (more than one only if the leader forked)."""
        return [leader.id for leader in self._leaders.get(wave, ())]

    def has_leader_block(self, wave: int) -> bool:
        """Whether some leader block of the wave is known (cheaper than :meth:`leader_blocks`)."""
        return bool(self._leaders.get(wave))

    def approval_count(self, wave: int) -> int:
        """Most creators approving any one leader block of the wave (0 without a leader)."""
        return max((len(leader.approvals) for leader in self._leaders.get(wave, ())), default=0)

    def is_ordered(self, block_id: BlockId) -> bool:
        """Whether the order has passed over this block (emitted, or excluded for good)."""
        return block_id in self._covered

    def ordered_among(self, block_ids: set[BlockId]) -> set[BlockId]:
        """Those of ``block_ids`` that :meth:`is_ordered` (one C-level pass over the smaller)."""
        return block_ids & self._covered

    # -- incremental finality ----------------------------------------------------------------

    def on_block(self, meta: BlockMeta) -> None:
        """Account for a newly inserted block of this lace."""
        bid, creator, _, _, depth, pointers, _, _ = meta
        wave, pos = divmod(depth, W)
        participants = self._participants
        leaders = self._leaders.get(wave)
        if pos == 0 and creator == participants[wave % len(participants)]:
            leader = _Leader(bid, depth, creator)
            if leaders is None:
                leaders = self._leaders[wave] = []
            leaders.append(leader)
            self._leader_by_id[bid] = leader
        if not leaders:
            return
        forked = self._forked
        for leader in leaders:
            # Does the block observe the leader?  It is in the leader's wave, and blocks come
            # pointees first: iff it is the leader or points to a block of the wave that does
            # (pointers below the leader's round cannot lead back up to it).
            if bid != leader.id and (pos == 0 or leader.observers.isdisjoint(pointers)):
                continue
            leader.observers.add(bid)
            if leader.creator not in forked or self._no_conflict_seen(bid, leader.id):
                approvals = leader.approvals.get(creator)
                if approvals is None:
                    leader.approvals[creator] = [bid]
                else:
                    approvals.append(bid)
                leader.approvers[bid] = creator
            if leader.final_at >= 0:
                continue
            # Does [block] hold a supermajority of approvals?  Approvals lie in the wave, and
            # a block of the wave reaches other blocks of the wave only through its own
            # pointers: so [block]'s approvals are its own, its pointees' and the leader's
            # (the leader approves itself).
            approvers = leader.approvers
            creators = set(map(approvers.get, pointers))
            creators.discard(None)
            creators.add(leader.creator)
            if bid in approvers:
                creators.add(creator)
            if len(creators) >= self._q:
                leader.ratifiers.add(creator)
                if len(leader.ratifiers) >= self._q:
                    leader.final_at = depth
                    if wave > self._anchor_wave and wave not in self.final_leaders:
                        self.final_leaders[wave] = leader.id
                        self.final_depths[wave] = depth
                        self._new_final.append(leader)

    def _no_conflict_seen(self, z: BlockId, target: BlockId) -> bool:
        """Whether ``[z]`` holds no block of ``target``'s creator that conflicts with it."""
        bl = self._bl
        tm = bl.meta(target)
        if not bl.has_forked(self.lace, tm.creator):
            return True
        for w in bl.chain(self.lace, tm.creator):
            if w == target or bl.observes(target, w) or bl.observes(w, target):
                continue
            if bl.observes(z, w):
                return False
        return True

    def _ratifies_later(self, x: BlockId, leader: _Leader) -> bool:
        """``[x]`` holds approvals of ``leader`` (from its wave) by a supermajority."""
        # Approvals lie in the leader's wave: walk [x] down to the leader's depth only, rather
        # than build x's vector clock (a merge of n-entry maps over every uncached ancestor).
        seen = self._bl.closure(x, min_depth=leader.depth)
        count = 0
        for ids in leader.approvals.values():
            if not seen.isdisjoint(ids):
                count += 1
                if count >= self._q:
                    return True
        return False

    # -- the order ---------------------------------------------------------------------------

    def advance(self) -> list[Anchor]:
        """Anchors that became emittable since the last call, oldest first."""
        if not self._new_final:
            return []
        newest = max(self._new_final, key=lambda leader: leader.depth)
        self._new_final.clear()
        newest_wave = newest.depth // W
        if newest_wave <= self._anchor_wave:
            return []
        chain = [newest]
        x = newest
        while True:
            found: _Leader | None = None
            for wave in range(x.depth // W - 1, self._anchor_wave, -1):
                for cand in sorted(self._leaders.get(wave, ()), key=lambda lb: lb.id):
                    if self._ratifies_later(x.id, cand):
                        found = cand
                        break
                if found is not None:
                    break
            if found is None:
                break
            chain.append(found)
            x = found
        if self._anchor is not None:
            previous = self._leader_by_id[self._anchor]
            if not self._ratifies_later(x.id, previous):
                raise LocalError("consensus invariant: a final anchor was skipped")
        out: list[Anchor] = []
        final_at = newest.final_at
        for leader in reversed(chain):
            blocks = self._emit(leader.id)
            wave = leader.depth // W
            out.append(Anchor(leader.id, wave, newest.id, final_at, tuple(blocks)))
            self._anchor = leader.id
            self._anchor_wave = wave
        return out

    def _emit(self, anchor: BlockId) -> list[BlockId]:
        """Blocks of ``[anchor]`` not yet covered, that ``anchor`` approves, by (depth, id)."""
        covered = self._covered
        metas = self._metas
        get = metas.__getitem__
        fresh: list[BlockId] = [anchor]
        seen = {anchor}
        layer = [anchor]
        while layer:  # a layer at a time, with set operations: Python work per block, not pointer
            reached = set().union(*[metas[b][5] for b in layer])  # [5]: the pointers
            reached.difference_update(covered, seen)
            layer = list(reached)
            seen.update(layer)
            fresh.extend(layer)
        covered |= seen
        forked = self._forked
        if forked:
            fresh = [
                b
                for b in fresh
                if get(b).creator not in forked or self._no_conflict_seen(anchor, b)
            ]
        depths = map(_DEPTH_AT, map(get, fresh))
        return [b for _, b in sorted(zip(depths, fresh, strict=True))]

    def rebuild(self, ids: Iterable[BlockId]) -> None:
        """Feed stored blocks (pointees first), e.g. after a restart."""
        meta = self._bl.meta
        for b in ids:
            self.on_block(meta(b))

"""The queries over a blocklace's indexes: the read side of
:class:`~peoplenet.runtime.lace.blocklace.Blocklace`.

Why apart: insertion (blocklace.py) derives and keeps the indexes -- metas, chains by seq,
blocks by depth, tips, equivocators -- and every protocol only reads them through these
queries (blocks and their facts, creators' chains and tips, observation and frontiers, what a
peer lacks).  :class:`BlocklaceQueries` declares the indexes it reads; ``Blocklace`` fills
them and is the only subclass.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING

from peoplenet.runtime.keys.identity import MemberId
from peoplenet.runtime.lace.block import Block, BlockId, LaceId
from peoplenet.runtime.lace.store_api import BlockStore

if TYPE_CHECKING:
    from peoplenet.runtime.lace.blocklace import _LRU, BlockMeta, Equivocation


class BlocklaceQueries:
    """Read-only queries over the indexes a :class:`Blocklace` keeps (see blocklace.py)."""

    _store: BlockStore
    _meta: dict[BlockId, BlockMeta]
    _chains: dict[tuple[LaceId, MemberId], dict[int, tuple[BlockId, ...]]]
    _by_depth: dict[LaceId, dict[int, list[BlockId]]]
    _lace_creators: dict[LaceId, set[MemberId]]
    _tips: dict[LaceId, set[BlockId]]
    _equivocations: list[Equivocation]
    _equivocators: dict[LaceId, set[MemberId]]
    _pending: OrderedDict[BlockId, tuple[Block, bytes]]
    _waiting_on: dict[BlockId, set[BlockId]]
    _blocks: _LRU[Block]
    _frontiers: _LRU[dict[MemberId, int]]

    # -- reading -----------------------------------------------------------------------------

    def __contains__(self, block_id: object) -> bool:
        return block_id in self._meta

    def __len__(self) -> int:
        return len(self._meta)

    def meta(self, block_id: BlockId) -> BlockMeta:
        """Indexed facts about a stored block; ``KeyError`` if unknown."""
        return self._meta[block_id]

    def get(self, block_id: BlockId) -> Block:
        """The block itself (decoded from the store on a cache miss); ``KeyError`` if unknown."""
        cached = self._blocks.get(block_id)
        if cached is not None:
            self._blocks.move_to_end(block_id)
            return cached
        if block_id not in self._meta:
            raise KeyError(block_id.hex())
        raw = self._store.get_raw(block_id)
        if raw is None:
            raise KeyError(block_id.hex())
        block = Block.from_bytes(raw)
        self._blocks.put(block_id, block)
        return block

    def raw(self, block_id: BlockId) -> bytes:
        """The canonical bytes of a stored block, exactly as stored."""
        raw = self._store.get_raw(block_id)
        if raw is None or block_id not in self._meta:
            raise KeyError(block_id.hex())
        return raw

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    def wanted(self) -> set[BlockId]:
        """Ids that buffered blocks point to and nobody has given us yet (ask peers for these)."""
        return {p for p in self._waiting_on if p not in self._meta and p not in self._pending}

    def laces(self) -> list[LaceId]:
        return sorted(self._by_depth)

    def depth(self, block_id: BlockId) -> int:
        return self._meta[block_id].depth

    # -- creators, tips, equivocation ----------------------------------------------------------

    def creators(self, lace: LaceId) -> list[MemberId]:
        """Creators with at least one block in ``lace``, sorted."""
        return sorted(self._lace_creators.get(lace, ()))

    def chain(self, lace: LaceId, creator: MemberId) -> list[BlockId]:
        """A creator's blocks in a lace by seq (forks: every branch, ids sorted within a seq)."""
        by_seq = self._chains.get((lace, creator), {})
        return [b for s in sorted(by_seq) for b in sorted(by_seq[s])]

    def tips(self, lace: LaceId, creator: MemberId) -> list[BlockId]:
        """The creator's latest blocks in ``lace``: one normally, several after a fork."""
        by_seq = self._chains.get((lace, creator))
        if not by_seq:
            return []
        if creator not in self._equivocators.get(lace, ()):
            return list(by_seq[len(by_seq) - 1])  # one chain, seqs 0..n-1
        ids = [b for bs in by_seq.values() for b in bs]
        has_child = {self._meta[b].parent for b in ids}
        return sorted(b for b in ids if b not in has_child)

    def latest(self, lace: LaceId, creator: MemberId) -> BlockId | None:
        """The creator's single latest block, or ``None`` if it has none or has forked."""
        if creator not in self._equivocators.get(lace, ()):
            by_seq = self._chains.get((lace, creator))
            return by_seq[len(by_seq) - 1][0] if by_seq else None  # one chain, seqs 0..n-1
        tips = self.tips(lace, creator)
        return tips[0] if len(tips) == 1 else None

    def latest_up_to(self, lace: LaceId, depth: int) -> list[BlockId]:
        """Every creator's latest blocks of ``lace`` with depth <= ``depth`` (every branch of a
        fork; branches that meet below ``depth`` give their meeting block once per branch),
        unsorted: what a block of round ``depth + 1`` points to."""
        meta = self._meta
        forked = self._equivocators.get(lace, ())
        out: list[BlockId] = []
        for creator in self._lace_creators.get(lace, ()):
            if creator in forked:
                tips: Sequence[BlockId] = self.tips(lace, creator)
            else:
                by_seq = self._chains[(lace, creator)]
                tips = by_seq[len(by_seq) - 1]  # one chain, seqs 0..n-1
            for tip in tips:
                m: BlockMeta | None = meta[tip]
                while m is not None and m.depth > depth:
                    m = None if m.parent is None else meta[m.parent]
                if m is not None:
                    out.append(m.id)
        return out

    def creator_frontier(self, lace: LaceId) -> dict[MemberId, int]:
        """For each creator of ``lace``, the highest seq held (what a peer needs to catch us up)."""
        return {
            creator: max(self._chains[(lace, creator)])
            for creator in self._lace_creators.get(lace, ())
        }

    def blocks_after(self, lace: LaceId, creator: MemberId, seq: int) -> list[BlockId]:
        """The creator's blocks in ``lace`` with a seq above ``seq`` (every branch)."""
        by_seq = self._chains.get((lace, creator), {})
        return [b for s in sorted(by_seq) if s > seq for b in by_seq[s]]

    def lace_tips(self, lace: LaceId) -> list[BlockId]:
        """Blocks of ``lace`` that no block points to yet, sorted."""
        return sorted(self._tips.get(lace, ()))

    def equivocations(self, lace: LaceId | None = None) -> list[Equivocation]:
        """Recorded equivocations (evidence pairs), oldest first."""
        return [e for e in self._equivocations if lace is None or e.lace == lace]

    def equivocators(self, lace: LaceId) -> frozenset[MemberId]:
        return frozenset(self._equivocators.get(lace, ()))

    def forked_view(self, lace: LaceId) -> AbstractSet[MemberId]:
        """The creators that equivocated in ``lace``, live: the view grows as forks are found.

        For callers that test one creator per block (cheaper than :meth:`has_forked`).
        Read-only.
        """
        return self._equivocators[lace]

    @property
    def metas(self) -> Mapping[BlockId, BlockMeta]:
        """Every stored block's :class:`BlockMeta` by id, live and read-only: walks over many
        blocks look each up in C rather than through a call to :meth:`meta`."""
        return self._meta

    def has_forked(self, lace: LaceId, creator: MemberId) -> bool:
        """Whether ``creator`` equivocated in ``lace`` (cheaper than :meth:`equivocators`)."""
        forked = self._equivocators.get(lace)
        return forked is not None and creator in forked

    # -- observation ---------------------------------------------------------------------------

    def observes(self, a: BlockId, b: BlockId) -> bool:
        """Whether ``a`` observes ``b``: a pointer path leads from a to b (reflexive)."""
        if a == b:
            return True
        ma, mb = self._meta[a], self._meta[b]
        if mb.depth >= ma.depth or ma.lace != mb.lace:
            return False
        if mb.creator not in self._equivocators.get(mb.lace, ()):
            # One chain per creator: a observes b iff a observes some block of b's creator at
            # seq >= b.seq, since that block's chain passes through b.
            return self.frontier(a).get(mb.creator, -1) >= mb.seq
        return self._search(a, b)

    def _search(self, a: BlockId, b: BlockId) -> bool:
        """Depth-pruned graph search (used only for equivocators' blocks)."""
        target_depth = self._meta[b].depth
        stack, seen = [a], {a}
        while stack:
            for p in self._meta[stack.pop()].pointers:
                if p == b:
                    return True
                if p not in seen and self._meta[p].depth > target_depth:
                    seen.add(p)
                    stack.append(p)
        return False

    def frontier(self, block_id: BlockId) -> Mapping[MemberId, int]:
        """For each creator, the highest seq among its blocks that ``block_id`` observes.

        A vector clock of the block's closure; cached, and computed on demand for old blocks.
        Treat the returned mapping as read-only.
        """
        cached = self._frontiers.get(block_id)
        if cached is not None:
            return cached
        # Iterative post-order over uncached ancestors, so long histories do not recurse; the
        # walk keeps its own results, so cache eviction during a long walk loses nothing.
        done: dict[BlockId, dict[MemberId, int]] = {}
        cache = self._frontiers

        def known(b: BlockId) -> dict[MemberId, int] | None:
            got = done.get(b)
            return got if got is not None else cache.get(b)

        stack: list[tuple[BlockId, bool]] = [(block_id, False)]
        while stack:
            bid, expanded = stack.pop()
            if bid in done or (not expanded and bid in cache):
                continue
            meta = self._meta[bid]
            if not expanded:
                stack.append((bid, True))
                stack.extend((p, False) for p in meta.pointers if known(p) is None)
                continue
            result: dict[MemberId, int] = {}
            for p in meta.pointers:
                pf = known(p)
                assert pf is not None
                if len(pf) > len(result):
                    pf, result = result, dict(pf)
                for creator, seq in pf.items():
                    if result.get(creator, -1) < seq:
                        result[creator] = seq
            if result.get(meta.creator, -1) < meta.seq:
                result[meta.creator] = meta.seq
            done[bid] = result
            cache.put(bid, result)
        final = known(block_id)
        assert final is not None
        return final

    def closure(self, block_id: BlockId, *, min_depth: int = 0) -> set[BlockId]:
        """Every block ``block_id`` observes (itself included) with depth >= ``min_depth``.

        Walked a layer at a time with set operations, so the Python work is per block
        reached, not per pointer (blocks point to a whole round).
        """
        meta = self._meta
        out = {block_id}
        layer = [block_id]
        while layer:
            reached = set().union(*[meta[b][5] for b in layer])  # [5]: pointers, [4]: depth
            reached -= out
            layer = [p for p in reached if meta[p][4] >= min_depth]
            out.update(layer)
        return out

    # -- dissemination ---------------------------------------------------------------------------

    def missing_for(
        self,
        lace: LaceId,
        known: Iterable[BlockId],
        *,
        creators: Collection[MemberId] | None = None,
    ) -> list[BlockId]:
        """Blocks of ``lace`` that a peer lacks, given blocks it is known to have.

        ``known`` is typically the peer's latest block (it observes everything the peer had);
        ``creators`` limits the answer to creators the peer follows.  The answer is in
        topological order, so the peer can insert it without buffering.
        """
        known_ids = [k for k in known if k in self._meta]
        frontier: dict[MemberId, int] = {}
        for k in known_ids:
            for creator, seq in self.frontier(k).items():
                if frontier.get(creator, -1) < seq:
                    frontier[creator] = seq
        forked = self._equivocators.get(lace, set())
        out: list[BlockId] = []
        for creator in self._lace_creators.get(lace, ()):
            if creators is not None and creator not in creators:
                continue
            by_seq = self._chains[(lace, creator)]
            if creator in forked:
                for ids in by_seq.values():
                    out.extend(b for b in ids if not any(self.observes(k, b) for k in known_ids))
            else:
                for seq in range(frontier.get(creator, -1) + 1, len(by_seq)):
                    out.extend(by_seq[seq])
        return self.topological(out)

    def topological(self, ids: Iterable[BlockId]) -> list[BlockId]:
        """``ids`` sorted by (depth, id): pointees before pointers, the same on every node."""
        meta = self._meta
        return sorted(ids, key=lambda b: (meta[b].depth, b))

    def iter_lace(self, lace: LaceId) -> Iterator[BlockId]:
        """Every block of ``lace`` in deterministic topological order, (depth, id)."""
        by_depth = self._by_depth.get(lace, {})
        for depth in sorted(by_depth):
            yield from sorted(by_depth[depth])

    def depth_range(self, lace: LaceId, lo: int, hi: int) -> list[BlockId]:
        """Blocks of ``lace`` with ``lo <= depth <= hi``, in (depth, id) order."""
        by_depth = self._by_depth.get(lace, {})
        return [b for d in range(lo, hi + 1) for b in sorted(by_depth.get(d, ()))]

    def at_depth(self, lace: LaceId, depth: int) -> Sequence[BlockId]:
        """Blocks of ``lace`` at exactly ``depth``, in insertion order (read-only, unsorted)."""
        return self._by_depth.get(lace, {}).get(depth, ())

    def max_depth(self, lace: LaceId) -> int:
        """The deepest round of ``lace`` (-1 if empty)."""
        by_depth = self._by_depth.get(lace)
        return max(by_depth) if by_depth else -1

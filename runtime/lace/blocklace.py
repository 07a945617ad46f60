"""The blocklace: a set of signed blocks closed under pointers, with the queries protocols need.

The queries over what insertion keeps are in blocklace_queries.py (``Blocklace`` subclasses
:class:`~peoplenet.runtime.lace.blocklace_queries.BlocklaceQueries`).

Theory of operation
-------------------
A block enters through :meth:`Blocklace.add` or :meth:`Blocklace.add_many`.  Its signature is
checked first (unless the caller already did, e.g. on a verification thread pool), so nothing
unauthenticated is ever buffered or stored.  If some pointer targets are unknown, the block
waits in a bounded in-memory buffer and is inserted as soon as the last one arrives.

Insertion derives two facts from the pointees and stores them with the block:

* ``seq`` -- the block's position in its creator's chain in this lace: 0 if it points to no
  block of its own creator, else 1 + that block's seq.  Pointing to two own blocks is invalid.
* ``depth`` -- 0 for an initial block, else 1 + the greatest pointee depth.  Every pointer goes
  to a strictly smaller depth, so sorting by ``(depth, id)`` is a deterministic topological
  order.

Pointers never cross laces: a lace is a separate DAG (a personal lace, a community epoch).

Equivocation: a correct creator's blocks in a lace form one chain, so two distinct blocks with
the same ``(lace, creator, seq)`` prove the creator forked.  Both blocks are kept (consensus
needs to see them, and peers need the evidence) and the pair is recorded as an
:class:`Equivocation`.  This catches every pair of mutually non-observing blocks of a creator
(the paper's definition), because in a blocklace closed under pointers two divergent chains
always contain two blocks at some common seq; it also flags a block that skips its creator's
latest block while observing it through others, which no correct creator does either.

A batch is planned first (validated, with seq/depth computed against the lace plus the batch
itself), then written to the store in one transaction, and only then applied to the in-memory
indexes: if the store fails, memory is unchanged and nothing was acknowledged.
With nothing buffered (the usual case), a batch is screened and planned in one pass, and a
single block skips the batch bookkeeping; both give exactly the general loop's outcome.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import compress
from types import FunctionType
from typing import Final, NamedTuple, Protocol, TypeVar, cast

from peoplenet.runtime.errors import InvalidBlock, LocalError, RemoteProtocolError
from peoplenet.runtime.keys.identity import MemberId
from peoplenet.runtime.lace.block import Block, BlockId, LaceId
from peoplenet.runtime.lace.blocklace_queries import BlocklaceQueries
from peoplenet.runtime.lace.store_api import BlockStore, StoredBlock

DEFAULT_MAX_PENDING: Final = 10_000
"""Most blocks buffered while waiting for pointees; the oldest are dropped past it."""

_CACHE_SIZE: Final = 8192
_COLUMNS_CACHED: Final = 64
"""Pointer sets whose pointee facts the blocklace remembers (see ``_pointee_columns``)."""

_Columns = tuple[LaceId, tuple[BlockId, ...], tuple[MemberId, ...], tuple[int, ...], int, int]
"""A pointer set's lace, pointee ids, creators and seqs, the depth above them, and how many
creators the deepest of them have (``BlockMeta.below``)."""

_V = TypeVar("_V")


class BlockValidator(Protocol):
    """An upper layer's rule for blocks of some laces (e.g. consensus on a community lace).

    Called when a block's pointees are all known, before it is stored; ``known`` maps ids to
    metas and includes the batch being inserted.  Return the reason to refuse, or ``None``.
    Blocks of laces the validator does not govern must return ``None``.
    """

    def __call__(
        self, block: Block, meta: BlockMeta, known: Mapping[BlockId, BlockMeta]
    ) -> InvalidBlock | None: ...


class BlockMeta(NamedTuple):
    """What the blocklace knows about a stored block without decoding it.

    A named tuple, not a dataclass: a node keeps one per block for good, and a tuple of ids
    and ints drops out of the garbage collector's sight after its first pass, where a
    dataclass instance would be scanned again at every full collection.
    """

    id: BlockId
    creator: MemberId
    lace: LaceId
    seq: int
    depth: int
    pointers: tuple[BlockId, ...]
    parent: BlockId | None
    """The creator's previous block in this lace (the chain pointer), if any."""
    below: int = 0
    """Distinct creators among the pointees of depth ``depth - 1`` (what quorum rules count)."""


_new_meta: Final[Callable[[tuple[object, ...]], BlockMeta]] = partial(tuple.__new__, BlockMeta)
"""A :class:`BlockMeta` from its 8 fields in one C call (the named tuple's ``__new__`` is
Python code, and every stored block makes one)."""


@dataclass(frozen=True, slots=True)
class Equivocation:
    """Evidence that ``creator`` signed two different blocks at one chain position."""

    lace: LaceId
    creator: MemberId
    seq: int
    first: BlockId
    second: BlockId


@dataclass(slots=True)
class AddReport:
    """What happened to each block of a batch (a block appears in exactly one list)."""

    added: list[BlockId] = field(default_factory=list)
    """Inserted and durably stored, in insertion order (includes released buffered blocks)."""
    buffered: list[BlockId] = field(default_factory=list)
    """Authentic but waiting for missing pointees."""
    duplicates: list[BlockId] = field(default_factory=list)
    """Already present or already buffered."""
    rejected: list[tuple[BlockId | None, InvalidBlock]] = field(default_factory=list)
    """Refused, with the typed reason.  Nothing about them was kept."""
    equivocations: list[Equivocation] = field(default_factory=list)
    """Equivocations this batch revealed."""


class _LRU(OrderedDict[bytes, _V]):
    """A small bounded cache; the oldest entry goes first."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key: bytes, value: _V) -> None:
        self[key] = value
        self.move_to_end(key)
        if len(self) > self.size:
            self.popitem(last=False)


_RowWriter = Callable[[list[tuple[bytes, bytes, bytes, int, int, bytes]]], None]


def _store_writer(store: BlockStore, name: str, *, overrides: tuple[str, ...]) -> _RowWriter | None:
    """The store's ``name`` method if the class that defines each of ``overrides`` (nearest in
    the MRO) defines it too: a subclass that overrides ``put_many`` (a test's failing store)
    is then still the one that writes."""
    mro = type(store).__mro__
    for method in overrides:
        owner = next((k for k in mro if method in vars(k)), None)
        if owner is None or name not in vars(owner):
            return None
    writer: _RowWriter = getattr(store, name)
    return writer


def _row_writer(store: BlockStore) -> _RowWriter | None:
    """The store's ``put_rows`` (``put_many`` without a :class:`StoredBlock` per block)."""
    return _store_writer(store, "put_rows", overrides=("put_many",))


def _vouched_writer(store: BlockStore) -> _RowWriter | None:
    """The store's ``put_vouched_rows`` (``put_rows`` without checking each field), where the
    classes that define ``put_many`` and ``put_rows`` define it."""
    return _store_writer(store, "put_vouched_rows", overrides=("put_many", "put_rows"))


class SetAside(NamedTuple):
    """A stored block left out on load: its id and why (it is fetched again from peers)."""

    block_id: bytes
    reason: str


class Blocklace(BlocklaceQueries):
    """Blocks of every lace on one node, indexed in memory, persisted in a :class:`BlockStore`."""

    def __init__(
        self,
        store: BlockStore,
        *,
        max_pending: int = DEFAULT_MAX_PENDING,
        verify_on_load: bool = False,
    ) -> None:
        if max_pending < 1:
            raise LocalError("max_pending must be positive")
        self._store = store
        self._put_rows = _row_writer(store)
        self._put_vouched = _vouched_writer(store)
        self._max_pending = max_pending
        self._meta: dict[BlockId, BlockMeta] = {}
        self._lace_meta: dict[LaceId, dict[BlockId, BlockMeta]] = {}
        """``_meta`` split by lace: a pointee found here is known *and* of the right lace."""
        # One bytes object per creator and lace of stored blocks, shared by their metas, so
        # that comparing many metas' creators and laces touches a few hot objects.
        self._creators: dict[MemberId, MemberId] = {}
        self._laces: dict[LaceId, LaceId] = {}
        # (lace, creator) -> seq -> ids at that seq (more than one only under equivocation);
        # tuples, which the garbage collector stops scanning, where lists it would scan forever
        self._chains: dict[tuple[LaceId, MemberId], dict[int, tuple[BlockId, ...]]] = {}
        self._by_depth: dict[LaceId, dict[int, list[BlockId]]] = defaultdict(dict)
        self._lace_creators: dict[LaceId, set[MemberId]] = defaultdict(set)
        self._tips: dict[LaceId, set[BlockId]] = defaultdict(set)
        self._equivocations: list[Equivocation] = []
        self._equivocators: dict[LaceId, set[MemberId]] = defaultdict(set)
        # buffer of authentic blocks whose pointees are missing
        self._pending: OrderedDict[BlockId, tuple[Block, bytes]] = OrderedDict()
        self._waiting_on: dict[BlockId, set[BlockId]] = defaultdict(set)
        self._blocks: _LRU[Block] = _LRU(_CACHE_SIZE)
        self._frontiers: _LRU[dict[MemberId, int]] = _LRU(_CACHE_SIZE)
        self._columns: dict[tuple[BlockId, ...], _Columns] = {}
        self._validators: list[BlockValidator] = []
        self._load(verify_on_load)

    def add_validator(self, validator: BlockValidator) -> None:
        """From now on, refuse every block that ``validator`` objects to."""
        # An object whose class defines ``__call__`` in Python is called through its bound
        # method: the same function, without the interpreter's generic slot call per block.
        if isinstance(getattr(type(validator), "__call__", None), FunctionType):  # noqa: B004
            validator = validator.__call__
        self._validators.append(validator)

    # -- loading -----------------------------------------------------------------------------

    def _load(self, verify: bool) -> None:
        """Rebuild the indexes from the store, checking each block's hash (and signature).

        A row whose bytes do not make the block it is filed under (a flipped bit on disk),
        and every stored block resting on it, is set aside by the store (see
        :attr:`set_aside`) instead of refusing the whole store: those blocks are then
        missing like any other and are fetched again from peers.  A store that cannot set
        rows aside refuses, as before, with ``store_corrupt``.
        """
        bad: list[SetAside] = []
        for row in self._store.iter_blocks():
            try:
                block = Block.from_bytes(row.raw)
            except RemoteProtocolError as exc:
                bad.append(SetAside(row.id, f"stored bytes do not decode ({exc.reason})"))
                continue
            if block.id != row.id:
                bad.append(SetAside(row.id, "stored bytes do not hash to their id"))
                continue
            if verify and not block.signature_ok():
                bad.append(SetAside(row.id, "stored block has a bad signature"))
                continue
            meta = self._derive(block, block.id, self._meta)
            if meta is None:
                bad.append(SetAside(row.id, "a stored block points to a missing block"))
                continue
            if isinstance(meta, InvalidBlock):
                raise meta
            self._apply(meta)
        if bad:
            set_aside = getattr(self._store, "set_aside", None)
            if set_aside is None:
                raise InvalidBlock("store_corrupt", bad[0].reason, block_id=bad[0].block_id)
            set_aside([(b.block_id, b.reason) for b in bad])
        self.set_aside: tuple[SetAside, ...] = tuple(bad)
        """Rows found damaged on load (and the blocks resting on them), now out of the store."""

    # -- adding ------------------------------------------------------------------------------

    def add(self, block: Block, *, raw: bytes | None = None, verified: bool = False) -> AddReport:
        """Add one block; raise :class:`InvalidBlock` if it is refused.

        With nothing buffered (the usual case: a member adding the block it just made) this
        skips the batch machinery; the outcome is the same as ``add_many([block])``.
        """
        if self._pending or self._waiting_on:
            report = self.add_many([block], raws=None if raw is None else [raw], verified=verified)
            if report.rejected:
                raise report.rejected[0][1]
            return report
        bid = block.id
        if bid in self._meta:
            return AddReport(duplicates=[bid])
        if not verified and not block.signature_ok():
            raise InvalidBlock("forged_signature", "signature does not verify", block_id=bid)
        if raw is None:
            raw = block.to_bytes()
        meta = self._derive(block, bid, self._meta)
        if type(meta) is not BlockMeta:
            if meta is None:
                self._buffer(block, raw)
                return AddReport(buffered=[bid])
            raise cast(InvalidBlock, meta)
        self._plan(meta)
        report = AddReport([], [], [], [], [])  # (the default factories cost calls)
        self._commit([(meta, raw, block)], report)
        return report

    def add_many(
        self,
        blocks: Sequence[Block],
        *,
        raws: Sequence[bytes] | None = None,
        verified: bool = False,
    ) -> AddReport:
        """Add a batch in one store transaction.  Bad blocks are reported, never raised.

        ``raws`` are the blocks' encodings as received (saves re-encoding); ``verified`` says
        the caller already checked every signature.
        """
        if raws is not None and len(raws) != len(blocks):
            raise LocalError("raws must match blocks one to one")
        report = AddReport([], [], [], [], [])  # (the default factories cost calls)
        if self._pending or self._waiting_on:
            ready = self._screen(blocks, raws, verified, report, set(), start=0)
            self._insert(deque(ready), [], [], [], report)
            return report
        # Nothing buffered: the usual batch (every pointee known, in order) is planned in the
        # pass that screens it.  The first block with a missing pointee hands the rest to the
        # general loop in the state that loop would have reached.  (Screening a block never
        # depends on planning earlier ones, except through the batch's ids seen so far: the
        # planned ones are in ``known``, the others in ``seen``.  Rejections keep their order:
        # forged signatures first, then the rest.)
        known, lace_meta, derive = self._meta, self._lace_meta, self._derive
        duplicates, rejected = report.duplicates, report.rejected
        planned: list[tuple[BlockMeta, bytes, Block]] = []
        invalid: list[tuple[BlockId | None, InvalidBlock]] = []
        seen: set[BlockId] = set()
        try:
            for i, block in enumerate(blocks):
                bid = block.id
                if bid in known or bid in seen:
                    duplicates.append(bid)
                    continue
                if not verified and not block.signature_ok():
                    bad = InvalidBlock(
                        "forged_signature", "signature does not verify", block_id=bid
                    )
                    rejected.append((bid, bad))
                    continue
                raw = raws[i] if raws is not None else block.to_bytes()
                meta = derive(block, bid, known)
                if type(meta) is BlockMeta:
                    known[bid] = meta
                    of_lace = lace_meta.get(meta[2])  # the lace
                    if of_lace is None:
                        of_lace = lace_meta[meta[2]] = {}
                    of_lace[bid] = meta
                    planned.append((meta, raw, block))
                    continue
                seen.add(bid)
                if meta is None:
                    rest = self._screen(blocks, raws, verified, report, seen, start=i + 1)
                    self._insert(deque(rest), planned, [(block, raw)], invalid, report)
                    return report
                invalid.append((bid, cast(InvalidBlock, meta)))
        except BaseException:
            self._unplan(planned)
            raise
        rejected.extend(invalid)
        self._commit(planned, report)
        return report

    def _screen(
        self,
        blocks: Sequence[Block],
        raws: Sequence[bytes] | None,
        verified: bool,
        report: AddReport,
        seen: set[BlockId],
        *,
        start: int,
    ) -> list[tuple[Block, bytes]]:
        """``blocks[start:]`` less duplicates and forged ones (reported), with their bytes."""
        known, pending = self._meta, self._pending
        ready: list[tuple[Block, bytes]] = []
        for i in range(start, len(blocks)):
            block = blocks[i]
            bid = block.id
            if bid in known or bid in pending or bid in seen:
                report.duplicates.append(bid)
                continue
            if not verified and not block.signature_ok():
                bad = InvalidBlock("forged_signature", "signature does not verify", block_id=bid)
                report.rejected.append((bid, bad))
                continue
            seen.add(bid)
            ready.append((block, raws[i] if raws is not None else block.to_bytes()))
        return ready

    def _insert(
        self,
        queue: deque[tuple[Block, bytes]],
        planned: list[tuple[BlockMeta, bytes, Block]],
        to_buffer: list[tuple[Block, bytes]],
        invalid: list[tuple[BlockId | None, InvalidBlock]],
        report: AddReport,
    ) -> None:
        """The general loop: blocks may wait for pointees later in the batch or buffered.

        Planned metas go straight into ``_meta`` so that later blocks of the batch find them
        with one lookup; if anything fails they are taken out again.
        """
        waiting_on, derive = self._waiting_on, self._derive
        try:
            while queue:
                block, raw = queue.popleft()
                meta = derive(block, block.id, self._meta)
                if meta is None:
                    to_buffer.append((block, raw))
                    continue
                if isinstance(meta, InvalidBlock):
                    invalid.append((block.id, meta))
                    continue
                self._plan(meta)
                planned.append((meta, raw, block))
                if to_buffer or meta.id in waiting_on:
                    queue.extend(self._release_candidates(meta.id, to_buffer))
        except BaseException:
            self._unplan(planned)
            raise
        report.rejected.extend(invalid)
        self._commit(planned, report)
        for block, raw in to_buffer:
            self._buffer(block, raw)
            report.buffered.append(block.id)

    def _plan(self, meta: BlockMeta) -> None:
        """Make a planned block visible to the rest of its batch (undone by :meth:`_unplan`)."""
        bid, lace = meta[0], meta[2]  # (by position: a named field is a slower read)
        self._meta[bid] = meta
        of_lace = self._lace_meta.get(lace)
        if of_lace is None:
            of_lace = self._lace_meta[lace] = {}
        of_lace[bid] = meta

    def _unplan(self, planned: list[tuple[BlockMeta, bytes, Block]]) -> None:
        self._columns.clear()  # some may describe the blocks taken out
        for meta, _, _ in planned:
            del self._meta[meta.id]
            del self._lace_meta[meta.lace][meta.id]

    def _commit(self, planned: list[tuple[BlockMeta, bytes, Block]], report: AddReport) -> None:
        """Store the planned blocks in one transaction, then index them (they are planned)."""
        if not planned:
            return
        try:
            self._write(planned)
        except BaseException:
            self._unplan(planned)
            raise
        pending, waiting_on = self._pending, self._waiting_on
        if pending or waiting_on:  # released blocks leave the buffer
            for meta, _, _ in planned:
                if pending and pending.pop(meta.id, None) is not None:
                    self._unwait(meta.id, meta.pointers)
                if waiting_on:
                    waiting_on.pop(meta.id, None)
        # What _apply does, for a batch: the lace's indexes are looked up once per lace.
        added, chains, lru = report.added, self._chains, self._blocks
        by_depth_of, tips_of = self._by_depth, self._tips
        size = lru.size
        lace0: LaceId | None = None
        by_depth: dict[int, list[BlockId]] = {}
        tips: set[BlockId] = set()
        for meta, _, block in planned:
            bid, creator, lace, seq, depth, pointers, _parent, _below = meta
            added.append(bid)
            if lace is not lace0:
                lace0, by_depth, tips = lace, by_depth_of[lace], tips_of[lace]
            chain = chains.get((lace, creator))
            if chain is None:
                chain = self._new_chain(lace, creator)
            at_seq = chain.get(seq)
            if at_seq is None:
                chain[seq] = (bid,)
            else:
                chain[seq] = self._fork(meta, at_seq, report)
            at_depth = by_depth.get(depth)
            if at_depth is None:
                by_depth[depth] = [bid]
            else:
                at_depth.append(bid)
            tips.difference_update(pointers)  # pointees always arrive before pointers
            tips.add(bid)
            if block.pointers is not pointers:  # equal ids, shared objects (see _derive)
                object.__setattr__(block, "pointers", pointers)
            lru[bid] = block  # a new id: it lands at the young end of the cache
            if len(lru) > size:
                lru.popitem(last=False)

    def _write(self, planned: list[tuple[BlockMeta, bytes, Block]]) -> None:
        """One store transaction for the planned blocks."""
        put_rows = self._put_vouched
        if put_rows is not None:
            # Vouch for the rows when every creator and lace is one that a block already
            # stored (so checked by the store) brought in, and every raw is bytes: the ids
            # are digests, seq and depth our own counts.
            creators, laces = self._creators, self._laces
            for m, r, _ in planned:
                if type(r) is not bytes or m[1] not in creators or m[2] not in laces:
                    put_rows = self._put_rows
                    break
        else:
            put_rows = self._put_rows
        if put_rows is not None:  # our stores: plain rows, no StoredBlock per block
            put_rows([(m[0], m[2], m[1], m[3], m[4], r) for m, r, _ in planned])
        else:
            self._store.put_many(
                [StoredBlock(m.id, m.lace, m.creator, m.seq, m.depth, r) for m, r, _ in planned]
            )

    def _release_candidates(
        self, bid: BlockId, to_buffer: list[tuple[Block, bytes]]
    ) -> list[tuple[Block, bytes]]:
        """Blocks (buffered earlier, or deferred in this batch) that only waited for ``bid``."""
        known = self._meta
        out: list[tuple[Block, bytes]] = []
        for waiter_id in list(self._waiting_on.get(bid, ())):
            entry = self._pending.get(waiter_id)
            if entry is not None and all(p in known for p in entry[0].pointers):
                out.append(entry)
        still: list[tuple[Block, bytes]] = []
        for entry in to_buffer:
            if bid in entry[0].pointers and all(p in known for p in entry[0].pointers):
                out.append(entry)
            else:
                still.append(entry)
        to_buffer[:] = still
        return out

    def _derive(
        self, block: Block, bid: BlockId, known: dict[BlockId, BlockMeta]
    ) -> BlockMeta | InvalidBlock | None:
        """Seq, depth and parent from the pointees; why it is invalid; or None if one is missing.

        One block can point to a thousand others, so this works on whole columns of pointee
        facts (C-level ``map``s) rather than a Python loop per pointer.
        """
        pointers = block.pointers
        # The shared objects, when known: tuple.count compares by identity first.
        creator = self._creators.get(block.creator, block.creator)
        lace = self._laces.get(block.lace, block.lace)
        depth = seq = below = 0
        parent: BlockId | None = None
        if pointers:
            columns = self._columns.get(pointers)
            if columns is None or columns[0] is not lace:
                columns = self._pointee_columns(lace, pointers)
                if columns is None:
                    return self._first_fault(block, known)
            _, pointers, creators, seqs, depth, below = columns
            own = creators.count(creator)
            if own > 1:
                return self._first_fault(block, known)
            if own:
                i = creators.index(creator)
                parent, seq = pointers[i], seqs[i] + 1
        meta = _new_meta((bid, creator, lace, seq, depth, pointers, parent, below))
        for validator in self._validators:
            refused = validator(block, meta, known)
            if refused is not None:
                return refused
        return meta

    def _pointee_columns(self, lace: LaceId, pointers: tuple[BlockId, ...]) -> _Columns | None:
        """What :meth:`_derive` reads of a pointer set (``None`` if a pointee is missing here).

        Remembered by pointer set: the members of a round mostly point to the same blocks
        (three blocks in four at N = 4, nearly all at N = 16), and a pointee's facts never
        change.  Forgotten when a failed batch takes its planned blocks out again.
        """
        try:  # a pointee of another lace is missing from this lace's index too
            pms = list(map(self._lace_meta[lace].__getitem__, pointers))
        except KeyError:
            return None
        # The pointees' columns in one C call.  Their own id objects, not the block's freshly
        # parsed copies: every stored block then shares them, which keeps a large lace's
        # memory (and cache) small.
        ids, creators, _, seqs, depths, _, _, _ = zip(*pms)  # noqa: B905 - 8 fields each
        top = max(depths)
        if depths.count(top) == len(depths):  # the usual block: all one round below
            below = len(set(creators))
        else:
            below = len(set(compress(creators, map(top.__eq__, depths))))
        columns: _Columns = (lace, ids, creators, seqs, top + 1, below)
        cache = self._columns
        if len(cache) >= _COLUMNS_CACHED:
            cache.clear()
        cache[pointers] = columns
        return columns

    @staticmethod
    def _first_fault(block: Block, known: dict[BlockId, BlockMeta]) -> InvalidBlock | None:
        """What is wrong with the block's pointers, in pointer order: None if one is missing."""
        own = False
        for p in block.pointers:
            pm = known.get(p)
            if pm is None:
                return None
            if pm.lace != block.lace:
                return InvalidBlock(
                    "cross_lace_pointer", "pointers stay in one lace", block_id=block.id
                )
            if pm.creator == block.creator:
                if own:
                    return InvalidBlock(
                        "two_self_pointers", "a block points to one own block", block_id=block.id
                    )
                own = True
        raise LocalError("_first_fault called on a block with sound pointers")

    def _apply(self, meta: BlockMeta) -> None:
        """Index a block loaded from the store (:meth:`_commit` does this for new ones)."""
        bid, creator, lace, seq, depth, pointers, _parent, _below = meta
        self._meta[bid] = meta
        self._lace_meta.setdefault(lace, {})[bid] = meta
        chain = self._chains.get((lace, creator))
        if chain is None:
            chain = self._new_chain(lace, creator)
        at_seq = chain.get(seq)
        chain[seq] = (bid,) if at_seq is None else self._fork(meta, at_seq, None)
        self._by_depth[lace].setdefault(depth, []).append(bid)
        tips = self._tips[lace]
        tips.difference_update(pointers)  # pointees always arrive before pointers
        tips.add(bid)

    def _new_chain(self, lace: LaceId, creator: MemberId) -> dict[int, tuple[BlockId, ...]]:
        """The chain of a creator's first block in a lace (maybe a new creator, a new lace)."""
        chain: dict[int, tuple[BlockId, ...]] = {}
        self._chains[(lace, creator)] = chain
        self._lace_creators[lace].add(creator)
        self._creators.setdefault(creator, creator)
        self._laces.setdefault(lace, lace)
        return chain

    def _fork(
        self, meta: BlockMeta, at_seq: tuple[BlockId, ...], report: AddReport | None
    ) -> tuple[BlockId, ...]:
        """Record the equivocation a second block at a chain position reveals."""
        ev = Equivocation(meta.lace, meta.creator, meta.seq, at_seq[0], meta.id)
        self._equivocations.append(ev)
        self._equivocators[meta.lace].add(meta.creator)
        if report is not None:
            report.equivocations.append(ev)
        return (*at_seq, meta.id)

    def _buffer(self, block: Block, raw: bytes) -> None:
        bid = block.id
        self._pending[bid] = (block, raw)
        for p in block.pointers:
            if p not in self._meta:
                self._waiting_on[p].add(bid)
        while len(self._pending) > self._max_pending:
            old_id, (old, _) = self._pending.popitem(last=False)
            self._unwait(old_id, old.pointers)

    def _unwait(self, waiter: BlockId, pointers: Iterable[BlockId]) -> None:
        """Forget that ``waiter`` waits on ``pointers`` (it was inserted or evicted)."""
        for p in pointers:
            waiters = self._waiting_on.get(p)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiting_on[p]

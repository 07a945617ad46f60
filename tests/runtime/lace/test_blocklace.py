"""Blocklace behaviour: insertion, buffering, validation, equivocation, observation, sync."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peoplenet.runtime.errors import (
    InvalidBlock,
    LocalError,
    StoreError,
)
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.lace.block import Block, BlockId, LaceId
from peoplenet.runtime.lace.blocklace import AddReport, Blocklace, BlockMeta, _row_writer
from peoplenet.runtime.lace.store import MemoryStore, Row, SqliteStore
from peoplenet.runtime.lace.store_api import StoredBlock

LACE = LaceId(b"test-lace")
IDS = [Identity.from_seed(bytes([i + 1]) * 32) for i in range(6)]


def random_lace(
    seed: int, *, blocks: int = 40, creators: int = 4, fork_rate: float = 0.0
) -> list[Block]:
    """Blocks of a random valid lace in creation order; forks when ``fork_rate`` > 0."""
    rng = random.Random(seed)
    made: list[Block] = []
    chains: dict[int, list[Block]] = {c: [] for c in range(creators)}
    for _ in range(blocks):
        c = rng.randrange(creators)
        own = chains[c]
        pointers: set[BlockId] = set()
        if own:
            parent = rng.choice(own) if rng.random() < fork_rate else own[-1]
            pointers.add(parent.id)
        others = [b for b in made if b.creator != IDS[c].member_id]
        pointers.update(b.id for b in rng.sample(others, k=min(len(others), rng.randrange(4))))
        block = Block.create(IDS[c], LACE, {"n": len(made)}, tuple(pointers))
        own.append(block)
        made.append(block)
    return made


def brute_closure(blocks: dict[BlockId, Block], start: BlockId) -> set[BlockId]:
    out, stack = {start}, [start]
    while stack:
        for p in blocks[stack.pop()].pointers:
            if p not in out:
                out.add(p)
                stack.append(p)
    return out


def new_lace(blocks: Sequence[Block] = ()) -> Blocklace:
    lace = Blocklace(MemoryStore())
    report = lace.add_many(list(blocks))
    assert not report.rejected
    return lace


def test_insert_derives_seq_depth_and_parent() -> None:
    a0 = Block.create(IDS[0], LACE, "a0")
    b0 = Block.create(IDS[1], LACE, "b0")
    a1 = Block.create(IDS[0], LACE, "a1", (a0.id, b0.id))
    b1 = Block.create(IDS[1], LACE, "b1", (b0.id, a1.id))
    lace = new_lace([a0, b0, a1, b1])
    assert [lace.meta(b.id).seq for b in (a0, b0, a1, b1)] == [0, 0, 1, 1]
    assert [lace.meta(b.id).depth for b in (a0, b0, a1, b1)] == [0, 0, 1, 2]
    assert lace.meta(a1.id).parent == a0.id and lace.meta(b0.id).parent is None
    assert lace.get(b1.id) == b1 and lace.raw(b1.id) == b1.to_bytes()
    assert lace.latest(LACE, IDS[0].member_id) == a1.id
    assert lace.lace_tips(LACE) == [b1.id]
    assert lace.creators(LACE) == sorted([IDS[0].member_id, IDS[1].member_id])
    assert lace.max_depth(LACE) == 2


def test_out_of_order_blocks_wait_and_are_released() -> None:
    blocks = random_lace(1, blocks=30)
    lace = new_lace()
    last = blocks[-1]
    report = lace.add(last)
    assert report.buffered == [last.id] and not report.added
    assert lace.pending_count == 1 and last.id not in lace
    assert lace.wanted() == set(last.pointers)
    for b in reversed(blocks[:-1]):
        lace.add(b)
    assert len(lace) == 30 and lace.pending_count == 0 and lace.wanted() == set()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), order_seed=st.integers(0, 10_000))
def test_any_arrival_order_gives_the_same_lace(seed: int, order_seed: int) -> None:
    blocks = random_lace(seed, fork_rate=0.2)
    shuffled = list(blocks)
    random.Random(order_seed).shuffle(shuffled)
    one, two = new_lace(blocks), new_lace()
    for chunk in range(0, len(shuffled), 7):
        report = two.add_many(shuffled[chunk : chunk + 7])
        assert not report.rejected
    assert len(two) == len(blocks) and two.pending_count == 0
    assert list(one.iter_lace(LACE)) == list(two.iter_lace(LACE))

    # Which pair is recorded depends on arrival order; which blocks are forks does not.
    def forked(lace: Blocklace) -> set[bytes]:
        return {b for e in lace.equivocations() for b in (e.first, e.second)}

    assert forked(one) == forked(two)
    assert one.equivocators(LACE) == two.equivocators(LACE)


def test_topological_order_puts_pointees_first() -> None:
    blocks = random_lace(7, blocks=60, fork_rate=0.1)
    lace = new_lace(blocks)
    order = list(lace.iter_lace(LACE))
    position = {b: i for i, b in enumerate(order)}
    assert len(order) == 60
    for b in blocks:
        assert all(position[p] < position[b.id] for p in b.pointers)


def test_forged_signature_is_refused_and_nothing_is_kept() -> None:
    good = Block.create(IDS[0], LACE, "hello")
    forged = Block(good.creator, good.lace, "hullo", good.pointers, good.signature)
    store = MemoryStore()
    lace = Blocklace(store)
    with pytest.raises(InvalidBlock) as err:
        lace.add(forged)
    assert err.value.reason == "forged_signature" and err.value.block_id == forged.id
    report = lace.add_many([forged, good])
    assert report.added == [good.id] and [bid for bid, _ in report.rejected] == [forged.id]
    assert forged.id not in lace and len(store) == 1


def test_pointer_into_another_lace_is_refused() -> None:
    other = Block.create(IDS[1], b"other", "x")
    bad = Block.create(IDS[0], LACE, "y", (other.id,))
    lace = new_lace([other])
    with pytest.raises(InvalidBlock) as err:
        lace.add(bad)
    assert err.value.reason == "cross_lace_pointer" and bad.id not in lace


def test_pointing_to_two_own_blocks_is_refused() -> None:
    a0 = Block.create(IDS[0], LACE, "a0")
    a0b = Block.create(IDS[0], LACE, "a0-other")
    bad = Block.create(IDS[0], LACE, "a1", (a0.id, a0b.id))
    lace = new_lace([a0, a0b])
    with pytest.raises(InvalidBlock) as err:
        lace.add(bad)
    assert err.value.reason == "two_self_pointers"


def test_equivocation_is_detected_with_both_blocks_as_evidence() -> None:
    a0 = Block.create(IDS[0], LACE, "a0")
    fork1 = Block.create(IDS[0], LACE, "pay Bob", (a0.id,))
    fork2 = Block.create(IDS[0], LACE, "pay Carol", (a0.id,))
    lace = new_lace([a0, fork1])
    report = lace.add(fork2)
    assert len(report.equivocations) == 1
    ev = report.equivocations[0]
    assert (ev.creator, ev.seq, ev.first, ev.second) == (IDS[0].member_id, 1, fork1.id, fork2.id)
    assert fork1.id in lace and fork2.id in lace  # both kept as evidence
    assert lace.equivocators(LACE) == {IDS[0].member_id}
    assert lace.tips(LACE, IDS[0].member_id) == sorted([fork1.id, fork2.id])
    assert lace.latest(LACE, IDS[0].member_id) is None
    assert not lace.observes(fork1.id, fork2.id) and not lace.observes(fork2.id, fork1.id)


def test_duplicates_are_reported_not_added_twice() -> None:
    b = Block.create(IDS[0], LACE, "once")
    lace = new_lace([b])
    report = lace.add_many([b, b])
    assert report.duplicates == [b.id, b.id] and not report.added and len(lace) == 1


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 100_000), fork_rate=st.sampled_from([0.0, 0.15, 0.5]))
def test_observes_and_frontier_match_brute_force(seed: int, fork_rate: float) -> None:
    blocks = random_lace(seed, blocks=35, fork_rate=fork_rate)
    by_id = {b.id: b for b in blocks}
    lace = new_lace(blocks)
    for b in blocks:
        closure = brute_closure(by_id, b.id)
        assert lace.closure(b.id) == closure
        for x in blocks:
            assert lace.observes(b.id, x.id) == (x.id in closure)
        expected: dict[bytes, int] = {}
        for seen in closure:
            who, seq = by_id[seen].creator, lace.meta(seen).seq
            expected[who] = max(expected.get(who, -1), seq)
        assert dict(lace.frontier(b.id)) == expected


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 100_000), cut=st.integers(1, 39), fork_rate=st.sampled_from([0.0, 0.3]))
def test_missing_for_gives_a_peer_exactly_what_it_lacks(
    seed: int, cut: int, fork_rate: float
) -> None:
    blocks = random_lace(seed, blocks=40, fork_rate=fork_rate)
    by_id = {b.id: b for b in blocks}
    ours = new_lace(blocks)
    peer_latest = blocks[cut - 1]
    peer_has = brute_closure(by_id, peer_latest.id)
    peer = new_lace([b for b in blocks if b.id in peer_has])
    missing = ours.missing_for(LACE, [peer_latest.id])
    assert set(missing) == {b.id for b in blocks} - peer_has
    report = peer.add_many([ours.get(m) for m in missing])
    assert not report.buffered and not report.rejected  # topological: no waiting needed
    assert len(peer) == len(ours)


def test_missing_for_respects_followed_creators() -> None:
    blocks = random_lace(3, blocks=30)
    lace = new_lace(blocks)
    followed = {IDS[1].member_id}
    missing = lace.missing_for(LACE, [], creators=followed)
    assert missing and all(lace.meta(m).creator in followed for m in missing)
    assert len(missing) == sum(1 for b in blocks if b.creator in followed)


def test_reload_from_store_rebuilds_every_index(tmp_path: object) -> None:
    path = f"{tmp_path}/node.sqlite3"
    blocks = random_lace(11, blocks=50, fork_rate=0.2)
    store = SqliteStore(path)
    first = Blocklace(store)
    first.add_many(blocks)
    order = list(first.iter_lace(LACE))
    evidence = first.equivocations()
    store.close()
    store = SqliteStore(path)
    try:
        again = Blocklace(store, verify_on_load=True)
        assert list(again.iter_lace(LACE)) == order
        assert [(e.creator, e.seq) for e in again.equivocations()] == [
            (e.creator, e.seq) for e in evidence
        ]
        for b in blocks:
            assert again.meta(b.id) == first.meta(b.id)
    finally:
        store.close()


def test_reload_sets_a_tampered_row_aside() -> None:
    good = Block.create(IDS[0], LACE, "x")
    store = MemoryStore()
    other = Block.create(IDS[0], LACE, "y")
    store.put_many([StoredBlock(good.id, LACE, good.creator, 0, 0, other.to_bytes())])
    lace = Blocklace(store)
    assert [(a.block_id, a.reason) for a in lace.set_aside] == [
        (good.id, "stored bytes do not hash to their id")
    ]
    assert good.id not in lace and len(store) == 0


class _PlainStore:
    """Only the BlockStore protocol: no way to set a row aside."""

    def __init__(self, inner: MemoryStore) -> None:
        self.iter_blocks = inner.iter_blocks
        self.put_many = inner.put_many


def test_reload_from_a_store_that_cannot_set_aside_refuses_a_tampered_row() -> None:
    good = Block.create(IDS[0], LACE, "x")
    inner = MemoryStore()
    other = Block.create(IDS[0], LACE, "y")
    inner.put_many([StoredBlock(good.id, LACE, good.creator, 0, 0, other.to_bytes())])
    with pytest.raises(InvalidBlock) as err:
        Blocklace(_PlainStore(inner))  # type: ignore[arg-type]
    assert err.value.reason == "store_corrupt"


class FailingStore(MemoryStore):
    """A store whose disk fails on the next write."""

    fail = False

    def put_many(self, blocks: Sequence[StoredBlock]) -> None:
        if self.fail:
            raise StoreError("disk full")
        super().put_many(blocks)


def test_store_failure_leaves_memory_unchanged() -> None:
    blocks = random_lace(5, blocks=10)
    store = FailingStore()
    lace = Blocklace(store)
    lace.add_many(blocks[:5])
    store.fail = True
    with pytest.raises(StoreError):
        lace.add_many(blocks[5:])
    assert len(lace) == 5 and all(b.id not in lace for b in blocks[5:])
    # Nor is a refused block left in the per-lace index: what points to it still waits.
    failed = {b.id for b in blocks[5:]}
    child = next(b for b in blocks[5:] if failed.intersection(b.pointers))
    store.fail = False
    assert lace.add(child).buffered == [child.id]
    assert len(lace.add_many(blocks[5:]).added) == 5


def test_pending_buffer_is_bounded() -> None:
    blocks = random_lace(9, blocks=30)
    lace = Blocklace(MemoryStore(), max_pending=5)
    orphans = [b for b in blocks if b.pointers][-10:]
    for b in orphans:
        lace.add(b)
    assert lace.pending_count == 5
    lace.add_many(blocks)
    assert len(lace) == 30 and lace.pending_count == 0


# -- rows, closures and latest blocks against brute force -------------------------------------


class _OwnPutMany(MemoryStore):
    __slots__ = ("seen",)

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0

    def put_many(self, blocks: Sequence[StoredBlock]) -> None:
        self.seen += len(blocks)
        super().put_many(blocks)


def test_blocklace_writes_rows_only_where_put_many_is_the_stores_own() -> None:
    assert _row_writer(MemoryStore()) is not None
    own = _OwnPutMany()
    assert _row_writer(own) is None
    bl = Blocklace(own)
    block = Block.create(IDS[0], LACE, (), ())
    bl.add(block)
    assert own.seen == 1 and own.get_raw(block.id) == block.to_bytes()


def _reference_closure(bl: Blocklace, start: bytes, min_depth: int) -> set[bytes]:
    out, stack = {start}, [start]
    while stack:
        for p in bl.meta(stack.pop()).pointers:  # type: ignore[arg-type]
            if p not in out and bl.meta(p).depth >= min_depth:
                out.add(p)
                stack.append(p)
    return out


def test_closure_is_the_depth_pruned_reachable_set() -> None:
    members = [Identity.from_seed(bytes([i + 2]) * 32) for i in range(4)]
    bl = Blocklace(MemoryStore())
    latest: list[bytes] = []
    for rnd in range(6):
        made = []
        for i, m in enumerate(members):
            ptrs = tuple(p for j, p in enumerate(latest) if (rnd + j + i) % 4 != 3 or j == i)
            made.append(Block.create(m, LACE, (rnd, i), ptrs))
        for b in made:
            bl.add(b)
        latest = [b.id for b in made]
    for top in latest:
        for min_depth in range(7):
            assert bl.closure(top, min_depth=min_depth) == _reference_closure(bl, top, min_depth)  # type: ignore[arg-type]


def _reference_latest(bl: Blocklace, lace: bytes, depth: int) -> set[bytes]:
    out: set[bytes] = set()
    for creator in bl.creators(lace):  # type: ignore[arg-type]
        for tip in bl.tips(lace, creator):  # type: ignore[arg-type]
            b: bytes | None = tip
            while b is not None and bl.meta(b).depth > depth:  # type: ignore[arg-type]
                b = bl.meta(b).parent  # type: ignore[arg-type]
            if b is not None:
                out.add(b)
    return out


def test_latest_up_to_is_the_tip_walk_also_with_forks() -> None:
    members = [Identity.from_seed(bytes([i + 9]) * 32) for i in range(3)]
    bl = Blocklace(MemoryStore())
    latest: list[bytes] = []
    for rnd in range(5):
        made = [Block.create(m, LACE, (rnd, i), tuple(latest)) for i, m in enumerate(members[1:])]
        if rnd % 2 == 0:  # members[0] makes a block every other round only
            made.append(Block.create(members[0], LACE, (rnd, 0), tuple(latest)))
        for b in made:
            bl.add(b)
        latest = [b.id for b in made]
    # members[1] forks: a twin of its first block, seen by nobody
    bl.add(Block.create(members[1], LACE, ("twin",), ()))
    assert bl.equivocators(LACE)
    for depth in range(-1, 7):
        got = bl.latest_up_to(LACE, depth)
        assert set(got) == _reference_latest(bl, LACE, depth)


# -- single adds and unbuffered batches take the general path's answers -----------------------


FAST_LACE = LaceId(b"speed4-lace")


OTHER_LACE = LaceId(b"speed4-other")


ORPHAN_LACE = LaceId(b"speed4-orphan")


FAST_IDS = [Identity.from_seed(bytes([i + 40]) * 32) for i in range(4)]


REFUSED = -1
"""A payload the test validator refuses."""


class RefuseMarked:
    """A validator object (its class defines ``__call__``): refuses payload ``REFUSED``."""

    def __call__(self, block: Block, meta: BlockMeta, known: object) -> InvalidBlock | None:
        if block.lace == FAST_LACE and block.payload == REFUSED:
            return InvalidBlock("test_refused", "marked", block_id=meta.id)
        return None


def refuse_deep_other(block: Block, meta: BlockMeta, known: object) -> InvalidBlock | None:
    """A plain-function validator: refuses blocks of ``OTHER_LACE`` deeper than 2."""
    if block.lace == OTHER_LACE and meta.depth > 2:
        return InvalidBlock("too_deep", "other lace", block_id=meta.id)
    return None


def make_blocks(seed: int, count: int, *, faults: bool = True) -> list[Block]:
    """Blocks in creation order: forks, two-own-pointer blocks, cross-lace pointers, refusals."""
    rng = random.Random(seed)
    made: list[Block] = []
    for n in range(count):
        c = rng.randrange(len(FAST_IDS))
        lace = OTHER_LACE if faults and rng.random() < 0.15 else FAST_LACE
        pool = [b for b in made if b.lace == lace or (faults and rng.random() < 0.05)]
        pointers = {b.id for b in rng.sample(pool, k=min(len(pool), rng.randrange(5)))}
        if made and rng.random() < 0.3:  # a round's blocks share their pointer set
            pointers = set(made[-1].pointers)
        payload = REFUSED if faults and rng.random() < 0.08 else n
        made.append(Block.create(FAST_IDS[c], lace, payload, tuple(pointers)))
    return made


def forged(block: Block) -> Block:
    """The same id (the signature is not part of it) with a signature that does not verify."""
    bad = bytes([block.signature[0] ^ 1]) + block.signature[1:]
    return Block(block.creator, block.lace, block.payload, block.pointers, bad)


def steps_for(seed: int, blocks: list[Block]) -> list[tuple[str, list[Block], bool]]:
    """A shuffled feed with duplicates and forged copies, cut into single adds and batches."""
    rng = random.Random(seed)
    feed = list(blocks)
    if rng.random() < 0.5:  # else in creation order, as in a run, but for what is added below
        rng.shuffle(feed)
    for b in rng.sample(blocks, k=len(blocks) // 6):
        feed.insert(rng.randrange(len(feed) + 1), b)
    for b in rng.sample(blocks, k=len(blocks) // 8):
        feed.insert(rng.randrange(len(feed) + 1), forged(b))
    steps: list[tuple[str, list[Block], bool]] = []
    i = 0
    while i < len(feed):
        if rng.random() < 0.3:
            steps.append(("add", [feed[i]], rng.random() < 0.5))
            i += 1
        else:
            k = rng.randrange(1, 6)
            steps.append(("many", feed[i : i + k], False))
            i += k
    return steps


def with_orphan() -> Blocklace:
    """A blocklace whose buffer is never empty: every add takes the general path."""
    bl = new_blocklace()
    orphan = Block.create(FAST_IDS[0], ORPHAN_LACE, 0, (b"\x07" * 32,))
    assert bl.add(orphan).buffered == [orphan.id]
    return bl


def new_blocklace(store: MemoryStore | None = None) -> Blocklace:
    bl = Blocklace(MemoryStore() if store is None else store)
    bl.add_validator(RefuseMarked())
    bl.add_validator(refuse_deep_other)
    return bl


def outcome(bl: Blocklace, kind: str, blocks: list[Block], verified: bool) -> object:
    """What a step did, comparable across blocklaces (a raised refusal as its reason)."""
    if kind == "add":
        try:
            report = bl.add(blocks[0], verified=verified)
        except InvalidBlock as exc:
            return ("raised", exc.reason, exc.block_id)
    else:
        report = bl.add_many(blocks, raws=[b.to_bytes() for b in blocks])
    return summary(report)


def summary(report: AddReport) -> object:
    return (
        report.added,
        report.buffered,
        report.duplicates,
        [(bid, e.reason, e.block_id) for bid, e in report.rejected],
        report.equivocations,
    )


def brute_meta(bl: Blocklace, bid: bytes) -> BlockMeta:
    """A stored block's meta recomputed from its pointees' metas, one by one."""
    m = bl.meta(bid)  # type: ignore[arg-type]
    pms = [bl.meta(p) for p in m.pointers]
    own = [p for p in pms if p.creator == m.creator]
    depth = 1 + max((p.depth for p in pms), default=-1)
    below = len({p.creator for p in pms if p.depth == depth - 1})
    return BlockMeta(
        m.id,
        m.creator,
        m.lace,
        own[0].seq + 1 if own else 0,
        depth,
        m.pointers,
        own[0].id if own else None,
        below,
    )


def state(bl: Blocklace, laces: Sequence[LaceId] = (FAST_LACE, OTHER_LACE)) -> object:
    """Everything observable about the stored blocks of ``laces``."""
    out: list[object] = []
    for lace in laces:
        ids = list(bl.iter_lace(lace))
        out.append(ids)
        out.append([bl.meta(b) for b in ids])
        out.append([bl.raw(b) for b in ids])
        out.append(bl.lace_tips(lace))
        out.append(bl.equivocations(lace))
        out.append([(c, bl.chain(lace, c), bl.tips(lace, c)) for c in bl.creators(lace)])
        out.append({d: sorted(bl.at_depth(lace, d)) for d in range(bl.max_depth(lace) + 1)})
    return out


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 10_000), st.integers(4, 28), st.booleans())
def test_fast_paths_match_the_general_path(
    block_seed: int, feed_seed: int, count: int, faults: bool
) -> None:
    """Without ``faults`` (refusals, cross-lace pointers) the buffer empties again, so the
    fast paths run often; with them, blocks above a refused one stay buffered."""
    blocks = make_blocks(block_seed, count, faults=faults)
    store = MemoryStore()
    fast, general = new_blocklace(store), with_orphan()
    for kind, batch, verified in steps_for(feed_seed, blocks):
        assert outcome(fast, kind, batch, verified) == outcome(general, kind, batch, verified)
    assert state(fast) == state(general)
    for lace in (FAST_LACE, OTHER_LACE):
        for bid in fast.iter_lace(lace):
            assert fast.meta(bid) == brute_meta(fast, bid)
    assert fast.pending_count == general.pending_count - 1
    assert fast.wanted() == general.wanted() - {b"\x07" * 32}
    # A restart over the same store rebuilds the same state.
    reloaded = Blocklace(store.reopen())
    assert state(reloaded) == state(fast)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 6))
def test_single_add_is_add_many_of_one(block_seed: int, forged_at: int) -> None:
    """``add`` without the batch machinery: same report, or the refusal add_many reports."""
    blocks = make_blocks(block_seed, 14)
    if forged_at < len(blocks):
        blocks[forged_at] = forged(blocks[forged_at])
    one, many = new_blocklace(), new_blocklace()
    for block in [*blocks, blocks[0]]:  # the last one again: a duplicate
        report = many.add_many([block])
        expect = summary(report)
        if report.rejected:
            (_, error), *_ = report.rejected
            expect = ("raised", error.reason, error.block_id)
        assert outcome(one, "add", [block], False) == expect
    assert state(one) == state(many)


def test_refused_raw_type_fails_the_batch_as_before() -> None:
    """A raw that is not ``bytes`` is never vouched for: the store refuses the whole batch."""
    bl = new_blocklace()
    root = Block.create(FAST_IDS[0], FAST_LACE, 1, ())
    bl.add(root)  # the creator and the lace are known from now on
    child = Block.create(FAST_IDS[0], FAST_LACE, 2, (root.id,))
    bad_raw: bytes = bytearray(child.to_bytes())  # type: ignore[assignment]
    attempts: list[Callable[[], object]] = [
        lambda: bl.add(child, raw=bad_raw),
        lambda: bl.add_many([child], raws=[bad_raw]),
    ]
    for attempt in attempts:
        with pytest.raises(LocalError, match="malformed block row"):
            attempt()
        assert child.id not in bl
        assert bl.lace_tips(FAST_LACE) == [root.id]
    assert bl.add(child).added == [child.id]


def test_a_store_that_overrides_put_rows_still_writes() -> None:
    """The vouched writer is used only where the class writing rows defines it too."""

    class Recording(MemoryStore):
        __slots__ = ("calls",)

        def __init__(self) -> None:
            super().__init__()
            self.calls = 0

        def put_rows(self, rows: Sequence[Row]) -> None:
            self.calls += 1
            super().put_rows(rows)

    store = Recording()
    bl = Blocklace(store)
    block = Block.create(FAST_IDS[0], FAST_LACE, 1, ())
    bl.add(block)
    bl.add(Block.create(FAST_IDS[0], FAST_LACE, 2, (block.id,)))
    assert store.calls == 2


def test_a_failing_store_leaves_memory_unchanged() -> None:
    class Failing(MemoryStore):
        __slots__ = ("fail",)

        def __init__(self) -> None:
            super().__init__()
            self.fail = False

        def put_vouched_rows(self, rows: Sequence[Row]) -> None:
            if self.fail:
                raise StoreError("disk full")
            super().put_vouched_rows(rows)

    store = Failing()
    bl = Blocklace(store)
    first = Block.create(FAST_IDS[0], FAST_LACE, 1, ())
    bl.add(first)  # a new creator: checked rows
    store.fail = True
    second = Block.create(FAST_IDS[1], FAST_LACE, 2, ())
    bl.add(second)  # a new creator again: put_rows, not the failing vouched writer
    third = Block.create(FAST_IDS[0], FAST_LACE, 3, (first.id, second.id))
    attempts: list[Callable[[], object]] = [lambda: bl.add(third), lambda: bl.add_many([third])]
    for attempt in attempts:
        with pytest.raises(StoreError):
            attempt()
        assert third.id not in bl
        assert bl.lace_tips(FAST_LACE) == sorted([first.id, second.id])
    store.fail = False
    assert bl.add(third).added == [third.id]


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 6))
def test_closure_matches_a_brute_force_walk(seed: int, min_depth: int) -> None:
    rng = random.Random(seed)
    made: list[Block] = []
    for n in range(24):
        me = FAST_IDS[n % 4]
        others = [b for b in made if b.creator != me.member_id]
        pointers = {b.id for b in rng.sample(others, k=min(len(others), rng.randrange(4)))}
        if n >= 4 and rng.random() < 0.7:
            pointers.add(made[n - 4].id)  # its own previous block
        made.append(Block.create(me, OTHER_LACE, n, tuple(pointers)))
    bl = Blocklace(MemoryStore())
    assert not bl.add_many(made).rejected
    by_id = {b.id: b for b in made}
    for b in made:
        out, stack = {b.id}, [b.id]
        while stack:
            for p in by_id[stack.pop()].pointers:
                if p not in out:
                    out.add(p)
                    stack.append(p)
        expect = {x for x in out if bl.depth(x) >= min_depth} | {b.id}
        assert bl.closure(b.id, min_depth=min_depth) == expect


def test_forked_view_and_metas_are_live() -> None:
    bl = Blocklace(MemoryStore())
    view, metas = bl.forked_view(FAST_LACE), bl.metas
    root = Block.create(FAST_IDS[0], FAST_LACE, 0, ())
    bl.add(root)
    assert metas[root.id] == bl.meta(root.id)
    assert not view
    bl.add(Block.create(FAST_IDS[1], FAST_LACE, 1, (root.id,)))
    bl.add(Block.create(FAST_IDS[1], FAST_LACE, 2, (root.id,)))  # a fork of creator 1
    assert set(view) == {FAST_IDS[1].member_id} == set(bl.equivocators(FAST_LACE))


def test_a_failed_batch_forgets_what_it_derived_from_its_own_blocks() -> None:
    """Pointee facts are remembered by pointer set; a failed batch's blocks leave no trace."""

    class Failing(MemoryStore):
        __slots__ = ("fail",)

        def __init__(self) -> None:
            super().__init__()
            self.fail = False

        def put_rows(self, rows: Sequence[Row]) -> None:
            if self.fail:
                raise StoreError("disk full")
            super().put_rows(rows)

    store = Failing()
    bl = Blocklace(store)
    x = Block.create(FAST_IDS[0], FAST_LACE, 1, ())
    y = Block.create(FAST_IDS[1], FAST_LACE, 2, (x.id,))
    z = Block.create(FAST_IDS[2], FAST_LACE, 3, (x.id,))  # the same pointer set as y
    store.fail = True
    with pytest.raises(StoreError):
        bl.add_many([x, y])  # y's pointee facts came from the planned x
    store.fail = False
    assert bl.add(z).buffered == [z.id]  # x is not there: z waits
    assert bl.add(x).added == [x.id, z.id]
    assert bl.meta(z.id) == brute_meta(bl, z.id)

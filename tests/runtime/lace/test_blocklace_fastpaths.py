"""Round 4 fast paths of the blocklace, the store and the ordering give the general path's results.

* ``Blocklace.add`` of one block and ``add_many`` with nothing buffered skip the general batch
  loop; a blocklace holding an unrelated buffered orphan always takes that loop, so feeding
  both the same random steps (forks, cross-lace pointers, forged copies, duplicates, missing
  pointees, refusing validators) must give the same reports and the same state.
* The store's ``put_vouched_rows`` writes what ``put_rows`` writes; the blocklace vouches
  only for rows it can, so bad rows still get the store's typed error.
* ``Blocklace.closure`` (and the ordering's walks) against a brute-force search.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peoplenet.runtime.errors import InvalidBlock, LocalError, StoreError
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.lace.block import Block, LaceId
from peoplenet.runtime.lace.blocklace import AddReport, Blocklace, BlockMeta
from peoplenet.runtime.lace.store import MemoryStore, Row, SqliteStore

LACE = LaceId(b"speed4-lace")
OTHER = LaceId(b"speed4-other")
ORPHAN_LACE = LaceId(b"speed4-orphan")
IDS = [Identity.from_seed(bytes([i + 40]) * 32) for i in range(4)]
REFUSED = -1
"""A payload the test validator refuses."""


class RefuseMarked:
    """A validator object (its class defines ``__call__``): refuses payload ``REFUSED``."""

    def __call__(self, block: Block, meta: BlockMeta, known: object) -> InvalidBlock | None:
        if block.lace == LACE and block.payload == REFUSED:
            return InvalidBlock("test_refused", "marked", block_id=meta.id)
        return None


def refuse_deep_other(block: Block, meta: BlockMeta, known: object) -> InvalidBlock | None:
    """A plain-function validator: refuses blocks of ``OTHER`` deeper than 2."""
    if block.lace == OTHER and meta.depth > 2:
        return InvalidBlock("too_deep", "other lace", block_id=meta.id)
    return None


def make_blocks(seed: int, count: int, *, faults: bool = True) -> list[Block]:
    """Blocks in creation order: forks, two-own-pointer blocks, cross-lace pointers, refusals."""
    rng = random.Random(seed)
    made: list[Block] = []
    for n in range(count):
        c = rng.randrange(len(IDS))
        lace = OTHER if faults and rng.random() < 0.15 else LACE
        pool = [b for b in made if b.lace == lace or (faults and rng.random() < 0.05)]
        pointers = {b.id for b in rng.sample(pool, k=min(len(pool), rng.randrange(5)))}
        if made and rng.random() < 0.3:  # a round's blocks share their pointer set
            pointers = set(made[-1].pointers)
        payload = REFUSED if faults and rng.random() < 0.08 else n
        made.append(Block.create(IDS[c], lace, payload, tuple(pointers)))
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
    orphan = Block.create(IDS[0], ORPHAN_LACE, 0, (b"\x07" * 32,))
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


def state(bl: Blocklace, laces: Sequence[LaceId] = (LACE, OTHER)) -> object:
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
    for lace in (LACE, OTHER):
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
    root = Block.create(IDS[0], LACE, 1, ())
    bl.add(root)  # the creator and the lace are known from now on
    child = Block.create(IDS[0], LACE, 2, (root.id,))
    bad_raw: bytes = bytearray(child.to_bytes())  # type: ignore[assignment]
    attempts: list[Callable[[], object]] = [
        lambda: bl.add(child, raw=bad_raw),
        lambda: bl.add_many([child], raws=[bad_raw]),
    ]
    for attempt in attempts:
        with pytest.raises(LocalError, match="malformed block row"):
            attempt()
        assert child.id not in bl
        assert bl.lace_tips(LACE) == [root.id]
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
    block = Block.create(IDS[0], LACE, 1, ())
    bl.add(block)
    bl.add(Block.create(IDS[0], LACE, 2, (block.id,)))
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
    first = Block.create(IDS[0], LACE, 1, ())
    bl.add(first)  # a new creator: checked rows
    store.fail = True
    second = Block.create(IDS[1], LACE, 2, ())
    bl.add(second)  # a new creator again: put_rows, not the failing vouched writer
    third = Block.create(IDS[0], LACE, 3, (first.id, second.id))
    attempts: list[Callable[[], object]] = [lambda: bl.add(third), lambda: bl.add_many([third])]
    for attempt in attempts:
        with pytest.raises(StoreError):
            attempt()
        assert third.id not in bl
        assert bl.lace_tips(LACE) == sorted([first.id, second.id])
    store.fail = False
    assert bl.add(third).added == [third.id]


rows = st.lists(
    st.tuples(
        st.binary(min_size=32, max_size=32),
        st.binary(min_size=1, max_size=64),
        st.binary(min_size=32, max_size=32),
        st.integers(0, 2**63 - 1),
        st.integers(0, 2**63 - 1),
        st.binary(max_size=40),
    ),
    max_size=6,
)


@settings(max_examples=40, deadline=None)
@given(rows)
def test_vouched_rows_store_what_put_rows_stores(batch: list[Row]) -> None:
    checked, vouched = MemoryStore(), MemoryStore()
    checked.put_rows(batch)
    vouched.put_vouched_rows(batch)
    assert list(checked.iter_blocks()) == list(vouched.iter_blocks())
    for lace in checked.laces():
        assert checked.ids_by_depth(lace, 0, 2**63 - 1) == vouched.ids_by_depth(lace, 0, 2**63 - 1)
    assert vouched.quick_check()


def test_vouched_rows_sqlite_and_closed_stores(tmp_path: Path) -> None:
    row: Row = (b"\x01" * 32, LACE, b"\x02" * 32, 0, 0, b"raw")
    with SqliteStore(tmp_path / "a.db") as checked, SqliteStore(tmp_path / "b.db") as vouched:
        checked.put_rows([row])
        vouched.put_vouched_rows([row, row])
        assert list(checked.iter_blocks()) == list(vouched.iter_blocks())
    for store in (vouched, MemoryStore()):
        store.close()
        with pytest.raises(StoreError):
            store.put_vouched_rows([row])


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 6))
def test_closure_matches_a_brute_force_walk(seed: int, min_depth: int) -> None:
    rng = random.Random(seed)
    made: list[Block] = []
    for n in range(24):
        me = IDS[n % 4]
        others = [b for b in made if b.creator != me.member_id]
        pointers = {b.id for b in rng.sample(others, k=min(len(others), rng.randrange(4)))}
        if n >= 4 and rng.random() < 0.7:
            pointers.add(made[n - 4].id)  # its own previous block
        made.append(Block.create(me, OTHER, n, tuple(pointers)))
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
    view, metas = bl.forked_view(LACE), bl.metas
    root = Block.create(IDS[0], LACE, 0, ())
    bl.add(root)
    assert metas[root.id] == bl.meta(root.id)
    assert not view
    bl.add(Block.create(IDS[1], LACE, 1, (root.id,)))
    bl.add(Block.create(IDS[1], LACE, 2, (root.id,)))  # a fork of creator 1
    assert set(view) == {IDS[1].member_id} == set(bl.equivocators(LACE))


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
    x = Block.create(IDS[0], LACE, 1, ())
    y = Block.create(IDS[1], LACE, 2, (x.id,))
    z = Block.create(IDS[2], LACE, 3, (x.id,))  # the same pointer set as y
    store.fail = True
    with pytest.raises(StoreError):
        bl.add_many([x, y])  # y's pointee facts came from the planned x
    store.fail = False
    assert bl.add(z).buffered == [z.id]  # x is not there: z waits
    assert bl.add(x).added == [x.id, z.id]
    assert bl.meta(z.id) == brute_meta(bl, z.id)

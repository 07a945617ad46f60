"""Blocklace behaviour: insertion, buffering, validation, equivocation, observation, sync."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peoplenet.runtime.errors import InvalidBlock, StoreError
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.lace.block import Block, BlockId, LaceId
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.store import MemoryStore, SqliteStore
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

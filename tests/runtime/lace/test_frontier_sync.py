"""The shared frontier-and-wants core: convergence, limits, no block sent twice, bad haves."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peoplenet.runtime.consensus.core import EpochHave
from peoplenet.runtime.errors import LocalError, PeoplenetError, RemoteProtocolError
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.lace.app_lace import LaceHave
from peoplenet.runtime.lace.block import Block, BlockId, LaceId
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.frontier_sync import (
    LIMITS,
    BadHave,
    SyncLimits,
    check_frontier_have,
    chunk,
    frontier_of,
    missing_by_frontier,
    missing_by_tips,
    tips_of,
    wants_of,
)
from peoplenet.runtime.lace.store import MemoryStore
from peoplenet.runtime.wire.codec import decode, encode

LACE = LaceId(b"t/frontier-sync")
IDS = [Identity.from_seed(bytes([i + 1]) * 32) for i in range(4)]


def history(seed: int, count: int, creators: int) -> list[Block]:
    """A fork-free lace: each block points to its creator's previous block and some others."""
    rng = random.Random(seed)
    blocks: list[Block] = []
    latest: dict[bytes, BlockId] = {}
    for i in range(count):
        who = IDS[rng.randrange(creators)]
        pointers = {b.id for b in rng.sample(blocks, min(len(blocks), rng.randrange(3)))}
        pointers = {p for p in pointers if _creator(blocks, p) != who.member_id}
        own = latest.get(who.member_id)
        if own is not None:
            pointers.add(own)
        block = Block.create(who, LACE, {"i": i, "pad": "x" * rng.randrange(200)}, tuple(pointers))
        latest[who.member_id] = block.id
        blocks.append(block)
    return blocks


def _creator(blocks: list[Block], bid: BlockId) -> bytes:
    return next(b.creator for b in blocks if b.id == bid)


def closed_subset(blocks: list[Block], rng: random.Random, keep: float) -> list[Block]:
    """A random subset of ``blocks`` closed under pointers (what a peer may hold)."""
    held: set[BlockId] = set()
    out: list[Block] = []
    for b in blocks:  # pointees come first
        if rng.random() < keep and all(p in held for p in b.pointers):
            held.add(b.id)
            out.append(b)
    return out


def lace_of(blocks: list[Block]) -> Blocklace:
    bl = Blocklace(MemoryStore())
    bl.add_many(blocks, verified=True)
    return bl


def ids(bl: Blocklace) -> set[BlockId]:
    return set(bl.iter_lace(LACE))


def take(bl: Blocklace, raws: tuple[bytes, ...]) -> None:
    report = bl.add_many([Block.from_bytes(r) for r in raws], raws=list(raws), verified=True)
    assert not report.rejected and not report.buffered  # pointees always came first


limits_st = st.builds(
    SyncLimits,
    max_blocks=st.integers(1, 8),
    max_bytes=st.integers(200, 4000),
)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    count=st.integers(0, 40),
    creators=st.integers(1, 4),
    keep=st.tuples(st.floats(0, 1), st.floats(0, 1)),
    limits=limits_st,
)
def test_two_peers_exchanging_frontier_haves_converge_within_limits(
    seed: int, count: int, creators: int, keep: tuple[float, float], limits: SyncLimits
) -> None:
    rng = random.Random(seed)
    blocks = history(seed, count, creators)
    a = lace_of(closed_subset(blocks, rng, keep[0]))
    b = lace_of(closed_subset(blocks, rng, keep[1]))
    union = ids(a) | ids(b)
    for _ in range(2):  # one have each way is enough; a second exchange must send nothing new
        for asker, answerer in ((a, b), (b, a)):
            have = dict(frontier_of(asker, LACE, limits))
            found = missing_by_frontier(answerer, LACE, have, wants_of(asker.wanted(), limits))
            assert not set(found.ids) & ids(asker), "sent a block the peer has"
            assert found.peer_ahead == bool(ids(asker) - ids(answerer))
            for sent, raws in chunk(answerer, found.ids, limits):
                assert 1 <= len(raws) <= limits.max_blocks
                assert len(raws) == 1 or sum(map(len, raws)) <= limits.max_bytes
                assert [answerer.raw(i) for i in sent] == list(raws)
                take(asker, raws)
    assert ids(a) == ids(b) == union


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    count=st.integers(0, 40),
    creators=st.integers(1, 4),
    keep=st.tuples(st.floats(0, 1), st.floats(0, 1)),
)
def test_two_peers_exchanging_tips_converge(
    seed: int, count: int, creators: int, keep: tuple[float, float]
) -> None:
    rng = random.Random(seed)
    blocks = history(seed, count, creators)
    a = lace_of(closed_subset(blocks, rng, keep[0]))
    b = lace_of(closed_subset(blocks, rng, keep[1]))
    union = ids(a) | ids(b)
    for _ in range(3):
        for asker, answerer in ((a, b), (b, a)):
            tips = tips_of(asker, LACE)
            found = missing_by_tips(answerer, LACE, tips)
            if all(t in answerer for t in tips):  # every tip known: the answer is exact
                assert not set(found.ids) & ids(asker), "sent a block the peer has"
            for _, raws in chunk(answerer, found.ids):
                take(asker, raws)
    assert ids(a) == ids(b) == union


def test_a_chain_with_an_unknown_tip_sends_nothing() -> None:
    blocks = history(1, 6, 1)  # one creator: a chain
    ahead, behind = lace_of(blocks), lace_of(blocks[:3])
    creator = blocks[0].creator
    found = missing_by_tips(behind, LACE, tips_of(ahead, LACE), creators=(creator,), chain=True)
    assert found.ids == () and found.peer_ahead
    back = missing_by_tips(ahead, LACE, tips_of(behind, LACE), creators=(creator,), chain=True)
    assert back.ids == tuple(b.id for b in blocks[3:]) and not back.peer_ahead


def test_wants_are_answered_only_within_the_lace_and_creators() -> None:
    blocks = history(2, 8, 2)
    other = Block.create(IDS[0], LaceId(b"t/other"), {"x": 1}, ())
    bl = lace_of([*blocks, other])
    everything = {bytes(i.member_id): 10_000 for i in IDS}
    wanted = [blocks[0].id, other.id]
    found = missing_by_frontier(bl, LACE, everything, wanted)
    assert found.ids == (blocks[0].id,)
    found = missing_by_frontier(bl, LACE, everything, wanted, creators=(IDS[3].member_id,))
    assert found.ids == ()


def test_a_block_over_the_byte_budget_goes_alone_and_max_messages_stops() -> None:
    blocks = history(3, 6, 1)
    bl = lace_of(blocks)
    every = [b.id for b in blocks]
    small = SyncLimits(max_blocks=4, max_bytes=1)
    assert [len(r) for _, r in chunk(bl, every, small)] == [1] * 6
    assert len(chunk(bl, every, small, max_messages=2)) == 2
    assert chunk(bl, every, skip=set(every)) == []
    assert [len(r) for _, r in chunk(bl, every, SyncLimits(max_blocks=4))] == [4, 2]


@pytest.mark.parametrize(
    ("frontier", "wants", "reason"),
    [
        (((b"c" * 32, 0),) * 1025, (), "too_many_heads"),
        ((), (b"w" * 32,) * 1025, "too_many_heads"),
        (((b"c" * 31, 0),), (), "bad_frontier"),
        (((b"c" * 32, -1),), (), "bad_frontier"),
        (((b"c" * 32, True),), (), "bad_frontier"),
        (((b"c" * 32,),), (), "bad_frontier"),
        ((), (b"w" * 31,), "bad_want"),
        ((), ("w" * 32,), "bad_want"),
    ],
)
def test_bad_haves_are_refused_with_their_reason(
    frontier: tuple[object, ...], wants: tuple[object, ...], reason: str
) -> None:
    with pytest.raises(BadHave) as caught:
        check_frontier_have(frontier, wants)
    assert caught.value.reason == reason
    assert isinstance(caught.value, RemoteProtocolError | PeoplenetError)
    # the two records that carry a per-creator have refuse it the same way on decoding
    for record in (EpochHave, LaceHave):
        data = encode(record(LACE, (), ()))  # a valid one, then the bad fields by hand
        assert isinstance(decode(data), record)
        with pytest.raises(RemoteProtocolError) as by_record:
            record(LACE, frontier, wants)  # type: ignore[arg-type]
        assert by_record.value.reason == reason


def test_a_full_have_is_accepted_and_limits_outside_the_wire_ceilings_are_refused() -> None:
    check_frontier_have(((b"c" * 32, 0),) * LIMITS.max_frontier, (b"w" * 32,) * LIMITS.max_wants)
    for bad in ({"max_blocks": 257}, {"max_bytes": 0}, {"max_frontier": 1025}):
        with pytest.raises(LocalError):
            SyncLimits(**bad)


def test_a_consensus_answer_of_large_blocks_fits_the_message_ceiling() -> None:
    """Before the shared core, an EpochHave was answered in chunks of 64 blocks whatever their
    size: 24 blocks of 200 kB made one 4.8 MB message, over the transport's 4 MiB ceiling, so
    the answer was never sent and the asker never caught up."""
    from peoplenet.runtime.consensus.constitution import Constitution, Genesis  # noqa: PLC0415
    from peoplenet.runtime.consensus.core import (  # noqa: PLC0415
        ConsensusCore,
        EpochBlocks,
        epoch_blocks_bytes,
    )
    from peoplenet.runtime.consensus.rules import RoundPayload  # noqa: PLC0415
    from peoplenet.runtime.wire.codec import MAX_MESSAGE_SIZE  # noqa: PLC0415

    genesis = Genesis.first(b"large", Constitution.of([i.member_id for i in IDS]))
    core = ConsensusCore(IDS[0], genesis, Blocklace(MemoryStore()), produce=False)
    lace = genesis.lace()
    big = RoundPayload((("text", "x" * 200_000),))
    previous: tuple[BlockId, ...] = ()
    for _ in range(6):
        made = [Block.create(who, lace, big, previous) for who in IDS]
        for block in made:
            out = core.receive(block.creator, epoch_blocks_bytes(lace, (block.to_bytes(),)), 0.0)
            assert not out.rejected
        previous = tuple(sorted(b.id for b in made))
    out = core.receive(IDS[1].member_id, encode(EpochHave(lace, (), ())), 0.0)
    answers = [(m, decode(m)) for _, m in out.sends]
    sent = [len(v.blocks) for _, v in answers if isinstance(v, EpochBlocks)]
    assert sum(sent) == 24 and len(sent) > 1
    assert all(len(m) <= MAX_MESSAGE_SIZE for m, _ in answers)

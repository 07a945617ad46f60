"""The consensus core's batch and byte paths (runtime/consensus/core.py): ``submit_many``,
``receive_many``, the messages and payloads assembled from encoded parts, and delivery of an
anchor's blocks in a few passes, each against the one-at-a-time path it short-cuts.

The protocol itself (rounds, waves, the order, epochs) is tested in test_rules.py.
"""

from __future__ import annotations

import os
import random
from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peoplenet.runtime.consensus.constitution import Constitution, Genesis
from peoplenet.runtime.consensus.core import (
    ConsensusCore,
    Delivery,
    EpochBlocks,
    EpochHave,
    Output,
    _parse_epoch_blocks,
    _round_payload_bytes,
    epoch_blocks_bytes,
)
from peoplenet.runtime.consensus.rules import RoundPayload
from peoplenet.runtime.errors import EncodeError, LocalError
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.lace.block import Block, BlockId, LaceId
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.store import MemoryStore
from peoplenet.runtime.wire.codec import (
    Value,
    decode,
    encode,
)
from tests.runtime.consensus.test_rules import (
    Community,
    blocks_msg,
    empty_block,
    lone_core,
    reasons,
    txs_of,
)
from tests.runtime.wire.test_fast_parsers import SIZES
from tests.strategies import canonical_values

# -- batches ----------------------------------------------------------------------------------


def test_submit_many_takes_each_new_tx_once() -> None:
    core = lone_core()[3]
    core.submit_many([("a", 1), ("b", 2), ("a", 1)], 0.0)
    assert core.pending_count == 2
    core.submit_many([("b", 2), ("c", 3)], 0.0)
    core.submit(("c", 3), 0.0)
    assert core.pending_count == 3


def test_submit_many_refuses_an_unencodable_batch_before_taking_any() -> None:
    core = lone_core()[3]
    with pytest.raises(EncodeError):
        core.submit_many([("ok", 1), 1.5], 0.0)  # type: ignore[list-item]
    assert core.pending_count == 0


def test_submitted_batches_are_delivered_once_in_one_order() -> None:
    c = Community(4)
    c.apply(c.members[0], c.members[0].core.submit_many([("x", i) for i in range(5)], c.now))
    c.apply(c.members[1], c.members[1].core.submit_many([("y", i) for i in range(3)], c.now))
    c.run()
    orders = [txs_of(m) for m in c.members]
    assert all(o == orders[0] for o in orders)
    expected = {("x", i) for i in range(5)} | {("y", i) for i in range(3)}
    assert len(orders[0]) == 8 and set(orders[0]) == expected
    for m in c.members:
        assert [d.position for d in m.deliveries] == list(range(8))
    # Delivered: submitting again is a no-op, so nothing is pending and nothing new comes.
    out = c.members[0].core.submit_many([("x", 0), ("x", 4)], c.now)
    assert c.members[0].core.pending_count == 0 and out.created == []


def test_metas_count_the_previous_round_and_share_pointer_ids() -> None:
    ids, g, bl, core = lone_core()
    lace = g.lace()
    first = [empty_block(x, lace) for x in ids]
    core.receive(MemberId(ids[1].member_id), blocks_msg(lace, *first), 0.0)
    second = empty_block(ids[2], lace, [b.id for b in first[:3]])
    core.receive(MemberId(ids[1].member_id), blocks_msg(lace, second), 0.0)
    meta = bl.meta(second.id)
    assert meta.depth == 1 and meta.below == 3 and meta.seq == 1
    assert meta.parent == first[2].id
    assert all(p is bl.meta(BlockId(p)).id for p in meta.pointers)
    assert bl.get(second.id).pointers == second.pointers


def recorded_messages() -> tuple[list[tuple[MemberId, bytes]], LaceId]:
    """Every block of a finished 4-member run, each in a message from its creator, plus noise."""
    c = Community(4)
    for i in range(4):
        c.submit(i, ("t", i))
    c.run()
    lace = c.genesis.lace()
    source = c.members[1].blocklace
    blocks = [source.get(b) for b in source.iter_lace(lace)]
    messages = [(MemberId(b.creator), blocks_msg(lace, b)) for b in blocks]
    stranger = MemberId(blocks[0].creator)
    messages.insert(3, (stranger, b"\xc1"))  # garbage: refused alone
    messages.insert(5, (stranger, encode(("hello", 1))))  # not a message
    messages.append(messages[0])  # a duplicate
    return messages, lace


def outcome(out: Output) -> tuple[object, ...]:
    peers = [r.peer for r in out.rejected]
    return (out.deliveries, reasons(out), peers, [a.blocks for a in out.finalized])


def test_receive_many_equals_receiving_one_by_one() -> None:
    messages, lace = recorded_messages()
    _, _, one_bl, one = lone_core()
    singly = [one.receive(peer, data, 0.0) for peer, data in messages]
    _, _, many_bl, many = lone_core()
    together = many.receive_many(messages, 0.0)
    merged = Output()
    for out in singly:
        merged.deliveries.extend(out.deliveries)
        merged.rejected.extend(out.rejected)
        merged.finalized.extend(out.finalized)
    assert outcome(together) == outcome(merged)
    assert reasons(together) == ["malformed", "unexpected_message"]
    assert len(together.deliveries) == 4
    assert list(many_bl.iter_lace(lace)) == list(one_bl.iter_lace(lace))


def test_receive_many_refuses_each_bad_message_alone() -> None:
    ids, g, bl, core = lone_core()
    lace = g.lace()
    good = [empty_block(x, lace) for x in ids[1:]]
    stray = empty_block(ids[1], b"c/" + b"\x01" * 32)
    forged = Block.create(ids[3], lace, RoundPayload((("x", 1),)))
    forged_raw = forged.to_bytes()[:-64] + bytes(64)
    peers = [MemberId(x.member_id) for x in ids[1:]]
    out = core.receive_many(
        [
            (peers[0], blocks_msg(lace, good[0])),
            (peers[1], blocks_msg(lace, good[1], stray)),  # one stray block spoils its message
            (peers[2], blocks_msg(b"c/" + b"\x02" * 32, good[2])),  # an epoch we do not run
            (peers[2], encode(EpochBlocks(lace, (good[2].to_bytes(), forged_raw)))),
        ],
        0.0,
    )
    assert sorted(zip(reasons(out), [r.peer for r in out.rejected], strict=True)) == sorted(
        [("wrong_lace", peers[1]), ("unknown_epoch", peers[2]), ("forged_signature", peers[2])]
    )
    assert good[0].id in bl and good[2].id in bl
    assert good[1].id not in bl and forged.id not in bl


def test_receive_many_asks_the_sender_of_a_block_that_waits() -> None:
    ids, g, bl, core = lone_core()
    lace = g.lace()
    first = [empty_block(x, lace) for x in ids]
    child = empty_block(ids[2], lace, [b.id for b in first[:3]])
    sender = MemberId(ids[2].member_id)
    out = core.receive_many([(sender, blocks_msg(lace, child))], 0.0)
    assert bl.pending_count == 1 and out.wake_at is not None
    asked = core.tick(out.wake_at)
    assert [peer for peer, _ in asked.sends] == [sender]
    have = decode(asked.sends[0][1])
    assert isinstance(have, EpochHave) and set(have.wants) == {b.id for b in first[:3]}
    core.receive_many([(sender, blocks_msg(lace, *first))], out.wake_at)
    assert child.id in bl and bl.pending_count == 0


# -- bytes assembled from encoded parts -------------------------------------------------------


LACE = b"c/" + b"\x05" * 32


@settings(max_examples=60, deadline=None)
@given(st.lists(canonical_values(), max_size=20))
def test_round_payload_bytes_is_the_payload_encoding(txs: list[Value]) -> None:
    encoded = [encode(tx) for tx in txs]
    assert _round_payload_bytes(encoded) == encode(RoundPayload(tuple(txs)))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300), st.lists(st.sampled_from(SIZES[:12]), max_size=5))
def test_epoch_blocks_bytes_is_the_message_encoding(lace: bytes, sizes: list[int]) -> None:
    raws = tuple(os.urandom(size) for size in sizes)
    data = epoch_blocks_bytes(lace, raws)
    assert data == encode(EpochBlocks(lace, raws))
    assert _parse_epoch_blocks(data) == EpochBlocks(lace, raws)


def test_epoch_blocks_bytes_refuses_too_many_blocks() -> None:
    with pytest.raises(LocalError):
        epoch_blocks_bytes(LACE, (b"x",) * 65)


# -- an anchor's blocks delivered in a few passes ---------------------------------------------


def _identities(n: int) -> list[Identity]:
    return [Identity.from_seed(bytes([i + 1]) * 32) for i in range(n)]


def _cores(n: int) -> list[ConsensusCore]:
    ids = _identities(n)
    genesis = Genesis.first(b"speed4", Constitution.of([i.member_id for i in ids]))
    return [ConsensusCore(i, genesis, Blocklace(MemoryStore())) for i in ids]


def _run(*, per_block: bool, seed: int, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Four members, random transactions (repeats included), shuffled delivery; what each saw."""
    if per_block:

        def one_by_one(
            self: ConsensusCore, ep: object, anchor: object, bids: list[bytes], out: Output
        ) -> bool:
            for bid in bids:
                ep.unordered.discard(bid)  # type: ignore[attr-defined]
                if self._deliver_block(ep, anchor, bid, out):  # type: ignore[arg-type]
                    return True
            return False

        monkeypatch.setattr(ConsensusCore, "_deliver_blocks", one_by_one)
    rng = random.Random(seed)
    cores = _cores(4)
    index = {c.me: i for i, c in enumerate(cores)}
    queue: deque[tuple[int, int, bytes]] = deque()
    seen: list[list[Delivery]] = [[] for _ in cores]
    now = 0.0

    def handle(i: int, out: Output) -> None:
        queue.extend((i, index[MemberId(p)], d) for p, d in out.sends)
        seen[i].extend(out.deliveries)

    for i, core in enumerate(cores):
        handle(i, core.start(now))
    for step in range(400):
        if rng.random() < 0.3:
            i = rng.randrange(4)
            # Repeats of earlier transactions must be delivered once only.
            txs = [("t", i, rng.randrange(step + 5)) for _ in range(rng.randrange(1, 6))]
            handle(i, cores[i].submit_many(txs, now))
        if queue:
            batch: dict[int, list[tuple[MemberId, bytes]]] = {}
            for _ in range(rng.randrange(1, len(queue) + 1)):
                src, dst, data = queue.popleft()
                batch.setdefault(dst, []).append((cores[src].me, data))
            for dst, msgs in batch.items():
                handle(dst, cores[dst].receive_many(msgs, now))
        else:
            now += 1.0
            for i, core in enumerate(cores):
                handle(i, core.tick(now))
    mine = [(sorted(c._mine_delivered), sorted(c._outstanding), sorted(c._keys_in)) for c in cores]
    return [seen, mine]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_anchor_delivery_is_block_by_block_delivery(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = _run(per_block=False, seed=seed, monkeypatch=monkeypatch)
    monkeypatch.undo()
    slow = _run(per_block=True, seed=seed, monkeypatch=monkeypatch)
    deliveries = fast[0]
    assert isinstance(deliveries, list)
    assert all(len(d) > 20 for d in deliveries)  # the run did order transactions
    assert fast == slow


def _block_bytes(core: ConsensusCore, payload: Value, pointers: tuple[bytes, ...] = ()) -> bytes:
    return Block.create(core.identity, core.lace, payload, pointers).to_bytes()


def test_receive_many_refuses_as_receive_does() -> None:
    a, b, c, d = _cores(4)
    lace = a.lace
    good = _block_bytes(b, RoundPayload((("x", 1),)))
    other = _block_bytes(c, RoundPayload(()))
    forged = bytearray(_block_bytes(d, RoundPayload((("y", 2),))))
    forged[-1] ^= 1
    wrong_lace = Block.create(c.identity, b"elsewhere", RoundPayload(()), ()).to_bytes()
    messages: list[tuple[MemberId, bytes]] = [
        (b.me, epoch_blocks_bytes(lace, (good,))),
        (c.me, epoch_blocks_bytes(lace, (wrong_lace,))),
        (d.me, epoch_blocks_bytes(lace, (bytes(forged),))),
        (c.me, epoch_blocks_bytes(b"unknown-epoch", (other,))),
        (c.me, b"\xc1garbage"),
        (b.me, encode(EpochHave(lace, (), ()))),
        (c.me, encode(EpochBlocks(lace, (other,)))),
        (b.me, epoch_blocks_bytes(lace, (good,))),  # a duplicate: nothing to refuse
        (d.me, encode(("not", "a message"))),
    ]
    fresh = _cores(4)[0]
    many = fresh.receive_many(messages, 0.0)
    twin = _cores(4)[0]
    one: list[tuple[bytes | None, str]] = []
    for peer, data in messages:
        out = twin.receive(peer, data, 0.0)
        one.extend((r.peer, r.error.reason) for r in out.rejected)
    got = [(r.peer, r.error.reason) for r in many.rejected]
    assert sorted(got, key=repr) == sorted(one, key=repr)
    taken = [Block.from_bytes(raw).id for raw in (good, other)]
    refused = [Block.from_bytes(raw).id for raw in (bytes(forged), wrong_lace)]
    for core in (fresh, twin):
        assert all(bid in core._bl for bid in taken)
        assert not any(bid in core._bl for bid in refused)
    assert {reason for _, reason in got} == {
        "wrong_lace",
        "forged_signature",
        "unknown_epoch",
        "malformed",
        "unexpected_message",
    }

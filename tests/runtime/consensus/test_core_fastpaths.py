"""The consensus core's fast paths: the hand-parsed ``EpochBlocks``, ``submit_many``, and
the blocklace facts the rules now read instead of recomputing.

Why: these paths exist only for speed, so each must give exactly the answer of the general
path it short-cuts -- on good input and on bad.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peoplenet.runtime.consensus.core import EpochBlocks, EpochHave, Output, _parse_epoch_blocks
from peoplenet.runtime.consensus.rules import RoundPayload
from peoplenet.runtime.errors import EncodeError, RemoteProtocolError
from peoplenet.runtime.keys.identity import MemberId
from peoplenet.runtime.lace.block import Block, BlockId, LaceId
from peoplenet.runtime.wire.codec import decode, encode
from tests.runtime.consensus.test_rules import (
    Community,
    blocks_msg,
    empty_block,
    lone_core,
    reasons,
    txs_of,
)
from tests.strategies import mutate_bytes

LACE = b"c/" + b"\x05" * 32


def general(data: bytes) -> tuple[str, object]:
    try:
        return "ok", decode(data)
    except RemoteProtocolError as exc:
        return "err", exc.reason


def messages() -> list[bytes]:
    blobs = [b"", b"x", bytes(255), bytes(256), bytes(70_000)]
    return [
        encode(EpochBlocks(LACE, ())),
        encode(EpochBlocks(LACE, tuple(blobs))),
        encode(EpochBlocks(LACE, (b"\x01" * 40,) * 16)),
        encode(EpochBlocks(b"", (b"a",))),
    ]


def test_canonical_messages_take_the_fast_path_and_match_decode() -> None:
    for data in messages():
        fast = _parse_epoch_blocks(data)
        assert fast is not None
        assert ("ok", fast) == general(data)


def test_non_canonical_messages_are_left_to_decode() -> None:
    good = encode(EpochBlocks(LACE, (b"ab",)))
    assert good[3:5] == b"\x93\x41"
    for bad in (
        b"\xc8\x00" + good[1:],  # ext16 header for a short body
        good[:5] + b"\xc5\x00" + good[6:],  # lace as bin16 (and now one byte short)
        good[:-3] + b"\xc5\x00\x02ab",  # a block as bin16
        good + b"\x00",
        good[:-1],
    ):
        assert _parse_epoch_blocks(bad) is None
        assert general(bad)[0] == "err"
    too_many = encode(EpochBlocks(LACE, ()))[:-1] + b"\xdc\x00\x41" + b"\xc4\x00" * 65
    assert _parse_epoch_blocks(too_many) is None


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    return mutate_bytes(draw, draw(st.sampled_from(messages()[:1] + messages()[2:])))


@settings(max_examples=300, deadline=None)
@given(mutated())
def test_fast_parse_never_disagrees_with_decode(data: bytes) -> None:
    fast = _parse_epoch_blocks(data)
    if fast is not None:
        assert ("ok", fast) == general(data)


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

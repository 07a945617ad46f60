"""Round 4's core fast paths give exactly what the general paths give.

- Delivery of an anchor's blocks in a few passes over all their transactions
  (``ConsensusCore._deliver_blocks``) against delivery block by block (``_deliver_block``, the
  path an amendment takes): the same deliveries, the same bookkeeping of my own transactions.
- ``receive_many`` reading the usual message inline: the same refusals, each with its sender
  and reason, and the same blocklace as ``receive`` one message at a time.
"""

from __future__ import annotations

import random
from collections import deque

import pytest

from peoplenet.runtime.consensus.constitution import Constitution, Genesis
from peoplenet.runtime.consensus.core import (
    ConsensusCore,
    Delivery,
    EpochBlocks,
    EpochHave,
    Output,
    epoch_blocks_bytes,
)
from peoplenet.runtime.consensus.rules import RoundPayload
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.lace.block import Block
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.store import MemoryStore
from peoplenet.runtime.wire.codec import Value, encode


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

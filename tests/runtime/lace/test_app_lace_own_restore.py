"""An app lace (e.g. the currency's coin lace) restored from an old backup: the replica learns
its own latest blocks from the members before it signs, so a coin is never spent twice by
accident; a block of mine I did not make stops signing.  In process, deterministic."""

from __future__ import annotations

from collections import deque

import pytest

from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.lace.app_lace import (
    LaceBlocks,
    LaceHave,
    LaceReplica,
    ReplicaOutput,
    app_lace_id,
)
from peoplenet.runtime.lace.block import Block, LaceId
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.store import MemoryStore
from peoplenet.runtime.social.graph import Post

LACE = LaceId(app_lace_id(b"coop-restore", "currency"))


class Members:
    def __init__(self, *, learn_own_first: bool) -> None:
        self.flag = learn_own_first
        self.ids = [Identity.from_seed(bytes([i + 70]) * 32) for i in range(4)]
        self.members = [MemberId(i.member_id) for i in self.ids]
        self.stores = [MemoryStore() for _ in self.ids]
        self.replicas = [self._replica(i, s) for i, s in enumerate(self.stores)]
        self.queue: deque[tuple[int, int, LaceBlocks | LaceHave]] = deque()

    def _replica(self, i: int, store: MemoryStore) -> LaceReplica:
        return LaceReplica(
            LACE,
            Blocklace(store),
            self.members[i],
            self.members,
            learn_own_first=self.flag,
        )

    def handle(self, i: int, out: ReplicaOutput) -> None:
        index = {m: n for n, m in enumerate(self.members)}
        self.queue.extend((i, index[p], msg) for p, msg in out.sends)

    def sign(self, i: int, text: str) -> Block:
        replica = self.replicas[i]
        bl = Blocklace(self.stores[i].reopen())
        tip = bl.latest(LACE, self.members[i])
        block = Block.create(self.ids[i], LACE, Post(text), () if tip is None else (tip,))
        self.handle(i, replica.add_own(block, 0.0))
        return block

    def run(self) -> None:
        for _ in range(10_000):
            if not self.queue:
                return
            src, dst, msg = self.queue.popleft()
            out = self.replicas[dst].receive(self.members[src], msg, 0.0)
            self.handle(dst, out)
        raise AssertionError("never quiet")

    def restore(self, i: int, backup: MemoryStore) -> None:
        self.stores[i] = backup
        self.replicas[i] = self._replica(i, backup)
        self.handle(i, self.replicas[i].start(0.0))

    def forks(self) -> int:
        return sum(len(Blocklace(s.reopen()).equivocations(LACE)) for s in self.stores)


def _copy(store: MemoryStore) -> MemoryStore:
    backup = MemoryStore()
    backup.put_many(list(store.iter_blocks()))
    return backup


def _restored(learn_own_first: bool) -> tuple[Members, list[Block]]:
    m = Members(learn_own_first=learn_own_first)
    for r in m.replicas:
        m.handle(m.replicas.index(r), r.start(0.0))
    m.run()
    made = [m.sign(0, "coin 1")]
    m.run()
    backup = _copy(m.stores[0])
    made += [m.sign(0, "coin 2"), m.sign(0, "coin 3")]
    m.run()
    m.restore(0, backup)
    return m, made


def test_restored_coin_lace_learns_its_blocks_before_signing() -> None:
    m, made = _restored(learn_own_first=True)
    with pytest.raises(LocalError, match="not yet: catching up with your own blocks"):
        m.sign(0, "too early")
    m.run()
    replica = m.replicas[0]
    assert replica.may_sign() and len(replica.own.confirmed) >= 2
    assert Blocklace(m.stores[0].reopen()).latest(LACE, m.members[0]) == made[-1].id
    m.sign(0, "coin 4")
    m.run()
    assert m.forks() == 0
    for store in m.stores:
        assert len(Blocklace(store.reopen()).chain(LACE, m.members[0])) == 4


def test_without_learning_first_the_restored_coin_lace_forks() -> None:
    m, _ = _restored(learn_own_first=False)
    m.sign(0, "spent again")
    m.run()
    assert m.forks() > 0


def test_an_own_block_from_another_device_stops_signing() -> None:
    m = Members(learn_own_first=True)
    m.sign(0, "coin 1")
    m.run()
    tip = Blocklace(m.stores[1].reopen()).latest(LACE, m.members[0])
    assert tip is not None
    twin = Block.create(m.ids[0], LACE, Post("from a copy"), (tip,))  # a copied data directory
    m.handle(1, m.replicas[1].receive(m.members[2], _blocks(twin), 0.0))  # reaches member 1
    out = m.replicas[0].receive(m.members[1], _blocks(twin), 0.0)
    assert [p.kind for p in out.own_problems] == ["another_device"]
    assert not m.replicas[0].may_sign()
    with pytest.raises(LocalError, match="another device is using this identity"):
        m.sign(0, "more")


def _blocks(block: Block) -> LaceBlocks:
    return LaceBlocks(LACE, (block.to_bytes(),))

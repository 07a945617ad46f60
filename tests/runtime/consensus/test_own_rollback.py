"""A participant whose store is rolled back (an old backup restored) must not equivocate: the
consensus core learns its own latest blocks from f + 1 other participants before it makes one.
Deterministic: four cores, FIFO delivery, time advanced only when every queue is empty."""

from __future__ import annotations

from collections import deque

import pytest

from peoplenet.runtime.consensus.constitution import Constitution, Genesis
from peoplenet.runtime.consensus.core import ConsensusCore, Delivery, Output
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.own_chain import quorum_of_others
from peoplenet.runtime.lace.store import MemoryStore


def _copy(store: MemoryStore) -> MemoryStore:
    """A backup of the store as it is now."""
    backup = MemoryStore()
    backup.put_many(list(store.iter_blocks()))
    return backup


class Community:
    """Four members' cores, their stores, and the messages between them."""

    def __init__(self, *, learn_own_first: bool) -> None:
        self.flag = learn_own_first
        self.ids = [Identity.from_seed(bytes([i + 40]) * 32) for i in range(4)]
        self.genesis = Genesis.first(
            b"rollback", Constitution.of([i.member_id for i in self.ids], timeout_ms=1000)
        )
        self.stores = [MemoryStore() for _ in self.ids]
        self.cores = [self._core(i, self.stores[i]) for i in range(4)]
        self.index = {MemberId(i.member_id): n for n, i in enumerate(self.ids)}
        self.queue: deque[tuple[int, int, bytes]] = deque()
        self.delivered: list[list[Delivery]] = [[] for _ in self.ids]
        self.wake: list[float | None] = [None] * 4
        self.now = 0.0
        for i, core in enumerate(self.cores):
            self._handle(i, core.start(self.now))

    def _core(self, i: int, store: MemoryStore) -> ConsensusCore:
        return ConsensusCore(self.ids[i], self.genesis, Blocklace(store), learn_own_first=self.flag)

    def _handle(self, i: int, out: Output) -> None:
        self.queue.extend((i, self.index[MemberId(p)], d) for p, d in out.sends)
        self.delivered[i].extend(out.deliveries)
        self.wake[i] = out.wake_at

    def restore(self, i: int, backup: MemoryStore) -> None:
        """Member ``i`` restarts over an old copy of its store; messages to it were lost."""
        self.queue = deque(m for m in self.queue if i not in (m[0], m[1]))
        self.stores[i] = backup
        self.cores[i] = self._core(i, backup)
        self.delivered[i] = []
        self._handle(i, self.cores[i].start(self.now))

    def submit(self, i: int, tx: str) -> None:
        self._handle(i, self.cores[i].submit(("text", tx), self.now))

    def run(self, steps: int = 20_000) -> None:
        """Deliver until every member is quiet, ticking whoever asked to be woken."""
        for _ in range(steps):
            if self.queue:
                src, dst, data = self.queue.popleft()
                self._handle(dst, self.cores[dst].receive(self.cores[src].me, data, self.now))
                continue
            due = [w for w in self.wake if w is not None]
            if not due:
                return
            self.now = max(self.now, min(due))
            for i, core in enumerate(self.cores):
                if self.wake[i] is not None and self.wake[i] <= self.now:  # type: ignore[operator]
                    self._handle(i, core.tick(self.now))
        raise AssertionError("the community never went quiet")

    def txs(self, i: int) -> list[object]:
        return [d.tx for d in self.delivered[i]]

    def equivocations(self) -> int:
        lace = self.genesis.lace()
        return sum(len(Blocklace(s.reopen()).equivocations(lace)) for s in self.stores)


def _rollback(learn_own_first: bool) -> Community:
    com = Community(learn_own_first=learn_own_first)
    com.run()
    com.submit(0, "before the backup")
    com.run()
    backup = _copy(com.stores[0])
    for k in range(3):
        com.submit(0, f"lost {k}")  # member 0 signs more rounds; its store loses them
        com.submit(1, f"other {k}")
        com.run()
    assert all(len(com.txs(i)) == 7 for i in range(4))
    com.restore(0, backup)
    com.submit(0, "after the restore")  # pending at once: the core wants to make a block
    com.run()
    return com


def test_rolled_back_participant_learns_its_rounds_first_and_never_equivocates() -> None:
    com = _rollback(learn_own_first=True)
    assert com.equivocations() == 0
    lace = com.genesis.lace()
    restored = com.cores[0]
    assert restored.own.synced and restored.own.problem is None
    assert restored.blocks_created > 0  # it took part again
    assert len(restored.own.confirmed) >= 2  # f + 1 of the 3 others (f = 1)
    for i in range(1, 4):
        assert com.txs(i)[-1] == ("text", "after the restore")
    # its chain continues after the blocks it had lost (learnt back, not signed again)
    assert Blocklace(com.stores[0].reopen()).latest(lace, restored.me) is not None


def test_without_learning_first_the_same_rollback_equivocates() -> None:
    """The scenario is real: a core that signs at once over the old store forks its chain."""
    com = _rollback(learn_own_first=False)
    assert com.equivocations() > 0


def test_a_core_that_sees_its_own_fork_stops_and_says_so() -> None:
    com = _rollback(learn_own_first=False)  # member 0 forked
    fresh = ConsensusCore(
        com.ids[0], com.genesis, Blocklace(com.stores[1].reopen()), learn_own_first=True
    )
    out = fresh.start(com.now)  # another copy of member 0 over a store that holds both twins
    assert [p.kind for p in out.own_problems] == ["own_fork"]
    assert fresh.own.problem is not None and not fresh.own.may_sign()
    before = fresh.blocks_created
    fresh.submit(("text", "more"), com.now)
    assert fresh.blocks_created == before


@pytest.mark.parametrize(("n", "need"), [(1, 0), (2, 1), (3, 1), (4, 2), (7, 3), (10, 4)])
def test_how_many_participants_must_answer(n: int, need: int) -> None:
    assert quorum_of_others(n) == need

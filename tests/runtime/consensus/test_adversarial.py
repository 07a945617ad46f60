"""Consensus under adversarial schedules: Hypothesis is the network and the Byzantine members.

A tiny in-process scheduler keeps every message in flight as ``(dst, src, bytes)``; at each
step Hypothesis picks what happens next -- deliver one message (or a copy of it, keeping the
original in flight), hold it back until the end, let a member submit a transaction, fire a
member's timer, restart a correct member over its store -- and how each Byzantine member
misbehaves with every block it makes: send it, fork it (a twin with other transactions,
leader blocks included) and give different recipients different versions, withhold it, or
later replay old blocks.  After every step the safety invariants are checked; at the end
(GST) every held message is released and timers fire until the community is quiet, and
every correct transaction must have been delivered everywhere.
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass, field
from typing import Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peoplenet.runtime.consensus.constitution import Constitution, Genesis
from peoplenet.runtime.consensus.core import ConsensusCore, Delivery, EpochBlocks, Output
from peoplenet.runtime.consensus.rules import RoundPayload
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.lace.block import Block, BlockId
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.store import MemoryStore
from peoplenet.runtime.wire.codec import Value, encode

MAX_DRAIN_STEPS: Final = 100_000

# What a Byzantine member does with each version of a new block, per recipient.
ORIGINAL, TWIN, BOTH, NOTHING = "original", "twin", "both", "nothing"


def identity(i: int) -> Identity:
    return Identity.from_seed(hashlib.blake2b(f"adv/{i}".encode(), digest_size=32).digest())


@dataclass
class Node:
    """One member and what its shell has durably handed on."""

    identity: Identity
    store: MemoryStore
    blocklace: Blocklace
    core: ConsensusCore
    byzantine: bool
    log: list[Delivery] = field(default_factory=list)
    anchors: list[tuple[int, BlockId]] = field(default_factory=list)
    """(wave, leader) of every anchor emitted, in order."""
    submitted: list[Value] = field(default_factory=list)
    """The shell's durable queue: resubmitted after a restart."""
    wake_at: float | None = None

    @property
    def id(self) -> MemberId:
        return MemberId(self.identity.member_id)


class World:
    """A community whose network and Byzantine members are driven by Hypothesis."""

    def __init__(self, n: int, byzantine: int, data: st.DataObject) -> None:
        ids = sorted((identity(i) for i in range(n)), key=lambda x: x.member_id)
        self.genesis = Genesis.first(
            b"adversarial", Constitution.of([x.member_id for x in ids], timeout_ms=1000)
        )
        self.data = data
        # The Byzantine members include wave 0's leader, so its leader block is forked too.
        bad = {0, *range(n - byzantine + 1, n)} if byzantine else set()
        self.nodes = [self._node(x, MemoryStore(), i in bad) for i, x in enumerate(ids)]
        self.index = {node.id: i for i, node in enumerate(self.nodes)}
        self.correct = [i for i in range(n) if i not in bad]
        self.byzantine = sorted(bad)
        self.inflight: list[tuple[int, int, bytes]] = []
        self.held: list[tuple[int, int, bytes]] = []
        self.now = 0.0
        self.forks = 0
        self.tx_counter = 0
        self.drain = False
        self.final_seen: list[dict[int, BlockId]] = [{} for _ in range(n)]
        for i, node in enumerate(self.nodes):
            self.apply(i, node.core.start(self.now), replay=False)

    def _node(self, ident: Identity, store: MemoryStore, byzantine: bool) -> Node:
        bl = Blocklace(store)
        return Node(ident, store, bl, ConsensusCore(ident, self.genesis, bl), byzantine)

    # -- the shell ---------------------------------------------------------------------------

    def apply(self, i: int, out: Output, *, replay: bool = False) -> None:
        node = self.nodes[i]
        if replay:
            # A restarted core replays its history: it must be exactly what was handed on.
            assert out.deliveries == node.log, "a restart replayed another history"
            assert [(a.wave, a.leader) for a in out.finalized] == node.anchors
        else:
            node.log.extend(out.deliveries)
            node.anchors.extend((a.wave, a.leader) for a in out.finalized)
        node.wake_at = out.wake_at
        sends = self._byzantine_sends(i, out) if node.byzantine else out.sends
        for dst, data in sends:
            j = self.index.get(dst)
            if j is not None:
                self.inflight.append((j, i, data))

    def _byzantine_sends(self, i: int, out: Output) -> list[tuple[MemberId, bytes]]:
        """Fork every new block; each recipient gets one version, both, or nothing."""
        node = self.nodes[i]
        twins: dict[bytes, bytes] = {}
        honest = not self.drain and self.data.draw(st.booleans(), label="honest block")
        for block in [] if honest else out.created:
            self.forks += 1
            twin = Block.create(
                node.identity, block.lace, RoundPayload((("fork", i, self.forks),)), block.pointers
            )
            original = encode(EpochBlocks(block.lace, (block.to_bytes(),)))
            twins[original] = encode(EpochBlocks(block.lace, (twin.to_bytes(),)))
        sends: list[tuple[MemberId, bytes]] = []
        for dst, data in out.sends:
            twin_data = twins.get(data)
            if twin_data is None:
                sends.append((dst, data))
                continue
            if self.drain:  # after GST: still forking, deterministically
                choice = TWIN if self.index[dst] % 2 else ORIGINAL
            else:
                choice = self.data.draw(st.sampled_from([ORIGINAL, TWIN, BOTH, NOTHING]))
            if choice in (ORIGINAL, BOTH):
                sends.append((dst, data))
            if choice in (TWIN, BOTH):
                sends.append((dst, twin_data))
        return sends

    def deliver(self, k: int, *, keep: bool = False) -> None:
        dst, src, data = self.inflight[k] if keep else self.inflight.pop(k)
        node = self.nodes[dst]
        self.apply(dst, node.core.receive(self.nodes[src].id, data, self.now))

    def submit(self, i: int) -> None:
        self.tx_counter += 1
        tx: Value = ("bad" if self.nodes[i].byzantine else "tx", i, self.tx_counter)
        self.nodes[i].submitted.append(tx)
        self.apply(i, self.nodes[i].core.submit(tx, self.now))

    def tick(self, i: int) -> None:
        node = self.nodes[i]
        if node.wake_at is not None:
            self.now = max(self.now, node.wake_at)
        self.apply(i, node.core.tick(self.now))

    def restart(self, i: int) -> None:
        old = self.nodes[i]
        fresh = self._node(old.identity, old.store.reopen(), old.byzantine)
        fresh.log, fresh.anchors, fresh.submitted = old.log, old.anchors, old.submitted
        self.nodes[i] = fresh
        self.apply(i, fresh.core.start(self.now), replay=True)
        for tx in fresh.submitted:
            self.apply(i, fresh.core.submit(tx, self.now))

    def replay_old_block(self, i: int, dst: int, pick: int) -> None:
        """A Byzantine member re-sends one of the blocks it knows (stale, or someone else's)."""
        bl = self.nodes[i].blocklace
        ids = list(bl.iter_lace(self.genesis.lace()))
        if ids:
            raw = bl.raw(ids[pick % len(ids)])
            self.inflight.append((dst, i, encode(EpochBlocks(self.genesis.lace(), (raw,)))))

    # -- the end: GST ---------------------------------------------------------------------------

    def settle(self) -> None:
        """Release everything held, stop misbehaving at random, run until nothing is due."""
        self.drain = True
        self.inflight.extend(self.held)
        self.held.clear()
        queue = deque(self.inflight)
        self.inflight = []
        for _ in range(MAX_DRAIN_STEPS):
            if queue:
                dst, src, data = queue.popleft()
                self.apply(dst, self.nodes[dst].core.receive(self.nodes[src].id, data, self.now))
            else:
                # Byzantine members' timers are ignored from here on: they may fall silent.
                due = [i for i in self.correct if self.nodes[i].wake_at is not None]
                if not due:
                    return
                self.now = max(self.now, min(self.nodes[i].wake_at or 0.0 for i in due))
                for i in due:
                    wake = self.nodes[i].wake_at
                    if wake is not None and wake <= self.now:
                        self.apply(i, self.nodes[i].core.tick(self.now))
            queue.extend(self.inflight)
            self.inflight = []
            self.check()
        raise AssertionError("the community never went quiet after GST")

    # -- invariants ------------------------------------------------------------------------------

    def check(self) -> None:
        """Safety, checked after every step."""
        logs = [self.nodes[i].log for i in self.correct]
        for a in range(len(logs)):
            for b in range(a + 1, len(logs)):
                short = min(len(logs[a]), len(logs[b]))
                assert logs[a][:short] == logs[b][:short], "correct members' orders diverged"
        anchor_lists = [self.nodes[i].anchors for i in self.correct]
        for a in range(len(anchor_lists)):
            for b in range(a + 1, len(anchor_lists)):
                short = min(len(anchor_lists[a]), len(anchor_lists[b]))
                assert anchor_lists[a][:short] == anchor_lists[b][:short], "anchors diverged"
        for i in self.correct:
            node = self.nodes[i]
            positions = [(d.epoch, d.position) for d in node.log]
            assert positions == [(0, p) for p in range(len(node.log))], "position gap or repeat"
            runs: list[BlockId] = []
            for d in node.log:
                if not runs or runs[-1] != d.block:
                    runs.append(d.block)
            assert len(runs) == len(set(runs)), "a block delivered twice"
            slots = set()
            for bid in runs:
                meta = node.blocklace.meta(bid)
                slots.add((meta.lace, meta.creator, meta.seq))
            assert len(slots) == len(runs), "two conflicting blocks of one creator delivered"
            waves = [w for w, _ in node.anchors]
            assert waves == sorted(set(waves)), "an anchor wave repeated or went back"
            final = node.core.order_of(0).final_leaders
            seen = self.final_seen[i]
            for wave, leader in seen.items():
                assert final.get(wave) == leader, "a final leader changed or vanished"
            seen.update(final)
            for wave, leader in final.items():
                creator = node.blocklace.meta(leader).creator
                assert creator == self.genesis.constitution.leader(wave), "a non-leader is final"
                assert (wave, leader) in node.anchors, "a final leader is not in the order"

    def check_liveness(self) -> None:
        wanted = {tx for i in self.correct for tx in self.nodes[i].submitted}
        for i in self.correct:
            node = self.nodes[i]
            delivered = [d.tx for d in node.log]
            assert wanted <= set(delivered), "a correct transaction was never delivered"
            assert not node.core.active and node.wake_at is None, "not quiet after GST"


ACTIONS: Final = (
    "deliver",
    "deliver",
    "deliver",
    "deliver",
    "duplicate",
    "hold",
    "submit",
    "tick",
    "restart",
    "replay_old",
)


def run_schedule(data: st.DataObject, n: int, byzantine: int, max_steps: int) -> World:
    world = World(n, byzantine, data)
    steps = data.draw(st.integers(min_value=1, max_value=max_steps), label="steps")
    for _ in range(steps):
        action = data.draw(st.sampled_from(ACTIONS))
        if action in ("deliver", "duplicate", "hold"):
            if not world.inflight:
                continue
            k = data.draw(st.integers(0, len(world.inflight) - 1))
            if action == "hold":
                world.held.append(world.inflight.pop(k))
            else:
                world.deliver(k, keep=action == "duplicate")
        elif action == "submit":
            world.submit(data.draw(st.integers(0, n - 1)))
        elif action == "tick":
            world.tick(data.draw(st.integers(0, n - 1)))
        elif action == "restart":
            world.restart(data.draw(st.sampled_from(world.correct)))
        elif action == "replay_old" and world.byzantine:
            src = data.draw(st.sampled_from(world.byzantine))
            dst = data.draw(st.sampled_from(world.correct))
            world.replay_old_block(src, dst, data.draw(st.integers(0, 10_000)))
        world.check()
    # Every correct member gets at least one transaction in, so liveness has something to show.
    for i in world.correct:
        if not world.nodes[i].submitted:
            world.submit(i)
    world.settle()
    world.check()
    world.check_liveness()
    return world


FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.data())
def test_four_members_one_byzantine(data: st.DataObject) -> None:
    run_schedule(data, 4, 1, 120)


@settings(FAST, max_examples=10)
@given(st.data())
def test_seven_members_two_byzantine(data: st.DataObject) -> None:
    run_schedule(data, 7, 2, 150)


@settings(FAST, max_examples=20)
@given(st.data())
def test_four_correct_members(data: st.DataObject) -> None:
    """No Byzantine member: the schedule alone (reorder, duplicate, hold, restart) is hostile."""
    run_schedule(data, 4, 0, 120)


@pytest.mark.slow
@SLOW
@given(st.data())
def test_four_members_one_byzantine_many(data: st.DataObject) -> None:
    run_schedule(data, 4, 1, 300)


@pytest.mark.slow
@settings(SLOW, max_examples=300)
@given(st.data())
def test_seven_members_two_byzantine_many(data: st.DataObject) -> None:
    run_schedule(data, 7, 2, 400)

"""The beacon an app transaction's fold sees: the same on every member's node, new at every step
of the order, and the same again when a node restarts and replays its stored order.

Real consensus actors (their shell code, without thespian: messages are carried by hand), real
consensus cores over real block stores; the consumer records what it is handed.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from peoplenet.actors.community import consensus_actor
from peoplenet.actors.community.consensus_actor import ConsensusActor, _Wake
from peoplenet.actors.member.messages import ConsensusInit, Inbound, Outbound, PeerUp
from peoplenet.runtime.consensus.beacon import anchor_beacon
from peoplenet.runtime.consensus.constitution import Constitution, Genesis
from peoplenet.runtime.consensus.consumer import ConsumerOutput, Signer
from peoplenet.runtime.consensus.core import Delivery
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.wire.codec import Value, encode

SEEDS = [bytes([i + 1]) * 32 for i in range(4)]
PEOPLE = [Identity.from_seed(s) for s in SEEDS]
IDS = [bytes(p.member_id) for p in PEOPLE]


class _Recorder:
    """A consumer that keeps the beacon of every transaction it is handed."""

    def __init__(self) -> None:
        self.seen: dict[tuple[int, int], tuple[Value, bytes]] = {}
        self.replayed: dict[tuple[int, int], tuple[Value, bytes]] = {}

    name = "recorder"

    def replay(
        self,
        geneses: Sequence[Genesis],
        history: Sequence[Delivery],
        beacons: Mapping[bytes, bytes] | None = None,
    ) -> None:
        for d in history:
            self.replayed[d.epoch, d.position] = (d.tx, (beacons or {}).get(bytes(d.block), b""))

    def delivered(
        self,
        deliveries: Sequence[Delivery],
        geneses: Sequence[Genesis],
        now_ms: int,
        beacons: Mapping[bytes, bytes] | None = None,
    ) -> ConsumerOutput:
        for d in deliveries:
            self.seen[d.epoch, d.position] = (d.tx, (beacons or {}).get(bytes(d.block), b""))
        return ConsumerOutput()

    def tick(self, now_ms: int) -> ConsumerOutput:
        return ConsumerOutput()

    def laces(self) -> tuple[bytes, ...]:
        return ()

    def peer_up(self, peer: bytes, now_ms: int) -> ConsumerOutput:
        return ConsumerOutput()

    def close(self) -> None:
        pass


@pytest.fixture
def genesis(monkeypatch: pytest.MonkeyPatch) -> Genesis:
    def factory(genesis: Genesis, folder: Path, signer: Signer) -> _Recorder:
        return _Recorder()

    monkeypatch.setattr(consensus_actor, "consumer_factory", lambda genesis: factory)
    return Genesis.first(b"beacon-test", Constitution.of(IDS, timeout_ms=200))


def _start(home: Path, i: int, genesis: Genesis) -> ConsensusActor:
    actor = ConsensusActor.__new__(ConsensusActor)
    actor._log = None
    actor._name = f"m{i}"
    actor.after = lambda delay, msg: None  # type: ignore[method-assign,assignment,return-value]  # timers: by hand
    actor.on_start(
        ConsensusInit(data_dir=str(home / f"m{i}"), seed=SEEDS[i], genesis=encode(genesis))
    )
    return actor


@pytest.fixture
def actors(tmp_path: Path, genesis: Genesis) -> Iterator[list[ConsensusActor]]:
    started: list[ConsensusActor] = []
    try:
        for i in range(len(PEOPLE)):
            started.append(_start(tmp_path, i, genesis))
        yield started
    finally:
        for actor in started:
            actor.on_stop()


def _recorder(actor: ConsensusActor) -> _Recorder:
    consumer: object = actor.consumer
    assert isinstance(consumer, _Recorder)
    return consumer


def _carry(actors: list[ConsensusActor]) -> int:
    """Carry every queued message to its member; how many were carried."""
    index = {IDS[i]: actor for i, actor in enumerate(actors)}
    carried = 0
    for i, actor in enumerate(actors):
        outbox, actor._outbox = actor._outbox, []
        for item in outbox:
            if isinstance(item, Outbound) and item.peer in index:
                index[item.peer].receive(Inbound(peer=IDS[i], data=item.data, friend=False), None)  # type: ignore[arg-type]
                carried += 1
    return carried


def _run_until(actors: list[ConsensusActor], done: object, limit_s: float = 30.0) -> None:
    assert callable(done)
    deadline = time.monotonic() + limit_s
    while not done():
        assert time.monotonic() < deadline, "the order did not make progress"
        if _carry(actors):
            continue
        now = time.monotonic()
        due = [a for a in actors if a.wake_at is not None and a.wake_at <= now]
        for actor in due:
            actor.receive(_Wake(generation=actor.generation), None)  # type: ignore[arg-type]
        if not due:
            time.sleep(0.01)


def test_every_node_sees_the_same_beacon_and_it_changes_between_steps(
    tmp_path: Path, genesis: Genesis, actors: list[ConsensusActor]
) -> None:
    for i, actor in enumerate(actors):
        for j in range(len(actors)):
            if j != i:
                actor.receive(PeerUp(peer=IDS[j]), None)  # type: ignore[arg-type]
    rounds = 3
    for k in range(rounds):  # one transaction at a time: each is ordered by a later step
        tx = ("tx", k)
        actors[k % len(actors)]._run(actors[k % len(actors)].core.submit(tx, time.monotonic()))
        _run_until(
            actors,
            lambda tx=tx: all(tx in {t for t, _ in _recorder(a).seen.values()} for a in actors),
        )
    views = [_recorder(a).seen for a in actors]
    positions = sorted(set.intersection(*(set(v) for v in views)))
    assert len(positions) >= rounds
    for position in positions:
        beacons = {v[position] for v in views}
        assert len(beacons) == 1, f"nodes disagree at {position}"
        ((_, beacon),) = beacons
        assert len(beacon) == 32
    ours = [
        views[0][p][1] for p in positions if views[0][p][0] in {("tx", k) for k in range(rounds)}
    ]
    assert len(set(ours)) == rounds  # a new step of the order, a new beacon

    # Anyone recomputes it from the finalized blocks: a restarted node replays them all.
    actors[0].on_stop()
    again = _start(tmp_path, 0, genesis)
    try:
        replayed = _recorder(again).replayed
        assert {p: replayed[p] for p in positions} == {p: views[0][p] for p in positions}
    finally:
        again.on_stop()
        actors[0] = _start(tmp_path, 0, genesis)  # for the fixture's on_stop


def test_the_beacon_is_blake2b_over_the_ids_of_the_anchors_blocks() -> None:
    """The formula as docs/work-kit.md gives it, for a second implementation."""
    ids = [bytes([n]) * 32 for n in range(3)]
    expected = hashlib.blake2b(b"".join(ids), digest_size=32, person=b"peoplenet-beacon").digest()
    assert anchor_beacon(ids) == expected
    assert anchor_beacon(ids[:2]) != expected

"""The anti-entropy core on the simulator: convergence under faults, hostile input refused."""

from __future__ import annotations

import pytest

from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.lace.block import Block, LaceId
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.lace_sync import LaceSync, SyncBlocks, SyncEvent, SyncHave
from peoplenet.runtime.lace.store import MemoryStore
from peoplenet.runtime.sim.simulator import LinkModel, SimNode, Simulator
from peoplenet.runtime.wire.codec import encode

LACE = LaceId(b"sync-test")


def build(
    nodes: int, seed: int, link: LinkModel, posts_each: int = 3
) -> tuple[Simulator, dict[str, MemoryStore], list[SyncEvent]]:
    sim = Simulator(seed, link)
    names = [f"n{i:03d}" for i in range(nodes)]
    stores = {n: MemoryStore() for n in names}
    events: list[SyncEvent] = []

    def factory(name: str, index: int) -> SimNode:
        rng = sim.rng_for(name)
        return LaceSync(
            name,
            Identity.from_seed(index.to_bytes(32, "big")),
            Blocklace(stores[name]),
            LACE,
            [n for n in names if n != name],
            rng,
            interval=0.2,
            posts=[(0.1 + rng.uniform(0, 3.0), f"{name} #{k}") for k in range(posts_each)],
            on_event=events.append,
        )

    for i, name in enumerate(names):
        sim.add_node(name, lambda name=name, i=i: factory(name, i))  # type: ignore[misc]
    return sim, stores, events


def orders(sim: Simulator) -> set[tuple[bytes, ...]]:
    out: set[tuple[bytes, ...]] = set()
    for name in sim.names:
        node = sim.node(name)
        assert isinstance(node, LaceSync)
        out.add(tuple(node.blocklace.iter_lace(LACE)))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_thirty_phones_converge_despite_loss_partition_and_crashes(seed: int) -> None:
    link = LinkModel(min_delay=0.01, max_delay=0.3, drop_rate=0.25, duplicate_rate=0.1)
    sim, stores, events = build(30, seed, link)
    names = sim.names
    sim.partition([names[:10], names[10:]], start=0.5, end=4.0)
    sim.crash(names[3], at=1.0)
    sim.restart(names[3], at=5.0)
    sim.crash(names[20], at=2.0)
    sim.restart(names[20], at=6.0)
    sim.run(until=40.0, stop_when=lambda s: s.now > 6.0 and len(orders(s)) == 1)
    final = orders(sim)
    assert len(final) == 1
    (order,) = final
    signed = sum(1 for e in events if e.kind == "posted")  # a phone that is off posts nothing
    assert 80 <= signed <= 90
    assert len(order) == signed  # every block anyone signed reached every phone
    assert all(len(store) == signed for store in stores.values())


def test_sync_is_deterministic_for_a_seed() -> None:
    link = LinkModel(min_delay=0.01, max_delay=0.2, drop_rate=0.2)

    def trace(seed: int) -> list[tuple[str, str, float, str, int]]:
        sim, _, events = build(8, seed, link)
        sim.run(until=8.0)
        return [(e.node, e.kind, e.at, e.peer, e.count) for e in events]

    assert trace(5) == trace(5)
    assert trace(5) != trace(6)


def test_hostile_messages_are_refused_and_the_node_goes_on() -> None:
    sim, stores, events = build(3, 9, LinkModel(min_delay=0.01, max_delay=0.02), posts_each=1)
    victim = sim.names[0]
    liar = Identity.from_seed(b"L" * 32)
    honest = Identity.from_seed((1).to_bytes(32, "big"))
    real = Block.create(liar, LACE, "mine")
    forged = Block(honest.member_id, LACE, "not mine", (), real.signature)
    sim.send_external(victim, b"\xc1garbage", at=0.05, src="x")
    sim.send_external(victim, encode(SyncBlocks(LACE, (forged,))), at=0.06, src="x")
    sim.send_external(victim, encode(SyncHave(b"other-lace", ())), at=0.07, src="x")
    sim.send_external(victim, encode({"not": "a sync message"}), at=0.08, src="x")
    sim.run(until=10.0)
    mine = [(e.kind, e.detail) for e in events if e.node == victim and e.peer == "x"]
    assert ("bad_message", "malformed") in mine
    assert ("rejected", "forged_signature") in mine
    assert mine.count(("bad_message", "unexpected")) == 2
    assert forged.id not in stores[victim]
    assert len(orders(sim)) == 1  # and syncing carried on


def test_equivocation_evidence_spreads_to_every_phone() -> None:
    sim, _, events = build(5, 4, LinkModel(min_delay=0.01, max_delay=0.1), posts_each=1)
    cheat = Identity.from_seed(b"C" * 32)
    a = Block.create(cheat, LACE, {"vote": "yes"})
    b = Block.create(cheat, LACE, {"vote": "no"})
    sim.send_external(sim.names[0], encode(SyncBlocks(LACE, (a,))), at=0.5, src="cheat")
    sim.send_external(sim.names[4], encode(SyncBlocks(LACE, (b,))), at=0.5, src="cheat")
    sim.run(until=20.0, stop_when=lambda s: s.now > 4 and len(orders(s)) == 1)
    for name in sim.names:
        node = sim.node(name)
        assert isinstance(node, LaceSync)
        assert node.blocklace.equivocators(LACE) == {cheat.member_id}
        assert a.id in node.blocklace and b.id in node.blocklace
    assert {e.node for e in events if e.kind == "equivocation"} == set(sim.names)

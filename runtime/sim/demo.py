"""``peoplenet demo``: five members' phones exchanging signed blocks over a faulty network.

Everything here is real except the network: real key pairs (one sealed in a key file and
opened again), real SQLite stores (one file per phone), real signature checks.  The network is
the deterministic simulator, with lost, duplicated and reordered messages, a partition and a
phone that crashes and restarts from its SQLite file.  A forger and an equivocator try their
luck; every honest phone refuses the one and records evidence against the other.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.keys.keyfile import load_identity, read_member_id, save_identity
from peoplenet.runtime.lace.block import Block, LaceId
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.lace_sync import LaceSync, SyncBlocks, SyncEvent
from peoplenet.runtime.lace.store import SqliteStore
from peoplenet.runtime.sim.simulator import LinkModel, SimNode, Simulator
from peoplenet.runtime.wire.codec import encode

MEMBERS = ("alice", "bob", "carol", "dave", "erin")
LACE = LaceId(b"demo/town-square")
POSTS = {
    "alice": ["Bike lane on Elm St is open", "Who can cover Saturday deliveries?"],
    "bob": ["I can take Saturday", "Fares should stay at 2.50"],
    "carol": ["New member meeting on Monday"],
    "dave": ["Back online after a flat battery"],
    "erin": ["Proposal: 10% less commission"],
}


@dataclass
class DemoResult:
    """What the demo established (checked by the tests, printed for people)."""

    blocks_per_member: dict[str, int]
    converged: bool
    order_digest: str
    forgeries_rejected: int
    equivocators_seen: dict[str, int]
    sim_time: float
    messages: int
    dropped: int
    lines: list[str] = field(default_factory=list)


def run_demo(workdir: Path, *, seed: int = 7, out: TextIO | None = None) -> DemoResult:
    """Run the scenario in ``workdir`` (SQLite files, key file) and narrate to ``out``."""
    lines: list[str] = []

    def say(text: str) -> None:
        lines.append(text)
        if out is not None:
            print(text, file=out, flush=True)

    identities = {
        name: Identity.from_seed(hashlib.sha256(name.encode()).digest()) for name in MEMBERS
    }
    say("== Peoplenet demo: members sign blocks and exchange them, phone to phone ==")

    say(_seal_and_reopen(workdir / "alice.key", identities["alice"]))
    for name in MEMBERS:
        say(f"  member {name:<5} id {identities[name].fingerprint}")

    sim = Simulator(
        seed, LinkModel(min_delay=0.01, max_delay=0.15, drop_rate=0.1, duplicate_rate=0.05)
    )
    stores: dict[str, SqliteStore] = {}
    names_of = {identities[n].member_id: n for n in MEMBERS}
    narrator = _Narrator(say)

    def factory(name: str) -> Callable[[], SimNode]:
        def make() -> SimNode:
            store = stores.get(name)
            if store is None:
                store = stores[name] = SqliteStore(workdir / f"{name}.sqlite3")
            lace = Blocklace(store)
            rng = sim.rng_for(name)
            posts = [
                (0.2 + 0.9 * i + rng.uniform(0, 0.5), text) for i, text in enumerate(POSTS[name])
            ]
            return LaceSync(
                name,
                identities[name],
                lace,
                LACE,
                [m for m in MEMBERS if m != name],
                rng,
                interval=0.3,
                posts=posts,
                on_event=narrator,
            )

        return make

    for name in MEMBERS:
        sim.add_node(name, factory(name))
    sim.partition([["alice", "bob"], ["carol", "dave", "erin"]], start=0.5, end=2.5)
    say("scheduled: the network splits {alice, bob} | {carol, dave, erin} from t=0.5s to 2.5s")
    sim.crash("dave", at=1.0)
    sim.restart("dave", at=3.0)
    say("scheduled: dave's phone dies at t=1.0s and restarts from its SQLite file at t=3.0s")
    say("scheduled: mallory forges a block in bob's name; erin signs two conflicting votes")
    _schedule_attacks(sim, identities)

    def converged(s: Simulator) -> bool:
        if s.now < 5.0 or not all(s.is_up(n) for n in MEMBERS):
            return False
        orders = {tuple(_node(s, n).blocklace.iter_lace(LACE)) for n in MEMBERS}
        return len(orders) == 1

    stats = sim.run(until=60.0, stop_when=converged)
    orders = {n: list(_node(sim, n).blocklace.iter_lace(LACE)) for n in MEMBERS}
    same = len({tuple(o) for o in orders.values()}) == 1
    digest = hashlib.blake2b(b"".join(orders["alice"]), digest_size=8).hexdigest()
    say("")
    say(f"== after {stats.now:.2f}s simulated: {stats.sent} messages sent, {stats.dropped} lost ==")
    for name in MEMBERS:
        lace = _node(sim, name).blocklace
        forks = ", ".join(sorted({names_of.get(c, "?") for c in lace.equivocators(LACE)}))
        mark = digest if orders[name] == orders["alice"] else "DIFFERENT"
        say(f"  {name:<5} holds {len(lace):2d} blocks, order {mark}, forked: {forks or 'none'}")
    say(f"all phones agree on the same blocks in the same order: {'yes' if same else 'NO'}")
    for store in stores.values():
        store.close()
    return DemoResult(
        blocks_per_member={n: len(o) for n, o in orders.items()},
        converged=same,
        order_digest=digest,
        forgeries_rejected=narrator.rejected,
        equivocators_seen=narrator.equivocations,
        sim_time=stats.now,
        messages=stats.sent,
        dropped=stats.dropped,
        lines=lines,
    )


class _Narrator:
    """Turns the phones' events into sentences, and counts the ones the demo checks."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self.rejected = 0
        self.equivocations: dict[str, int] = {}

    def __call__(self, ev: SyncEvent) -> None:
        who = f"t={ev.at:5.2f}s {ev.node:<5}"
        if ev.kind == "posted":
            self.say(f"{who} signed a post: {ev.detail!r}")
        elif ev.kind == "received":
            self.say(f"{who} got {ev.count} verified block(s) from {ev.peer}")
        elif ev.kind == "rejected":
            self.rejected += 1
            self.say(f"{who} REFUSED a block from {ev.peer}: {ev.detail}")
        elif ev.kind == "equivocation":
            self.equivocations[ev.node] = self.equivocations.get(ev.node, 0) + 1
            self.say(f"{who} caught an equivocation (two conflicting blocks, both kept)")
        else:
            self.say(f"{who} dropped a bad message from {ev.peer}: {ev.detail}")


def _seal_and_reopen(path: Path, identity: Identity) -> str:
    """Seal a key in an encrypted file and open it again, as a phone does at every start."""
    passphrase = "correct horse battery staple"  # noqa: S105 - the demo's published example
    save_identity(path, identity, passphrase)
    reopened = load_identity(path, passphrase)
    assert read_member_id(path) == reopened.member_id == identity.member_id
    return f"alice sealed her key in {path.name} and opened it again: {reopened.fingerprint}"


def _schedule_attacks(sim: Simulator, identities: dict[str, Identity]) -> None:
    """A forger claims to be bob; erin signs two conflicting blocks at one chain position."""
    mallory = Identity.from_seed(b"m" * 32)
    genuine = Block.create(mallory, LACE, {"t": "post", "text": "send me your fares"})
    forged = Block(identities["bob"].member_id, LACE, genuine.payload, (), genuine.signature)
    sim.send_external("carol", encode(SyncBlocks(LACE, (forged,))), at=1.5, src="mallory")
    fork_a = Block.create(identities["erin"], LACE, {"t": "vote", "choice": "yes"})
    fork_b = Block.create(identities["erin"], LACE, {"t": "vote", "choice": "no"})
    sim.send_external("alice", encode(SyncBlocks(LACE, (fork_a,))), at=3.5, src="erin*")
    sim.send_external("carol", encode(SyncBlocks(LACE, (fork_b,))), at=3.5, src="erin*")


def _node(sim: Simulator, name: str) -> LaceSync:
    node = sim.node(name)
    assert isinstance(node, LaceSync)
    return node


def main(out: TextIO) -> int:
    """Run the demo in a fresh temporary directory; exit status 0 if the phones converged."""
    with tempfile.TemporaryDirectory(prefix="peoplenet-demo-") as tmp:
        result = run_demo(Path(tmp), out=out)
    return 0 if result.converged else 1

"""Many members running consensus in one process, on the deterministic simulator.

:func:`run_once` builds a community of ``nodes`` members, makes ``faulty`` of them (chosen
by the seed) misbehave in one way, lets every correct member submit transactions at random
times, and runs until every correct member has delivered every correct transaction (or a
time limit).  It then checks safety -- the delivered orders of any two correct members are
prefixes of one another, nothing is delivered twice, no two conflicting blocks of an
equivocator are both delivered -- and measures latency in rounds.  :func:`run_many` sums
runs over seeds; ``peoplenet sim consensus`` prints that summary.

Faults (``docs/consensus.md`` has the details):

* ``crash`` -- the member stops for good at a random time in the first half of the run.
* ``silent`` -- the member never sends anything (it may as well not exist).
* ``equivocate`` -- every block it makes, it makes twice with different transactions, and
  sends one version to half of the members and the other to the rest.
* ``delay`` -- everything it sends arrives 2Δ to 6Δ late (slow phone, bad network).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final, Literal

from peoplenet.runtime.consensus.constitution import Constitution, Genesis
from peoplenet.runtime.consensus.core import ConsensusCore, Delivery, EpochBlocks, Output
from peoplenet.runtime.consensus.rules import WAVE_LENGTH, RoundPayload
from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.lace.block import Block, BlockId
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.store import MemoryStore
from peoplenet.runtime.sim.simulator import (
    Action,
    CancelTimer,
    LinkModel,
    Send,
    SetTimer,
    SimNode,
    Simulator,
)
from peoplenet.runtime.wire.codec import Value, encode

Fault = Literal["none", "crash", "silent", "equivocate", "delay"]
FAULTS: Final[tuple[Fault, ...]] = ("none", "crash", "silent", "equivocate", "delay")

W = WAVE_LENGTH


@dataclass(frozen=True, slots=True)
class SimConfig:
    """One simulated community and its workload."""

    nodes: int = 4
    faulty: int = 0
    fault: Fault = "none"
    txs_per_node: int = 3
    tx_window: float = 10.0
    """Correct members submit their transactions at uniform random times in [0, tx_window)."""
    timeout_ms: int = 500
    min_delay: float = 0.01
    max_delay: float = 0.1
    time_limit: float = 600.0
    restart_after: float | None = None
    """With ``crash``: a crashed member comes back this long after its crash (crash-recovery)."""

    def __post_init__(self) -> None:
        if self.nodes < 1:
            raise LocalError("need at least one node")
        if not 0 <= self.faulty <= self.nodes:
            raise LocalError("faulty must be within 0..nodes")
        if self.fault not in FAULTS:
            raise LocalError(f"fault must be one of {', '.join(FAULTS)}")
        if self.fault == "none" and self.faulty:
            raise LocalError("fault 'none' needs faulty 0")


@dataclass(slots=True)
class RunResult:
    """What one seeded run showed."""

    seed: int
    safety_violations: list[str]
    finalized_fraction: float
    """Least, over correct members, of the share of correct transactions they delivered."""
    leader_latencies: list[int]
    """Rounds from each final leader's round to the round that made it final."""
    wave_latencies: list[int]
    """Rounds from each wave's leader round to the first final leader at or after it."""
    blocks: int
    decisions: int
    quiescent: bool
    """The run ended with no event pending: an idle community sends nothing."""
    sim_time: float
    events: int


@dataclass(slots=True)
class _Durable:
    """What survives a simulated crash: the store and what was already handed on."""

    store: MemoryStore = field(default_factory=MemoryStore)
    delivered: list[Delivery] = field(default_factory=list)
    gaps: int = 0
    """Deliveries that arrived past the end of the log (something was skipped)."""
    divergent_replays: int = 0
    final_depths: dict[int, int] = field(default_factory=dict)
    epoch_start: dict[int, int] = field(default_factory=lambda: {0: 0})
    workload_delivered: int = 0
    """Deliveries of correct members' workload transactions (for the stop condition)."""


def identity_for(seed: int, index: int) -> Identity:
    digest = hashlib.blake2b(f"peoplenet-sim/{seed}/{index}".encode(), digest_size=32).digest()
    return Identity.from_seed(digest)


class ConsensusSimNode:
    """A member's :class:`ConsensusCore` as a :class:`~peoplenet.runtime.sim.simulator.SimNode`."""

    def __init__(
        self,
        name: str,
        identity: Identity,
        genesis: Genesis,
        *,
        durable: _Durable,
        names: dict[MemberId, str],
        txs: list[tuple[float, Value]],
        equivocate: bool = False,
        silent: bool = False,
    ) -> None:
        self.name = name
        self.identity = identity
        self.durable = durable
        self.blocklace = Blocklace(durable.store.reopen())
        self.core = ConsensusCore(identity, genesis, self.blocklace)
        self._names = names
        self._members = {v: k for k, v in names.items()}
        self._txs = txs
        self._equivocate = equivocate
        self._silent = silent
        self._forks = 0
        self.wake_at: float | None = None

    def start(self, now: float) -> Iterable[Action]:
        if self._silent:
            return ()  # a silent member takes part in nothing
        out = self.core.start(now)
        actions = self._actions(out)
        for i, (at, tx) in enumerate(self._txs):
            if at >= now:
                actions.append(SetTimer(f"tx:{i}", at))
            else:  # the durable queue: the core ignores what it already included
                actions.extend(self._actions(self.core.submit(tx, now)))
        return actions

    def receive(self, src: str, data: bytes, now: float) -> Iterable[Action]:
        peer = self._members.get(src)
        if peer is None or self._silent:
            return ()
        return self._actions(self.core.receive(peer, data, now))

    def timer(self, key: str, now: float) -> Iterable[Action]:
        if key == "wake":
            return self._actions(self.core.tick(now))
        if key.startswith("tx:"):
            _, tx = self._txs[int(key[3:])]
            return self._actions(self.core.submit(tx, now))
        return ()

    def _actions(self, out: Output) -> list[Action]:
        self._record(out)
        actions: list[Action] = []
        sends = out.sends
        if self._equivocate and out.created:
            sends = self._fork(out)
        actions.extend(Send(self._names[m], data) for m, data in sends if m in self._names)
        self.wake_at = out.wake_at
        actions.append(
            CancelTimer("wake") if out.wake_at is None else SetTimer("wake", out.wake_at)
        )
        return actions

    def _fork(self, out: Output) -> list[tuple[MemberId, bytes]]:
        """Send a conflicting twin of each new block to half of the members."""
        twins: dict[bytes, bytes] = {}
        for block in out.created:
            self._forks += 1
            twin = Block.create(
                self.identity,
                block.lace,
                RoundPayload((("fork", self.name, self._forks),)),
                block.pointers,
            )
            original = encode(EpochBlocks(block.lace, (block.to_bytes(),)))
            twins[original] = encode(EpochBlocks(block.lace, (twin.to_bytes(),)))
        sends: list[tuple[MemberId, bytes]] = []
        for member, data in out.sends:
            twin_data = twins.get(data)
            if twin_data is not None and member[0] & 1:
                sends.append((member, twin_data))
            else:
                sends.append((member, data))
        return sends

    def _record(self, out: Output) -> None:
        """Hand on new deliveries once each: a replay after restart must match the log."""
        log = self.durable.delivered
        starts = self.durable.epoch_start
        for ended in out.epochs:
            starts[ended.epoch + 1] = starts[ended.epoch] + ended.position + 1
        for d in out.deliveries:
            if d.epoch not in starts:  # a member that joined at a later epoch
                starts[d.epoch] = len(log) - d.position
            index = starts[d.epoch] + d.position
            if index < len(log):
                if log[index] != d:
                    self.durable.divergent_replays += 1
            elif index == len(log):
                log.append(d)
                if isinstance(d.tx, tuple) and d.tx[:1] == ("tx",):
                    self.durable.workload_delivered += 1
            else:
                self.durable.gaps += 1
        for anchor in out.finalized:
            wave = anchor.wave
            if anchor.leader == anchor.final_leader:
                self.durable.final_depths.setdefault(wave, anchor.final_at)


def run_once(
    config: SimConfig, seed: int, *, trace: Callable[[str], None] | None = None
) -> RunResult:
    """One seeded run (see the module docstring)."""
    rng = random.Random(seed)  # noqa: S311 -- simulation
    n = config.nodes
    identities = [identity_for(seed, i) for i in range(n)]
    names = {MemberId(ident.member_id): f"n{i:02d}" for i, ident in enumerate(identities)}
    constitution = Constitution.of(
        [ident.member_id for ident in identities], timeout_ms=config.timeout_ms
    )
    genesis = Genesis.first(f"sim-{seed}".encode(), constitution)
    faulty = set(rng.sample(range(n), config.faulty))
    correct = [i for i in range(n) if i not in faulty]
    sim = Simulator(seed, LinkModel(config.min_delay, config.max_delay))
    durables = [_Durable() for _ in range(n)]
    recovering = config.fault == "crash" and config.restart_after is not None
    if recovering:
        correct = list(range(n))  # crash-recovery members are correct, only slow for a while
    workloads = _workloads(config, rng, faulty, recovering)
    for i, ident in enumerate(identities):
        name = f"n{i:02d}"
        is_bad = i in faulty

        def factory(
            i: int = i, ident: Identity = ident, name: str = name, is_bad: bool = is_bad
        ) -> SimNode:
            return ConsensusSimNode(
                name,
                ident,
                genesis,
                durable=durables[i],
                names=names,
                txs=workloads[i],
                equivocate=is_bad and config.fault == "equivocate",
                silent=is_bad and config.fault == "silent",
            )

        sim.add_node(name, factory)
    _inject_faults(sim, config, rng, faulty)
    expected = {("tx", i, k) for i in correct for k in range(config.txs_per_node)}

    def done(_: Simulator) -> bool:
        return all(durables[i].workload_delivered >= len(expected) for i in correct)

    stats = sim.run(until=config.time_limit, stop_when=done)
    settle = sim.run(until=min(sim.now + 60.0, config.time_limit + 60.0))
    live = [sim.node(f"n{i:02d}") for i in correct]
    quiescent = all(
        isinstance(node, ConsensusSimNode) and not node.core.active and node.wake_at is None
        for node in live
    )
    violations = _safety(durables, correct, live)
    fractions = []
    for i in correct:
        seen = {d.tx for d in durables[i].delivered}
        fractions.append(len([t for t in expected if t in seen]) / max(1, len(expected)))
    reference = durables[correct[0]] if correct else durables[0]
    leader_lat = [depth - W * wave + 1 for wave, depth in sorted(reference.final_depths.items())]
    wave_lat = _wave_latencies(reference.final_depths)
    node0 = sim.node(f"n{correct[0]:02d}") if correct else None
    blocks = len(node0.blocklace) if isinstance(node0, ConsensusSimNode) else 0
    decisions = len({_key(d) for d in reference.delivered})
    if trace is not None:
        trace(f"seed {seed}: {stats.events} events, t={settle.now:.1f}")
    return RunResult(
        seed,
        violations,
        min(fractions) if fractions else 1.0,
        leader_lat,
        wave_lat,
        blocks,
        decisions,
        quiescent,
        settle.now,
        settle.events,
    )


def _workloads(
    config: SimConfig, rng: random.Random, faulty: set[int], recovering: bool
) -> list[list[tuple[float, Value]]]:
    """Each member's (time, transaction) list; a faulty member's are not required to land."""
    out: list[list[tuple[float, Value]]] = []
    for i in range(config.nodes):
        if i in faulty and not recovering:
            out.append([(rng.uniform(0, config.tx_window), ("bad", i, k)) for k in range(2)])
        else:
            times = sorted(rng.uniform(0, config.tx_window) for _ in range(config.txs_per_node))
            out.append([(t, ("tx", i, k)) for k, t in enumerate(times)])
    return out


def _inject_faults(sim: Simulator, config: SimConfig, rng: random.Random, faulty: set[int]) -> None:
    """Crashes and slow links (silent and equivocating members are built that way)."""
    delta = config.timeout_ms / 1000.0
    for i in sorted(faulty):
        name = f"n{i:02d}"
        if config.fault == "crash":
            crash_at = rng.uniform(0, config.tx_window / 2)
            sim.crash(name, crash_at)
            if config.restart_after is not None:
                sim.restart(name, crash_at + config.restart_after)
        elif config.fault == "delay":
            slow = LinkModel(2 * delta, 6 * delta)
            for other in range(config.nodes):
                if other != i:
                    sim.set_link(name, f"n{other:02d}", slow)


def _key(d: Delivery) -> bytes:
    return encode((d.epoch, d.position))


def _wave_latencies(final_depths: dict[int, int]) -> list[int]:
    """For each wave up to the last final one: rounds until the next final leader."""
    if not final_depths:
        return []
    out: list[int] = []
    waves = sorted(final_depths)
    for wave in range(waves[-1] + 1):
        nxt = min(w for w in waves if w >= wave)
        out.append(final_depths[nxt] - W * wave + 1)
    return out


def _safety(durables: list[_Durable], correct: list[int], live: list[SimNode | None]) -> list[str]:
    """Every way the run could have broken safety, described (empty: none)."""
    problems: list[str] = []
    logs = {i: durables[i].delivered for i in correct}
    for i in correct:
        if durables[i].gaps or durables[i].divergent_replays:
            problems.append(f"n{i:02d}: a replay after restart diverged or skipped")
        keys = [(d.epoch, d.position) for d in logs[i]]
        if len(set(keys)) != len(keys):
            problems.append(f"n{i:02d}: a position delivered twice")
    for a_i, a in enumerate(correct):
        for b in correct[a_i + 1 :]:
            la, lb = logs[a], logs[b]
            short = min(len(la), len(lb))
            if la[:short] != lb[:short]:
                problems.append(f"n{a:02d} and n{b:02d} delivered different orders")
    for i, node in zip(correct, live, strict=True):
        if not isinstance(node, ConsensusSimNode):
            continue
        slots: dict[tuple[bytes, bytes, int], BlockId] = {}
        for d in logs[i]:
            meta = node.blocklace.meta(d.block)
            slot = (meta.lace, meta.creator, meta.seq)
            if slots.setdefault(slot, d.block) != d.block:
                problems.append(f"n{i:02d}: delivered two conflicting blocks of one creator")
                break
    return problems


@dataclass(frozen=True, slots=True)
class Summary:
    """``peoplenet sim consensus --json``: the contract is exactly these keys."""

    runs: int
    safety_violations: int
    finalized_min: float
    good_case_latency_rounds: float
    expected_latency_rounds: float
    blocks_per_decision: float

    def as_json(self) -> dict[str, int | float]:
        return {
            "runs": self.runs,
            "safety_violations": self.safety_violations,
            "finalized_min": self.finalized_min,
            "good_case_latency_rounds": self.good_case_latency_rounds,
            "expected_latency_rounds": self.expected_latency_rounds,
            "blocks_per_decision": self.blocks_per_decision,
        }


def run_many(
    config: SimConfig, seeds: Iterable[int], *, trace: Callable[[str], None] | None = None
) -> tuple[Summary, list[RunResult]]:
    results = [run_once(config, seed, trace=trace) for seed in seeds]
    leader = [x for r in results for x in r.leader_latencies]
    waves = [x for r in results for x in r.wave_latencies]
    blocks = sum(r.blocks for r in results)
    decisions = sum(r.decisions for r in results)
    summary = Summary(
        runs=len(results),
        safety_violations=sum(1 for r in results if r.safety_violations),
        finalized_min=min((r.finalized_fraction for r in results), default=1.0),
        good_case_latency_rounds=round(sum(leader) / len(leader), 3) if leader else 0.0,
        expected_latency_rounds=round(sum(waves) / len(waves), 3) if waves else 0.0,
        blocks_per_decision=round(blocks / decisions, 3) if decisions else 0.0,
    )
    return summary, results

"""Consensus benchmark: N saturated members in one process, CPU per block vs signature checks.

Every member runs its own :class:`~peoplenet.runtime.consensus.core.ConsensusCore` over its own
:class:`~peoplenet.runtime.lace.blocklace.Blocklace` and
:class:`~peoplenet.runtime.lace.store.MemoryStore`.  Messages travel
as bytes with no latency, so every receiver decodes and signature-checks every block, exactly
as a real node does.  Delivery goes in waves: everything queued is handed over, each receiver
taking its own messages together, in the order they were sent, through
:meth:`~peoplenet.runtime.consensus.core.ConsensusCore.receive_many` -- as a node that drains its
inbox
does.  (Per receiver the order is the send order, which keeps causal order: nothing is
buffered.  ``per_message=True`` hands messages over one by one in one global FIFO instead, the
costliest schedule: one step per message, and N members' data interleaved in the CPU caches,
which a real node, holding only its own, never suffers.)  Time is virtual: it advances only
when the queue is empty and some member's timer is due, so Δ never costs wall time.  Every
member always has transactions pending (topped up to ``txs_per_block`` whenever it creates a
block), so every block carries transactions.

The ceiling is the raw cost of the signature checks the run implies: ``N`` verifications
(``peoplenet.runtime.keys.identity.verify``, timed on the run's own blocks each time member 0
finalizes some,
so under the same load as the run) per finalized block.
``ratio = cpu_ms_per_block / verify_ms_per_block_all_nodes``: consensus work beyond the checks
stays below the checks themselves while ``ratio <= 2``.

``finalized_tx_per_s`` is transactions ordered (at one member) per CPU second of the run (the
run is single-threaded, so on an otherwise idle core that is its wall-clock rate), with all N
members sharing this one process: a lower bound for what one member's core could sustain.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from peoplenet.runtime.consensus.constitution import Constitution, Genesis
from peoplenet.runtime.consensus.core import ConsensusCore, Output
from peoplenet.runtime.consensus.rules import WAVE_LENGTH
from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.kernel.gc_tuning import tuned_gc
from peoplenet.runtime.keys.identity import Identity, MemberId, verify
from peoplenet.runtime.lace.block import Block, BlockId
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.store import MemoryStore

TXS_PER_BLOCK: Final = 8
"""Transactions each member adds before each of its blocks (small tuples, ~20 bytes)."""
TIMEOUT_MS: Final = 1000
VERIFY_SAMPLE: Final = 64
"""Blocks (the newest finalized) whose signature checks are timed at each finalization."""
VERIFY_PASS_SECONDS: Final = 0.01
"""CPU time spent timing signature checks at each finalization (left out of the run's)."""
MAX_VIRTUAL_SECONDS: Final = 3600.0


def target_blocks(nodes: int) -> int:
    """Blocks to finalize in the measured window: 40 waves for N=4, 20 for 16, 4 for 64.

    Per-block work grows with N (every block is checked by N members and points to N
    blocks), so fewer waves at large N keep N=64 well within a minute on a small machine.
    """
    waves = max(4, min(40, 5120 // (nodes * nodes)))
    return nodes * WAVE_LENGTH * waves


@dataclass(slots=True)
class _Member:
    index: int
    core: ConsensusCore
    blocklace: Blocklace
    wake_at: float | None = None
    next_tx: int = 0
    order: list[BlockId] = field(default_factory=list)
    """Blocks in the order this member finalized them."""
    txs: int = 0
    """Transactions delivered in order."""


@dataclass(frozen=True, slots=True)
class _Mark:
    """Member 0's progress when it finalized something: CPU time, blocks and txs so far."""

    cpu_s: float
    blocks: int
    txs: int


@dataclass(slots=True)
class RunStats:
    """Everything one run measured (``as_json`` reduces it to the JSON contract).

    ``finalized_blocks``, ``finalized_txs`` and ``cpu_s`` cover the measured window: from
    member 0's first finalization to its last one, so that the pipeline of blocks made but not
    yet final is about as full at both ends and the figures are steady-state ones.
    """

    nodes: int
    finalized_blocks: int
    finalized_txs: int
    cpu_s: float
    verify_s: float
    """CPU seconds of one ``verify`` of one block's signature."""
    orders: list[list[BlockId]]
    """Each member's finalized blocks, in order (the whole run)."""
    messages: int
    wall_s: float
    """Wall-clock seconds of the whole run (for information: the machine may be shared)."""

    def as_json(self) -> dict[str, int | float]:
        cpu_ms = self.cpu_s * 1000 / self.finalized_blocks
        verify_all_ms = self.nodes * self.verify_s * 1000
        return {
            "nodes": self.nodes,
            "finalized_tx_per_s": round(self.finalized_txs / self.cpu_s, 1),
            "finalized_blocks": self.finalized_blocks,
            "cpu_ms_per_block": round(cpu_ms, 3),
            "verify_ms_per_block_all_nodes": round(verify_all_ms, 3),
            "ratio": round(cpu_ms / verify_all_ms, 3),
        }


def identity_for(seed: int, index: int) -> Identity:
    digest = hashlib.blake2b(f"peoplenet-bench/{seed}/{index}".encode(), digest_size=32).digest()
    return Identity.from_seed(digest)


class _Community:
    """N members wired through one FIFO queue of ``(sender, receiver, bytes)``."""

    def __init__(
        self, nodes: int, seed: int, txs_per_block: int, *, per_message: bool = False
    ) -> None:
        identities = [identity_for(seed, i) for i in range(nodes)]
        constitution = Constitution.of(
            [ident.member_id for ident in identities], timeout_ms=TIMEOUT_MS
        )
        genesis = Genesis.first(f"bench-{seed}".encode(), constitution)
        self.members: list[_Member] = []
        for i, ident in enumerate(identities):
            blocklace = Blocklace(MemoryStore())
            self.members.append(_Member(i, ConsensusCore(ident, genesis, blocklace), blocklace))
        self.index = {MemberId(ident.member_id): i for i, ident in enumerate(identities)}
        self.ids = [MemberId(ident.member_id) for ident in identities]
        self.queue: deque[tuple[int, int, bytes]] = deque()
        self.now = 0.0
        self.messages = 0
        self.marks: list[_Mark] = []
        """Member 0's progress at each of its finalizations."""
        self.verifies = 0
        self.verify_cpu_s = 0.0
        """Signature checks timed for the ceiling, and their CPU time (not the run's)."""
        self._txs_per_block = txs_per_block
        self._per_message = per_message

    def start(self) -> None:
        """Start every core, let their catch-up requests pass, then hand out transactions."""
        for member in self.members:
            self.handle(member, member.core.start(self.now))
        while self.queue:  # answered before any block exists: nothing to send back
            self.step()
        for member in self.members:
            self.top_up(member)

    def top_up(self, member: _Member) -> bool:
        """Give the member a fresh batch of transactions for its next block; False if it had one.

        A community of one makes a block the moment it gets a transaction, so at most one block
        comes out of one top-up (it used to refill for ever).
        """
        core = member.core
        made = core.blocks_created
        submitted = False
        while (short := self._txs_per_block - core.pending_count) > 0:
            first = member.next_tx
            member.next_tx += short
            txs = [("tx", member.index, i) for i in range(first, first + short)]
            self.handle(member, core.submit_many(txs, self.now), refill=False)
            submitted = True
            if core.blocks_created != made:
                break
        return submitted

    def handle(self, member: _Member, out: Output, *, refill: bool = True) -> None:
        src = member.index
        index = self.index
        self.queue.extend((src, index[peer], data) for peer, data in out.sends)
        member.txs += len(out.deliveries)
        if out.finalized:
            for anchor in out.finalized:
                member.order.extend(anchor.blocks)
            if src == 0:
                self._mark(member, out)
        member.wake_at = out.wake_at
        if out.created and refill:
            self.top_up(member)

    def _mark(self, member: _Member, out: Output) -> None:
        """Note member 0's progress, then time ``verify`` on the blocks it just finalized.

        Sampling the ceiling all along the run, under the same load as the run itself, keeps
        the ratio fair on a busy machine; the sampling's own CPU time is left out of the run's.
        """
        cpu = time.process_time() - self.verify_cpu_s
        self.marks.append(_Mark(cpu, len(member.order), member.txs))
        fresh = [b for anchor in out.finalized for b in anchor.blocks][-VERIFY_SAMPLE:]
        blocks = [member.blocklace.get(b) for b in fresh]
        if blocks:
            start = time.process_time()
            self.verifies += verify_blocks(blocks, VERIFY_PASS_SECONDS)
            self.verify_cpu_s += time.process_time() - start

    def step(self) -> bool:
        """Deliver queued messages, or fire the earliest timers; False when nothing is left."""
        if self.queue:
            if self._per_message:
                src, dst, data = self.queue.popleft()
                self.messages += 1
                member = self.members[dst]
                self.handle(member, member.core.receive(self.ids[src], data, self.now))
                return True
            self._deliver_wave()
            return True
        due = [m.wake_at for m in self.members if m.wake_at is not None]
        if not due:  # all quiet: only a community of one gets here with work still to give
            topped = [self.top_up(m) for m in self.members]  # every one, no short cut
            return any(topped)
        self.now = max(self.now, min(due))
        for member in self.members:
            if member.wake_at is not None and member.wake_at <= self.now:
                self.handle(member, member.core.tick(self.now))
        return True

    def _deliver_wave(self) -> None:
        """Hand every queued message over, each receiver's together (what they send waits)."""
        inboxes: dict[int, list[tuple[MemberId, bytes]]] = {}
        ids = self.ids
        for src, dst, data in self.queue:
            inbox = inboxes.get(dst)
            if inbox is None:
                inboxes[dst] = inbox = []
            inbox.append((ids[src], data))
        self.queue.clear()
        for dst in sorted(inboxes):
            inbox = inboxes[dst]
            self.messages += len(inbox)
            member = self.members[dst]
            self.handle(member, member.core.receive_many(inbox, self.now))


def simulate(
    nodes: int,
    *,
    blocks: int | None = None,
    seconds: float | None = None,
    seed: int = 0,
    txs_per_block: int = TXS_PER_BLOCK,
    per_message: bool = False,
    on_start: Callable[[], None] | None = None,
) -> RunStats:
    """Run until ``blocks`` more are finalized after the first, or ``seconds`` of wall time.

    Either way the run goes on until member 0 has finalized twice (the window needs two
    ends).  ``per_message`` delivers one message per call, in one global FIFO (see the module
    docstring).  ``on_start`` is called once the community is built, right before the run (a
    profiler hook).  Raises :class:`LocalError` if the community stops before that.
    """
    if nodes < 1:
        raise LocalError("need at least one node")
    if txs_per_block < 1:
        raise LocalError("txs_per_block must be positive")
    goal = target_blocks(nodes) if blocks is None else blocks
    community = _Community(nodes, seed, txs_per_block, per_message=per_message)
    marks = community.marks
    if on_start is not None:
        on_start()
    wall0 = time.perf_counter()
    deadline = None if seconds is None else wall0 + seconds
    community.start()
    seen = 0
    while community.now < MAX_VIRTUAL_SECONDS and community.step():
        if len(marks) == seen:
            continue
        seen = len(marks)
        done = marks[-1].blocks - marks[0].blocks
        if done >= goal or (done and deadline is not None and time.perf_counter() >= deadline):
            break
    wall_s = time.perf_counter() - wall0
    if len(marks) < 2 or marks[-1].blocks == marks[0].blocks:
        raise LocalError("the community stopped before finalizing twice")
    first, last = marks[0], marks[-1]
    return RunStats(
        nodes=nodes,
        finalized_blocks=last.blocks - first.blocks,
        finalized_txs=last.txs - first.txs,
        cpu_s=last.cpu_s - first.cpu_s,
        verify_s=community.verify_cpu_s / community.verifies,
        orders=[m.order for m in community.members],
        messages=community.messages,
        wall_s=wall_s,
    )


def verify_blocks(blocks: list[Block], seconds: float) -> int:
    """Check the blocks' signatures over and over for ``seconds`` of CPU; how many checks."""
    items = [(b.creator, b.id, b.signature) for b in blocks]
    done = 0
    start = time.process_time()
    while True:
        for creator, bid, signature in items:
            if not verify(creator, bid, signature):
                raise LocalError("a block of the run does not verify")
        done += len(items)
        if time.process_time() - start >= seconds:
            return done


def run(nodes: int, *, seconds: float | None = None, seed: int = 0) -> dict[str, int | float]:
    """``peoplenet bench consensus --nodes N --json``: exactly the keys of the contract.

    The members run with the collector settings of a node's process (runtime/kernel/gc_tuning.py).
    """
    with tuned_gc():
        return simulate(nodes, seconds=seconds, seed=seed).as_json()

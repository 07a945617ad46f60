"""A cooperative deciding at scale, end to end: every member a consensus participant.

Why: the decision rule and the fold are tested transaction by transaction; this runs the
whole path -- each member's :class:`~peoplenet.runtime.consensus.core.ConsensusCore` in the
deterministic simulator, and its own :class:`~peoplenet.actors.governance.fold.Governance` fold over
what consensus delivers -- for a community of ``members`` deciding a rate, a budget and a
board at once, and checks that every member ends in the same state and that each outcome is
what the pure rule gives on the ballots cast.

The scenario: member 0 opens the three decisions at :data:`OPEN_AT_S`; every member, on
folding an opening, votes a ballot drawn from its own seeded stream around a community-wide
profile (a preferred rate, budget weights, candidate popularity); once its own clock passes
a deadline it submits ``Close`` (again every :data:`CLOSE_RETRY_MS` while the decision stays
open, as ``actors/coop/consumer.py`` does).  Simulated time in ms is every ``GovTx.at``.
The run stops when every member has folded all three closings, then goes on until the
network is idle, so all members have folded the same transactions when digests are compared.

The ceiling figure follows ``bench/consensus.py``: CPU per finalized block (the whole run:
consensus, folds and simulator) against ``N`` raw Ed25519 checks of one block's signature.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Final

from peoplenet.actors.governance.charter import (
    BoardSubject,
    BudgetSubject,
    Charter,
    Founding,
    RateSubject,
    community_id,
    found,
    fraction_text,
)
from peoplenet.actors.governance.decision import DecisionInput, DecisionOutcome, decide
from peoplenet.actors.governance.fold import Governance
from peoplenet.actors.governance.records import Action as GovAction
from peoplenet.actors.governance.records import Close, GovTx, Open, Vote, point_from_wire
from peoplenet.actors.governance.state import DecisionState, to_json
from peoplenet.bench.consensus import verify_blocks
from peoplenet.runtime.consensus.constitution import Constitution, Genesis
from peoplenet.runtime.consensus.core import ConsensusCore, Output
from peoplenet.runtime.consensus.rules import WAVE_LENGTH
from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.lace.block import BlockId
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
from peoplenet.runtime.wire.codec import Value

RATE: Final = "commission"
BUDGET: Final = "spending"
BOARD: Final = "board"
DECISIONS: Final = 3
"""The rate, the budget and the board."""
RATE_LO, RATE_HI, RATE_STEP, RATE_INITIAL = "0", "30", "1/2", "10"
RATE_PREFERRED: Final = 15.0
"""Where the members' rate ballots centre (spread :data:`RATE_SPREAD`), in the rate's units."""
RATE_SPREAD: Final = 4.0
BUDGET_PER_ITEM: Final = 100
"""The budget total is this times the number of items; the status quo splits it evenly."""
VOTING_PERIOD_MS: Final = 20_000
TIMEOUT_MS: Final = 500
"""Consensus Δ."""
OPEN_AT_S: Final = 0.01
CLOSE_RETRY_MS: Final = 5_000
SETTLE_S: Final = 120.0
"""How long the run may go on after the last closing, to let the network fall idle."""
TIME_LIMIT_S: Final = 600.0
VERIFY_SECONDS: Final = 0.01
"""CPU spent timing signature checks at each sample (left out of the run's)."""
VERIFY_SAMPLE: Final = 64


@dataclass(frozen=True, slots=True)
class Scenario:
    """The community and its three decisions."""

    members: int
    seed: int
    budget_items: int
    board_size: int
    board_candidates: int
    voting_period_ms: int = VOTING_PERIOD_MS

    def __post_init__(self) -> None:
        if self.members < 1:
            raise LocalError("need at least one member")
        if self.budget_items < 1:
            raise LocalError("need at least one budget item")
        if not 1 <= self.board_size <= self.board_candidates:
            raise LocalError("need 1 <= board_size <= board_candidates")

    @property
    def items(self) -> tuple[str, ...]:
        return tuple(f"item{i:02d}" for i in range(self.budget_items))

    @property
    def candidates(self) -> tuple[str, ...]:
        return tuple(f"cand{i:02d}" for i in range(self.board_candidates))

    @property
    def budget_total(self) -> int:
        return BUDGET_PER_ITEM * self.budget_items

    def charter(self) -> Charter:
        n, total = self.budget_items, self.budget_total
        even = tuple(total // n + (1 if i < total % n else 0) for i in range(n))
        return Charter(
            voting_period_ms=self.voting_period_ms,
            rates=(RateSubject(RATE, RATE_LO, RATE_HI, RATE_STEP, RATE_INITIAL),),
            budgets=(BudgetSubject(BUDGET, self.items, total, even),),
            boards=(BoardSubject(BOARD, self.board_size),),
        )

    def openings(self) -> tuple[Open, ...]:
        return (
            Open("rate", RATE, (), None, None),
            Open("budget", BUDGET, (), None, None),
            Open("board", BOARD, self.candidates, None, None),
        )


def identity_for(seed: int, index: int) -> Identity:
    digest = hashlib.blake2b(f"peoplenet-govscale/{seed}/{index}".encode(), digest_size=32)
    return Identity.from_seed(digest.digest())


def ballots_for(scenario: Scenario) -> list[dict[str, Value]]:
    """Each member's wire ballot per kind, drawn around one community-wide profile."""
    profile = random.Random(f"peoplenet-govscale/{scenario.seed}/profile")
    weights = [profile.uniform(0.5, 2.0) for _ in scenario.items]
    popularity = [profile.uniform(0.2, 1.0) for _ in scenario.candidates]
    hi, step = Fraction(RATE_HI), Fraction(RATE_STEP)
    out: list[dict[str, Value]] = []
    for i in range(scenario.members):
        rng = random.Random(f"peoplenet-govscale/{scenario.seed}/member/{i}")
        steps = round(rng.gauss(RATE_PREFERRED, RATE_SPREAD) / step)
        rate = min(hi, max(Fraction(0), steps * step))
        counts = [0] * scenario.budget_items
        for item in rng.choices(range(scenario.budget_items), weights, k=scenario.budget_total):
            counts[item] += 1
        left = list(range(scenario.board_candidates))
        chosen: list[str] = []
        for _ in range(scenario.board_size):
            pick = rng.choices(left, [popularity[c] for c in left])[0]
            left.remove(pick)
            chosen.append(scenario.candidates[pick])
        out.append(
            {"rate": fraction_text(rate), "budget": tuple(counts), "board": tuple(sorted(chosen))}
        )
    return out


def node_name(index: int) -> str:
    return f"m{index:03d}"


def ms(now: float) -> int:
    """Simulated seconds as the ms clock every ``GovTx.at`` carries."""
    return round(now * 1000)


@dataclass(slots=True)
class Tally:
    """What one member's shell saw, for the report."""

    delivered: int = 0
    closed: int = 0
    finalized_blocks: int = 0
    votes_cast: int = 0
    closes_sent: int = 0
    fold_cpu_s: float = 0.0
    ballots_seen_at: float | None = None
    """When this member had folded every member's ballot on every decision."""
    last_finalized: list[BlockId] = field(default_factory=list)
    """The newest blocks finalized (up to :data:`VERIFY_SAMPLE`), for the ceiling's timing."""
    rejections: Counter[str] = field(default_factory=Counter)
    """Refused transactions by reason (every member closes, so most closings come late)."""


class MemberNode:
    """One member as a :class:`~peoplenet.runtime.sim.simulator.SimNode`: its consensus core and its
    own fold."""

    def __init__(
        self,
        identity: Identity,
        founding: Founding,
        genesis: Genesis,
        *,
        names: dict[MemberId, str],
        ballots: dict[str, Value],
        openings: tuple[Open, ...] = (),
    ) -> None:
        self.blocklace = Blocklace(MemoryStore())
        self.core = ConsensusCore(identity, genesis, self.blocklace)
        self.governance = Governance(founding, genesis)
        self.tally = Tally()
        self._names = names
        self._members = {v: k for k, v in names.items()}
        self._ballots = ballots
        self._openings = openings
        self._close_asked: dict[int, int] = {}
        self.wake_at: float | None = None

    # -- the SimNode protocol -----------------------------------------------------------------

    def start(self, now: float) -> Iterable[Action]:
        actions = self._carry_out(self.core.start(now), now)
        if self._openings:
            actions.append(SetTimer("open", OPEN_AT_S))
        return actions

    def receive(self, src: str, data: bytes, now: float) -> Iterable[Action]:
        peer = self._members.get(src)
        if peer is None:
            return ()
        return self._carry_out(self.core.receive(peer, data, now), now)

    def timer(self, key: str, now: float) -> Iterable[Action]:
        if key == "wake":
            return self._carry_out(self.core.tick(now), now)
        if key == "open":
            return self._carry_out(self._submit(list(self._openings), now), now)
        if key == "close":
            return self._carry_out(self._submit(self._closes(ms(now)), now), now)
        return ()

    # -- shell ----------------------------------------------------------------------------

    def _submit(self, actions: list[GovAction], now: float) -> Output:
        merged = Output()
        for action in actions:
            out = self.core.submit(GovTx(ms(now), action), now)
            merged.sends.extend(out.sends)
            merged.deliveries.extend(out.deliveries)
            merged.epochs.extend(out.epochs)
            merged.created.extend(out.created)
            merged.rejected.extend(out.rejected)
            merged.finalized.extend(out.finalized)
            merged.wake_at = out.wake_at
        return merged

    def _carry_out(self, out: Output, now: float) -> list[Action]:
        """Send, fold the deliveries, vote on what opened; again for what that submits."""
        actions: list[Action] = []
        while True:
            actions.extend(Send(self._names[m], data) for m, data in out.sends)
            self.wake_at = out.wake_at  # each call recomputes it whole: the last one holds
            if out.finalized:
                fresh = [b for a in out.finalized for b in a.blocks]
                self.tally.finalized_blocks += len(fresh)
                self.tally.last_finalized = fresh[-VERIFY_SAMPLE:]
            votes = self._fold(out, now)
            if not votes:
                break
            out = self._submit(votes, now)
        actions.append(
            CancelTimer("wake") if self.wake_at is None else SetTimer("wake", self.wake_at)
        )
        due = self._close_due()
        actions.append(CancelTimer("close") if due is None else SetTimer("close", due / 1000))
        return actions

    def _fold(self, out: Output, now: float) -> list[GovAction]:
        votes: list[GovAction] = []
        if not out.deliveries:
            return votes
        tally, state = self.tally, self.governance.state
        started = time.process_time()
        for d in out.deliveries:
            if d.epoch != 0:
                raise LocalError("the scenario never amends the constitution")
            applied = self.governance.apply(d.epoch, d.position, d.creator, d.tx)
            tally.delivered += 1
            if applied.rejection is not None:
                tally.rejections[applied.rejection.reason] += 1
            if applied.opened is not None:
                decision = state.decision(applied.opened)
                assert decision is not None
                ballot = self._ballots.get(decision.kind)
                if ballot is not None:
                    votes.append(Vote(decision.number, ballot))
            tally.closed += len(applied.closed)
        tally.fold_cpu_s += time.process_time() - started
        tally.votes_cast += len(votes)
        if tally.ballots_seen_at is None and _all_ballots_in(state.decisions, len(self._names)):
            tally.ballots_seen_at = now
        return votes

    def _closes(self, now_ms: int) -> list[GovAction]:
        """``Close`` for every open decision whose deadline (or retry time) has come."""
        closes: list[GovAction] = []
        for d in self.governance.state.open_decisions():
            asked = self._close_asked.get(d.number)
            due = d.deadline if asked is None else asked + CLOSE_RETRY_MS
            if now_ms >= due:
                self._close_asked[d.number] = now_ms
                closes.append(Close(d.number))
        self.tally.closes_sent += len(closes)
        return closes

    def _close_due(self) -> int | None:
        """The ms time of the next ``Close`` this member owes (None: none is open)."""
        times = []
        for d in self.governance.state.open_decisions():
            asked = self._close_asked.get(d.number)
            times.append(d.deadline if asked is None else asked + CLOSE_RETRY_MS)
        return min(times) if times else None


def _all_ballots_in(decisions: list[DecisionState], members: int) -> bool:
    return len(decisions) >= DECISIONS and all(len(d.ballots) == members for d in decisions)


# -- the run --------------------------------------------------------------------------------


@dataclass(slots=True)
class Community:
    """The founded community, its members' nodes and the ballots they cast."""

    scenario: Scenario
    founding: Founding
    nodes: list[MemberNode]
    ballots: list[dict[str, Value]]


def build(scenario: Scenario) -> Community:
    identities = [identity_for(scenario.seed, i) for i in range(scenario.members)]
    founding = found("scale-coop", scenario.charter(), identities, at=0)
    constitution = Constitution.of(founding.founders, timeout_ms=TIMEOUT_MS)
    genesis = Genesis.first(community_id(founding), constitution)
    names = {MemberId(ident.member_id): node_name(i) for i, ident in enumerate(identities)}
    ballots = ballots_for(scenario)
    nodes = [
        MemberNode(
            ident,
            founding,
            genesis,
            names=names,
            ballots=ballots[i],
            openings=scenario.openings() if i == 0 else (),
        )
        for i, ident in enumerate(identities)
    ]
    return Community(scenario, founding, nodes, ballots)


def recompute(community: Community, decision: DecisionState) -> DecisionOutcome:
    """The decision's outcome by the pure rule, straight from the ballots the members cast."""
    charter = community.founding.charter
    kind, subject = decision.kind, decision.subject
    declared = charter.subject(kind, subject)
    params: dict[str, object]
    if isinstance(declared, BoardSubject):
        params = {"candidates": community.scenario.candidates, "k": declared.size}
    else:
        assert isinstance(declared, RateSubject | BudgetSubject)
        params = declared.params()
    return decide(
        DecisionInput(
            kind=kind,
            members=community.scenario.members,
            status_quo=charter.initial_values()[kind, subject],
            threshold=charter.threshold_for(kind),
            sybil_estimate=charter.sigma,
            ballots=tuple(point_from_wire(kind, b[kind]) for b in community.ballots),
            proposals=(),
            params=params,
        )
    )


def _report_decision(community: Community, d: DecisionState) -> dict[str, object]:
    pure = recompute(community, d)
    fold = DecisionOutcome(d.outcome, d.adopted, d.support, d.score)
    return {
        "number": d.number,
        "kind": d.kind,
        "subject": d.subject,
        "status": d.status,
        "adopted": d.adopted,
        "applied": d.applied,
        "outcome": to_json(d.outcome),
        "support": fraction_text(d.support),
        "score": fraction_text(d.score),
        "ballots": len(d.ballots),
        "eligible": len(d.eligible),
        "status_quo": to_json(d.status_quo_at_open),
        "deadline_ms": d.deadline,
        "closed_at_ms": d.closed_at,
        "equals_pure_rule": pure == fold,
    }


class VerifySampler:
    """Times raw signature checks of the run's newest blocks at each wave member 0 finalizes.

    Sampling all along the run, under the run's own load, keeps the ratio fair on a busy
    machine (as ``bench/consensus.py`` does); the sampling's CPU is left out of the run's.
    """

    def __init__(self, node: MemberNode, every: int) -> None:
        self._node = node
        self._every = every
        self._next = every
        self.checks = 0
        self.cpu_s = 0.0

    def __call__(self) -> None:
        tally = self._node.tally
        if tally.finalized_blocks < self._next:
            return
        self._next = tally.finalized_blocks + self._every
        blocks = [self._node.blocklace.get(b) for b in tally.last_finalized]
        start = time.process_time()
        self.checks += verify_blocks(blocks, VERIFY_SECONDS)
        self.cpu_s += time.process_time() - start

    @property
    def verify_ms(self) -> float:
        """One check of one block's signature, in ms (NaN: nothing was finalized)."""
        return self.cpu_s * 1000 / self.checks if self.checks else math.nan


def run(
    members: int = 100,
    *,
    seed: int = 0,
    budget_items: int = 20,
    board_size: int = 7,
    board_candidates: int = 15,
    voting_period_ms: int = VOTING_PERIOD_MS,
) -> dict[str, object]:
    """Found, open, vote, close, settle; check and measure; a JSON-ready report."""
    scenario = Scenario(members, seed, budget_items, board_size, board_candidates, voting_period_ms)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    community = build(scenario)
    setup_cpu = time.process_time() - cpu0
    nodes = community.nodes
    sim = Simulator(seed, LinkModel())
    for i, node in enumerate(nodes):

        def factory(node: MemberNode = node) -> SimNode:
            return node  # nobody crashes: one incarnation each

        sim.add_node(node_name(i), factory)

    sampler = VerifySampler(nodes[0], members * WAVE_LENGTH)

    def all_closed(_: Simulator) -> bool:
        sampler()
        return all(n.tally.closed >= DECISIONS for n in nodes)

    def sample(_: Simulator) -> bool:
        sampler()
        return False

    cpu1 = time.process_time()
    closing = sim.run(until=TIME_LIMIT_S, stop_when=all_closed)
    closed_at = sim.now
    settled = sim.run(until=sim.now + SETTLE_S, stop_when=sample)
    cpu_s = time.process_time() - cpu1 - sampler.cpu_s
    verify_ms = sampler.verify_ms
    wall_s = time.perf_counter() - wall0

    if closing.stop_reason != "stop_when":
        raise LocalError(f"the decisions did not all close by t={TIME_LIMIT_S} s")
    digests = {n.governance.state.digest() for n in nodes}
    delivered = {n.tally.delivered for n in nodes}
    state = nodes[0].governance.state
    decisions = [_report_decision(community, d) for d in state.decisions]
    finalized = nodes[0].tally.finalized_blocks
    created = sum(n.core.blocks_created for n in nodes)
    cpu_ms_per_block = cpu_s * 1000 / finalized if finalized else math.nan
    seen = [n.tally.ballots_seen_at for n in nodes]
    return {
        "members": members,
        "seed": seed,
        "budget_items": budget_items,
        "board_size": board_size,
        "board_candidates": board_candidates,
        "voting_period_s": voting_period_ms / 1000,
        "digests_equal": len(digests) == 1,
        "digest": state.digest().hex(),
        "all_closed_everywhere": all(
            n.tally.closed == len(n.governance.state.decisions) == DECISIONS for n in nodes
        ),
        "outcomes_equal_pure_rule": all(d["equals_pure_rule"] for d in decisions),
        "decisions": decisions,
        "sim_seconds_open": OPEN_AT_S,
        "sim_seconds_all_ballots_everywhere": (
            None if None in seen else round(max(s or 0.0 for s in seen), 3)
        ),
        "sim_seconds_all_closed": round(closed_at, 3),
        "sim_seconds_to_close": round(closed_at - OPEN_AT_S, 3),
        "sim_seconds_to_close_after_deadline": round(
            closed_at - state.decisions[0].deadline / 1000, 3
        ),
        "quiescent": settled.stop_reason == "idle",
        "cpu_s": round(cpu_s, 3),
        "setup_cpu_s": round(setup_cpu, 3),
        "governance_fold_cpu_s": round(sum(n.tally.fold_cpu_s for n in nodes), 3),
        "wall_s": round(wall_s, 3),
        "blocks_created": created,
        "blocks_finalized": finalized,
        "transactions_delivered": max(delivered),
        "transactions_delivered_equal": len(delivered) == 1,
        "votes_cast": sum(n.tally.votes_cast for n in nodes),
        "closes_sent": sum(n.tally.closes_sent for n in nodes),
        "rejections": state.rejection_count,
        "rejection_reasons": dict(sorted(nodes[0].tally.rejections.items())),
        "messages_delivered": settled.delivered,
        "events": settled.events,
        "cpu_ms_per_finalized_block": round(cpu_ms_per_block, 3),
        "cpu_ms_per_created_block": round(cpu_s * 1000 / max(1, created), 3),
        "verify_ms_per_block_all_nodes": round(members * verify_ms, 3),
        "ratio": round(cpu_ms_per_block / (members * verify_ms), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m peoplenet.bench.governance_scale", description=__doc__
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget-items", type=int, default=20)
    parser.add_argument("--board-size", type=int, default=7)
    parser.add_argument("--board-candidates", type=int, default=15)
    args = parser.parse_args(argv)
    result = run(
        args.members,
        seed=args.seed,
        budget_items=args.budget_items,
        board_size=args.board_size,
        board_candidates=args.board_candidates,
    )
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

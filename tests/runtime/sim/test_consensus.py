"""Consensus proved by simulation: safety over many seeds, liveness, latency, epochs, restarts."""

from __future__ import annotations

import json

import pytest

from peoplenet import main as cli
from peoplenet.runtime.consensus.constitution import (
    Amendment,
    Constitution,
    Genesis,
    approve_amendment,
)
from peoplenet.runtime.keys.identity import MemberId
from peoplenet.runtime.sim.consensus import (
    ConsensusSimNode,
    Fault,
    SimConfig,
    _Durable,
    identity_for,
    run_many,
    run_once,
)
from peoplenet.runtime.sim.simulator import LinkModel, SimNode, Simulator
from peoplenet.runtime.wire.codec import Value

FAULTS: list[Fault] = ["crash", "silent", "equivocate", "delay"]


def _check_sound(config: SimConfig, seeds: range) -> None:
    summary, results = run_many(config, seeds)
    problems = [(r.seed, p) for r in results for p in r.safety_violations]
    assert problems == []
    assert summary.safety_violations == 0
    assert summary.finalized_min == 1.0, [r.seed for r in results if r.finalized_fraction < 1]
    assert all(r.quiescent for r in results), [r.seed for r in results if not r.quiescent]
    assert summary.runs == len(seeds)


def test_fault_free_good_case_latency_is_three_rounds() -> None:
    summary, results = run_many(SimConfig(nodes=4), range(8))
    assert summary.safety_violations == 0
    assert summary.finalized_min == 1.0
    assert summary.good_case_latency_rounds == 3.0
    assert summary.expected_latency_rounds == 3.0
    assert all(r.leader_latencies and set(r.leader_latencies) == {3} for r in results)
    assert all(r.quiescent for r in results)


@pytest.mark.parametrize("fault", FAULTS)
def test_four_members_one_faulty(fault: Fault) -> None:
    _check_sound(SimConfig(nodes=4, faulty=1, fault=fault), range(12))


@pytest.mark.parametrize("fault", FAULTS)
def test_seven_members_two_faulty(fault: Fault) -> None:
    _check_sound(SimConfig(nodes=7, faulty=2, fault=fault), range(4))


@pytest.mark.slow
@pytest.mark.parametrize("fault", FAULTS)
def test_hundreds_of_seeds(fault: Fault) -> None:
    _check_sound(SimConfig(nodes=4, faulty=1, fault=fault), range(100, 400))
    _check_sound(SimConfig(nodes=7, faulty=2, fault=fault), range(100, 200))


@pytest.mark.slow
@pytest.mark.parametrize("fault", FAULTS)
def test_larger_community(fault: Fault) -> None:
    _check_sound(SimConfig(nodes=10, faulty=3, fault=fault), range(3))


def test_crashed_leaders_cost_latency_not_liveness() -> None:
    summary, results = run_many(SimConfig(nodes=4, faulty=1, fault="crash"), range(12))
    assert summary.finalized_min == 1.0
    assert summary.good_case_latency_rounds == 3.0  # a correct leader is final in its wave
    assert 3.0 < summary.expected_latency_rounds < 6.0  # a crashed leader's wave waits a wave
    assert any(6 in r.wave_latencies for r in results)


def test_crash_recovery_member_catches_up_without_duplicates() -> None:
    config = SimConfig(nodes=4, faulty=1, fault="crash", restart_after=3.0)
    for seed in range(6):
        result = run_once(config, seed)
        assert result.safety_violations == []
        assert result.finalized_fraction == 1.0  # the restarted member delivered everything too


def test_runs_are_deterministic() -> None:
    config = SimConfig(nodes=4, faulty=1, fault="equivocate")
    a, b = run_once(config, 7), run_once(config, 7)
    assert (a.leader_latencies, a.wave_latencies, a.blocks, a.events) == (
        b.leader_latencies,
        b.wave_latencies,
        b.blocks,
        b.events,
    )


def test_faulty_members_above_f_are_refused_by_config_and_f_is_checked() -> None:
    with pytest.raises(Exception, match="fault 'none' needs faulty 0"):
        SimConfig(nodes=4, faulty=1, fault="none")


def test_cli_sim_consensus_prints_exactly_the_contract(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["sim", "consensus", "--nodes", "4", "--faulty", "1", "--fault", "crash"]
    code = cli.main([*argv, "--seeds", "3", "--json"])
    assert code == 0
    figures = json.loads(capsys.readouterr().out)
    assert set(figures) == {
        "runs",
        "safety_violations",
        "finalized_min",
        "good_case_latency_rounds",
        "expected_latency_rounds",
        "blocks_per_decision",
    }
    assert figures["runs"] == 3
    assert figures["safety_violations"] == 0
    assert figures["finalized_min"] == 1.0
    assert figures["blocks_per_decision"] > 1


# ------------------------------------------------------------------------- epochs


def _node(
    name: str, index: int, genesis: Genesis, durable: _Durable, txs: list[tuple[float, Value]]
) -> ConsensusSimNode:
    names = {MemberId(identity_for(1, i).member_id): f"n{i:02d}" for i in range(5)}
    return ConsensusSimNode(
        name, identity_for(1, index), genesis, durable=durable, names=names, txs=txs
    )


def test_an_amendment_ends_the_epoch_and_the_next_starts_from_a_new_genesis() -> None:
    ids = [identity_for(1, i) for i in range(5)]
    first = Constitution.of([ids[i].member_id for i in range(4)], timeout_ms=500)
    genesis = Genesis.first(b"coop", first)
    lace0 = genesis.lace()
    second = Constitution.of([ids[i].member_id for i in (0, 1, 2, 4)], timeout_ms=500)
    approvals = tuple(sorted((approve_amendment(ids[i], lace0, second) for i in range(3)), key=str))
    amendment = Amendment(lace0, second, approvals)
    durables = [_Durable() for _ in range(5)]
    workloads: list[list[tuple[float, Value]]] = [
        [(0.5, ("tx", i, 0)), (20.0, ("tx", i, 1))] for i in range(5)
    ]
    workloads[0].insert(1, (2.0, amendment))
    sim = Simulator(3, LinkModel(0.01, 0.1))
    for i in range(4):

        def factory(i: int = i) -> SimNode:
            return _node(f"n{i:02d}", i, genesis, durables[i], workloads[i])

        sim.add_node(f"n{i:02d}", factory)

    def switched(s: Simulator) -> bool:
        node = s.node("n00")
        return isinstance(node, ConsensusSimNode) and node.core.epoch == 1

    sim.run(until=60.0, stop_when=switched)
    n00 = sim.node("n00")
    assert isinstance(n00, ConsensusSimNode)
    genesis1 = n00.core.genesis
    assert genesis1.epoch == 1 and genesis1.previous_lace == lace0
    assert genesis1.constitution == second
    joiner_txs = [(t, tx) for t, tx in workloads[4] if t > sim.now]
    sim.add_node("n04", lambda: _node("n04", 4, genesis1, durables[4], joiner_txs))
    sim.run(until=200.0)

    logs = {i: [(d.epoch, d.position, d.tx) for d in durables[i].delivered] for i in range(5)}
    epoch0 = [entry for entry in logs[0] if entry[0] == 0]
    epoch1 = [entry for entry in logs[0] if entry[0] == 1]
    assert epoch0[-1][2] == amendment  # nothing after the amendment entered epoch 0's order
    assert ("tx", 3, 0) in [tx for _, _, tx in epoch0]
    for i in (1, 2):
        assert logs[i] == logs[0]
    assert logs[3] == epoch0  # removed: saw its epoch end, takes no part in the next
    assert logs[4] == epoch1  # joined at epoch 1: the same order from position 0
    delivered1 = {tx for _, _, tx in epoch1}
    assert {("tx", i, 1) for i in (0, 1, 2, 4)} <= delivered1
    assert ("tx", 3, 1) not in delivered1  # no longer a participant
    n03 = sim.node("n03")
    assert isinstance(n03, ConsensusSimNode)
    assert not n03.core.is_participant() and not n03.core.active
    lace1 = genesis1.lace()
    assert not n03.blocklace.chain(lace1, n03.core.me)
    old = n00.core.order_of(0)
    assert old.anchor_wave >= 0
    end_depth = n00.core.end_depth(0)
    assert end_depth is not None
    assert all(n00.blocklace.meta(b).depth <= end_depth for b in n00.blocklace.iter_lace(lace0))

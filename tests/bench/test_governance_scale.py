"""A cooperative deciding a rate, a budget and a board end to end through simulated consensus."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from peoplenet.actors.governance.records import GovTx, Open
from peoplenet.bench.governance_scale import (
    Scenario,
    ballots_for,
    build,
    main,
    recompute,
    run,
)
from peoplenet.runtime.errors import LocalError

SMALL = {"budget_items": 5, "board_size": 3, "board_candidates": 6}


def check(report: dict[str, object], members: int) -> None:
    assert report["digests_equal"] is True
    assert report["transactions_delivered_equal"] is True
    assert report["all_closed_everywhere"] is True
    assert report["quiescent"] is True
    decisions = report["decisions"]
    assert isinstance(decisions, list)
    assert [(d["kind"], d["status"]) for d in decisions] == [
        ("rate", "closed"),
        ("budget", "closed"),
        ("board", "closed"),
    ]
    for d in decisions:
        assert d["equals_pure_rule"] is True, d
        assert d["ballots"] == d["eligible"] == members
    assert report["outcomes_equal_pure_rule"] is True
    assert report["votes_cast"] == 3 * members
    # Only late closings are refused: every ballot and opening was taken.
    reasons = report["rejection_reasons"]
    assert isinstance(reasons, dict) and set(reasons) <= {"too_early", "closed"}
    # Opens, one vote per member per decision, and at least f+1 closings were ordered.
    delivered = report["transactions_delivered"]
    assert isinstance(delivered, int)
    assert delivered >= 3 + 3 * members + (members - 1) // 3 + 1


def test_small_cooperative_decides_everywhere_alike() -> None:
    report = run(7, seed=1, **SMALL)
    check(report, 7)
    assert report["members"] == 7
    sim_closed = report["sim_seconds_all_closed"]
    assert isinstance(sim_closed, float)
    assert 20.0 <= sim_closed < 30.0  # closes soon after the 20 s voting period
    blocks = report["blocks_finalized"]
    assert isinstance(blocks, int) and blocks > 0


def test_runs_are_deterministic_and_seeds_matter() -> None:
    a, b = run(4, seed=3, **SMALL), run(4, seed=3, **SMALL)
    assert a["digest"] == b["digest"]
    assert a["decisions"] == b["decisions"]
    assert run(4, seed=4, **SMALL)["digest"] != a["digest"]


def test_ballots_are_valid_points_around_the_profile() -> None:
    scenario = Scenario(50, 0, 20, 7, 15)
    ballots = ballots_for(scenario)
    assert len(ballots) == 50
    rates = []
    for b in ballots:
        budget, board, rate = b["budget"], b["board"], b["rate"]
        assert isinstance(budget, tuple) and len(budget) == 20
        assert sum(budget) == scenario.budget_total  # type: ignore[arg-type]
        assert isinstance(board, tuple) and len(board) == 7 == len(set(board))
        assert list(board) == sorted(board)  # type: ignore[type-var]
        assert set(board) <= set(scenario.candidates)
        assert isinstance(rate, str)
        value = Fraction(rate)
        assert 0 <= value <= 30 and (value * 2).denominator == 1
        rates.append(value)
    assert 10 < sorted(rates)[25] < 20  # centred on the preferred 15


def test_pure_rule_recomputation_sees_a_changed_ballot() -> None:
    """The cross-check can fail: the rule on other ballots gives another outcome."""
    community = build(Scenario(5, 0, 3, 2, 4))
    node = community.nodes[0]
    gov = node.governance  # the fold alone, no consensus
    gov.apply(0, 0, node.core.me, GovTx(1, Open("rate", "commission", (), None, None)))
    decision = gov.state.decision(1)
    assert decision is not None
    before = recompute(community, decision)
    for ballot in community.ballots:
        ballot["rate"] = "30"
    after = recompute(community, decision)
    assert after.outcome == Fraction(30) != before.outcome
    assert after.adopted


def test_scenario_is_validated() -> None:
    with pytest.raises(LocalError):
        Scenario(0, 0, 20, 7, 15)
    with pytest.raises(LocalError):
        Scenario(10, 0, 20, 16, 15)


def test_cli_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--json", "--members", "4", "--budget-items", "3", "--board-size", "2"]
    argv += ["--board-candidates", "4"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    check(report, 4)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_hundred_member_cooperative() -> None:
    report = run(100)
    check(report, 100)
    decisions = report["decisions"]
    assert isinstance(decisions, list)
    assert [len(d["outcome"]) for d in decisions[1:]] == [20, 7]

"""The decision rule: the issue's worked example, each kind by hand, every error, invariants."""

from __future__ import annotations

import random
from collections.abc import Mapping
from fractions import Fraction
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peoplenet.actors.governance.decision import (
    KINDS,
    YES_NO_KINDS,
    DecisionError,
    DecisionInput,
    DecisionOutcome,
    check_params,
    decide,
    effective_threshold,
    normalize_point,
)
from peoplenet.actors.governance.spaces import RateSpace

HALF = Fraction(1, 2)
ZERO = Fraction(0)
RATE = {"lo": 0, "hi": 10, "step": HALF}


def rate(ballots: list[str], status_quo: str = "5", threshold: Fraction = HALF) -> DecisionInput:
    return DecisionInput(
        "rate", 5, Fraction(status_quo), threshold, ZERO, tuple(map(Fraction, ballots)), (), RATE
    )


def test_worked_example_adopts_the_median_at_one_half() -> None:
    result = decide(rate(["3", "4", "4.5", "6", "7"]))
    assert result == DecisionOutcome(Fraction(9, 2), True, Fraction(3, 5), HALF)


def test_worked_example_keeps_the_status_quo_at_two_thirds() -> None:
    result = decide(rate(["3", "4", "4.5", "6", "7"], threshold=Fraction(2, 3)))
    assert result == DecisionOutcome(Fraction(5), False, Fraction(3, 5), HALF)


def test_kinds_are_the_issue_list() -> None:
    assert KINDS == (
        "rate", "budget", "ranking", "board", "bylaws", "officer",
        "amendment", "app", "admission", "removal",
    )  # fmt: skip
    assert {"amendment", "app", "admission", "removal"} == YES_NO_KINDS


def test_sybil_estimate_raises_the_threshold() -> None:
    assert effective_threshold(HALF, Fraction(1, 5)) == Fraction(3, 5)
    assert effective_threshold(Fraction(2, 3), Fraction(1, 5)) == Fraction(2, 3)
    # 3 of 5 support is 0.6: enough at sigma 0.1 (theta' 0.55), not at sigma 0.2 (0.6).
    ballots = tuple(map(Fraction, ["3", "4", "4.5", "6", "7"]))
    for sigma, adopted in ((Fraction(1, 10), True), (Fraction(1, 5), False)):
        inp = DecisionInput("rate", 5, Fraction(5), ZERO, sigma, ballots, (), RATE)
        assert decide(inp).adopted is adopted


def test_abstainers_count_for_the_status_quo() -> None:
    ballots = (Fraction(3), Fraction(3), Fraction(3))
    assert decide(DecisionInput("rate", 5, Fraction(5), HALF, ZERO, ballots, (), RATE)).adopted
    kept = decide(DecisionInput("rate", 6, Fraction(5), HALF, ZERO, ballots, (), RATE))
    assert kept == DecisionOutcome(Fraction(5), False, HALF, Fraction(6))


def test_rate_even_median_takes_the_middle_value_nearer_the_status_quo() -> None:
    # Middle values 4 and 6: with s = 5.5, 6 is nearer; with s = 5 both are, and 4 is lower.
    ballots = tuple(map(Fraction, ["1", "4", "6", "9"]))
    for status_quo, median in (("5.5", 12), ("5", 8), ("2", 8)):
        space = RateSpace(RATE, Fraction(status_quo), ballots, ())
        assert space.median() == median  # grid indices: 12 is 6, 8 is 4


def test_rate_median_beats_a_tabled_proposal() -> None:
    # Ballots 2, 2, 8, 8, 8 around s = 5 (total distance 15).  The median 8 leaves 12:
    # score 3, support 3/5; the tabled 7 leaves 13: score 2.
    ballots = tuple(map(Fraction, ["2", "2", "8", "8", "8"]))
    inp = DecisionInput("rate", 5, Fraction(5), HALF, ZERO, ballots, (Fraction(7),), RATE)
    assert decide(inp) == DecisionOutcome(Fraction(8), True, Fraction(3, 5), Fraction(3))


def test_ties_go_to_the_candidate_nearest_the_status_quo() -> None:
    # s = 0, ballots 6, 6, 7, 7: score(6) = 26 - 2 = 24 = score(7); 6 is nearer s.
    ballots = tuple(map(Fraction, ["6", "6", "7", "7"]))
    inp = DecisionInput("rate", 4, ZERO, HALF, ZERO, ballots, (), RATE)
    assert decide(inp) == DecisionOutcome(Fraction(6), True, Fraction(1), Fraction(24))


def test_ties_at_equal_distance_go_to_the_smallest_encoding() -> None:
    # s = 5, ballots 4 and 6 from 2 members: both score 0 at distance 1 from s, neither
    # qualifies; the reported best is the one with the smaller encoding ("4/1" < "6/1"),
    # supported by the ballot at 4 alone.
    ballots = (Fraction(4), Fraction(6))
    inp = DecisionInput("rate", 2, Fraction(5), HALF, ZERO, ballots, (), RATE)
    assert decide(inp) == DecisionOutcome(Fraction(5), False, HALF, ZERO)


def test_budget_adopts_the_ballot_nearest_everyone() -> None:
    params = {"items": ("parks", "roads", "school"), "total": 10}
    ballots = ((2, 2, 6), (2, 3, 5), (3, 2, 5), (0, 0, 10))
    inp = DecisionInput("budget", 5, (4, 4, 2), HALF, ZERO, ballots, (), params)
    # D(s) = 8+6+6+16 = 36; D(2,2,6) = 0+2+2+8 = 12, D(2,3,5) = 2+0+2+10 = 14.
    # Support of (2,2,6): the first three are nearer it than s; (0,0,10) is too (8 < 16).
    assert decide(inp) == DecisionOutcome((2, 2, 6), True, Fraction(4, 5), Fraction(24))


def test_ranking_adopts_the_borda_order_when_it_is_best() -> None:
    params = {"items": ("a", "b", "c")}
    ballots = (("a", "b", "c"), ("b", "a", "c"), ("a", "c", "b"))
    inp = DecisionInput("ranking", 3, ("c", "b", "a"), HALF, ZERO, ballots, (), params)
    # Kendall distances to s = cba: 3, 2, 2 (total 7); to abc: 0, 1, 1 (total 2).
    assert decide(inp) == DecisionOutcome(("a", "b", "c"), True, Fraction(1), Fraction(5))


def test_board_outcome_is_always_exactly_k() -> None:
    params = {"candidates": ("ann", "bo", "cy", "di"), "k": 2}
    # Ballots approve 1 to 3 names; none is itself a 2-board except the aggregate.
    ballots = (("ann",), ("ann", "bo", "cy"), ("bo", "di"), ("ann", "bo"))
    inp = DecisionInput("board", 4, ("cy", "di"), HALF, ZERO, ballots, (), params)
    result = decide(inp)
    assert result.outcome == ("ann", "bo")
    assert result.adopted
    # d to s: 3, 3, 2, 4 (12); d to (ann, bo): 1, 1, 2, 0 (4); supporters: 1st, 2nd, 4th.
    assert (result.support, result.score) == (Fraction(3, 4), Fraction(8))


def test_board_status_quo_may_be_empty_or_a_retiring_member() -> None:
    params = {"candidates": ("ann", "bo"), "k": 2}
    ballots = (("ann", "bo"), ("ann", "bo"))
    for status_quo in ((), ("zoe",), ("ann", "zoe")):
        inp = DecisionInput("board", 2, status_quo, HALF, ZERO, ballots, (), params)
        assert decide(inp).outcome == ("ann", "bo")


def test_bylaws_majority_clauses() -> None:
    params = {"clauses": ("c1", "c2", "c3")}
    ballots = (("c1", "c2"), ("c1",), ("c1", "c3"))
    inp = DecisionInput("bylaws", 3, ("c3",), HALF, ZERO, ballots, (), params)
    # Aggregate: c1 (3 of 3); c2 and c3 have 1 of 3.  d to s: 3, 2, 1 = 6; to (c1,): 1, 0, 1,
    # so the third ballot is as near s as the aggregate and does not support it.
    assert decide(inp) == DecisionOutcome(("c1",), True, Fraction(2, 3), Fraction(4))


def officer(ballots: list[str], members: int, status_quo: str = "vacant") -> DecisionOutcome:
    return decide(
        DecisionInput(
            "officer", members, status_quo, HALF, ZERO,
            tuple(tuple(b.split()) for b in ballots), (),
            {"candidates": ("ada", "ben", "cat")},
        )
    )  # fmt: skip


def test_officer_condorcet_winner_of_the_supported_set() -> None:
    result = officer(["ada ben vacant", "ben ada vacant", "ada vacant"], 3)
    assert result == DecisionOutcome("ada", True, Fraction(1), Fraction(3))


def test_officer_cycle_goes_to_schulze_and_a_tie_to_the_first_name() -> None:
    # ada > ben > cat > ada, each by 2 to 1; all three beat vacant unanimously.
    result = officer(["ada ben cat vacant", "ben cat ada vacant", "cat ada ben vacant"], 3)
    assert result.outcome == "ada"  # a perfect cycle: all three are Schulze winners
    assert result.adopted


def test_officer_unranked_candidates_sit_below_the_status_quo() -> None:
    result = officer(["ben vacant", "ben vacant", "vacant ada"], 3)
    assert result == DecisionOutcome("ben", True, Fraction(2, 3), Fraction(1))


def test_officer_keeps_the_incumbent_without_support() -> None:
    result = officer(["ada zoe", "zoe ben", "ben zoe"], 4, status_quo="zoe")
    assert result.outcome == "zoe"
    assert not result.adopted
    # ben: 1 ranking him above zoe (the unranked are below), 2 below: score -1; ada: 1, score -1
    assert (result.support, result.score) == (Fraction(1, 4), Fraction(-1))


def test_officer_incumbent_standing_again_is_the_status_quo() -> None:
    result = officer(["ada ben", "ada cat", "ada"], 3, status_quo="ada")
    assert result == DecisionOutcome("ada", False, ZERO, Fraction(-3))


@pytest.mark.parametrize("kind", sorted(YES_NO_KINDS))
def test_yes_no_kinds(kind: str) -> None:
    def run(ballots: tuple[bool, ...], members: int, threshold: Fraction) -> DecisionOutcome:
        inp = DecisionInput(kind, members, False, threshold, ZERO, ballots, (True,), {})
        return decide(inp)

    yes3_no1 = (True, True, True, False)
    assert run(yes3_no1, 4, HALF) == DecisionOutcome(True, True, Fraction(3, 4), Fraction(2))
    assert run(yes3_no1, 6, HALF) == DecisionOutcome(False, False, HALF, Fraction(2))
    assert run(yes3_no1, 4, Fraction(3, 4)).adopted is False
    assert run((), 3, HALF) == DecisionOutcome(False, False, ZERO, ZERO)


def test_no_ballots_keeps_the_status_quo_with_zero_numbers() -> None:
    inp = DecisionInput("rate", 3, Fraction(5), HALF, ZERO, (), (), RATE)
    assert decide(inp) == DecisionOutcome(Fraction(5), False, ZERO, ZERO)


# -- errors -----------------------------------------------------------------------------------

BUDGET = {"items": ("a", "b"), "total": 10}
BOARD = {"candidates": ("ann", "bo", "cy"), "k": 2}
OFFICER = {"candidates": ("ada", "ben")}


def base(**changes: object) -> DecisionInput:
    fields: dict[str, object] = {
        "kind": "rate", "members": 3, "status_quo": Fraction(5), "threshold": HALF,
        "sybil_estimate": ZERO, "ballots": (Fraction(4),), "proposals": (), "params": RATE,
    }  # fmt: skip
    fields.update(changes)
    return DecisionInput(**fields)  # type: ignore[arg-type]


DECIDE_ERRORS: list[tuple[str, DecisionInput]] = [
    ("unknown_kind", base(kind="poll")),
    ("bad_members", base(members=0)),
    ("bad_members", base(members=True)),
    ("too_many_ballots", base(members=1, ballots=(Fraction(4), Fraction(5)))),
    ("bad_threshold", base(threshold=Fraction(1))),
    ("bad_threshold", base(threshold=Fraction(-1, 2))),
    ("bad_threshold", base(threshold=0.5)),
    ("bad_sybil_estimate", base(sybil_estimate=Fraction(3, 2))),
    ("not_a_list", base(ballots=Fraction(4))),
    ("missing_param", base(params={"lo": 0, "hi": 10})),
    ("unknown_param", base(params={**RATE, "mode": 1})),
    ("bad_params", base(params={"lo": 0, "hi": 10, "step": 0})),
    ("bad_params", base(params={"lo": 5, "hi": 1, "step": 1})),
    ("bad_params", base(params={"lo": 0, "hi": 10, "step": 3})),
    ("not_a_number", base(ballots=(4.0,))),
    ("not_a_number", base(ballots=(True,))),
    ("off_step", base(ballots=(Fraction(17, 4),))),
    ("out_of_range", base(ballots=(Fraction(11),))),
    ("out_of_range", base(status_quo=Fraction(-1))),
    ("off_step", base(proposals=(Fraction(1, 3),))),
    ("bad_total", base(kind="budget", params=BUDGET, status_quo=(5, 5), ballots=((6, 5),))),
    ("wrong_size", base(kind="budget", params=BUDGET, status_quo=(5, 5), ballots=((10,),))),
    ("negative_amount", base(kind="budget", params=BUDGET, status_quo=(15, -5), ballots=())),
    ("not_an_integer", base(kind="budget", params=BUDGET, status_quo=(5, 5), ballots=((5.0, 5),))),
    ("not_a_list", base(kind="budget", params=BUDGET, status_quo=10, ballots=())),
    ("bad_params", base(kind="budget", params={"items": ("a",), "total": -1}, ballots=())),
    ("bad_params", base(kind="ranking", params={"items": ()}, ballots=())),
    (
        "not_a_permutation",
        base(kind="ranking", params={"items": ("a", "b")}, status_quo=("a",), ballots=()),
    ),
    (
        "duplicate_name",
        base(kind="ranking", params={"items": ("a", "b")}, status_quo=("a", "a"), ballots=()),
    ),
    ("bad_name", base(kind="board", params=BOARD, status_quo=("",), ballots=())),
    ("unknown_name", base(kind="board", params=BOARD, status_quo=(), ballots=(("zed",),))),
    (
        "wrong_size",
        base(kind="board", params=BOARD, status_quo=(), ballots=(), proposals=(("ann",),)),
    ),
    ("wrong_size", base(kind="board", params=BOARD, status_quo=("a", "b", "c"), ballots=())),
    ("bad_params", base(kind="board", params={"candidates": ("a",), "k": 2}, ballots=())),
    ("bad_params", base(kind="board", params={"candidates": ("a",), "k": 0}, ballots=())),
    ("unknown_clause", base(kind="bylaws", params={"clauses": ("c1",)}, status_quo=("c9",))),
    ("not_a_list", base(kind="bylaws", params={"clauses": "c1"}, status_quo=())),
    (
        "missing_status_quo",
        base(kind="officer", params=OFFICER, status_quo="zoe", ballots=(("ada", "ben"),)),
    ),
    (
        "unknown_name",
        base(kind="officer", params=OFFICER, status_quo="zoe", ballots=(("ada", "zed", "zoe"),)),
    ),
    (
        "unknown_name",
        base(kind="officer", params=OFFICER, status_quo="zoe", ballots=(), proposals=("zed",)),
    ),
    ("bad_name", base(kind="officer", params=OFFICER, status_quo=3, ballots=())),
    (
        "status_quo_mismatch",
        base(kind="officer", params={**OFFICER, "status_quo": "amy"}, status_quo="zoe", ballots=()),
    ),
    ("bad_params", base(kind="officer", params={**OFFICER, "k": 2}, status_quo="z", ballots=())),
    ("not_a_bool", base(kind="app", params={}, status_quo=False, ballots=(1,))),
    ("bad_status_quo", base(kind="admission", params={}, status_quo=True, ballots=())),
    ("unknown_param", base(kind="removal", params={"k": 1}, status_quo=False, ballots=())),
]


@pytest.mark.parametrize(("reason", "inp"), DECIDE_ERRORS)
def test_decide_refuses_bad_input_with_a_stable_reason(reason: str, inp: DecisionInput) -> None:
    with pytest.raises(DecisionError) as caught:
        decide(inp)
    assert caught.value.reason == reason
    assert caught.value.detail


def test_params_must_be_a_mapping() -> None:
    with pytest.raises(DecisionError) as caught:
        check_params("rate", ["lo", "hi"])  # type: ignore[arg-type]
    assert caught.value.reason == "bad_params"


def test_normalize_point_gives_normal_forms() -> None:
    assert normalize_point("rate", RATE, 4, what="ballot") == Fraction(4)
    assert normalize_point("budget", BUDGET, [3, 7], what="ballot") == (3, 7)
    assert normalize_point("board", BOARD, ["cy", "ann"], what="ballot") == ("ann", "cy")
    assert normalize_point("bylaws", {"clauses": ("b", "a")}, ["b", "a"], what="x") == ("a", "b")
    assert normalize_point("ranking", {"items": ("a", "b")}, ["b", "a"], what="x") == ("b", "a")
    assert normalize_point("officer", OFFICER, ["ben", "zoe"], what="ballot 1") == ("ben", "zoe")
    assert normalize_point("app", {}, True, what="ballot") is True


def test_officer_ballot_needs_the_named_status_quo_when_params_name_it() -> None:
    params: Mapping[str, object] = {**OFFICER, "status_quo": "zoe"}
    assert normalize_point("officer", params, ["zoe"], what="ballot") == ("zoe",)
    with pytest.raises(DecisionError) as caught:
        normalize_point("officer", params, ["ada", "amy"], what="ballot")
    assert caught.value.reason == "missing_status_quo"


# -- invariants (Hypothesis) ----------------------------------------------------------------

GRID = [Fraction(i, 2) for i in range(21)]


@st.composite
def rate_inputs(draw: st.DrawFn) -> DecisionInput:
    ballots = tuple(draw(st.lists(st.sampled_from(GRID), max_size=12)))
    members = len(ballots) + draw(st.integers(0, 4)) or 1
    proposals = tuple(draw(st.lists(st.sampled_from(GRID), max_size=3)))
    theta = draw(st.sampled_from([ZERO, HALF, Fraction(3, 5), Fraction(2, 3), Fraction(9, 10)]))
    sigma = draw(st.sampled_from([ZERO, Fraction(1, 10), Fraction(1, 3)]))
    status_quo = draw(st.sampled_from(GRID))
    return DecisionInput("rate", members, status_quo, theta, sigma, ballots, proposals, RATE)


@st.composite
def board_inputs(draw: st.DrawFn) -> DecisionInput:
    names = ("ann", "bo", "cy", "di")
    ballot = st.lists(st.sampled_from(names), unique=True).map(lambda b: tuple(sorted(b)))
    ballots = tuple(draw(st.lists(ballot, max_size=8)))
    members = len(ballots) + draw(st.integers(0, 3)) or 1
    theta = draw(st.sampled_from([ZERO, HALF, Fraction(2, 3)]))
    status_quo = draw(st.sampled_from([(), ("ann", "bo"), ("cy", "di"), ("zoe",)]))
    return DecisionInput(
        "board", members, status_quo, theta, ZERO, ballots, (), {"candidates": names, "k": 2}
    )


inputs = st.one_of(rate_inputs(), board_inputs())


@settings(max_examples=150, deadline=None)
@given(inputs)
def test_adopted_only_with_support_and_positive_score(inp: DecisionInput) -> None:
    result = decide(inp)
    theta = effective_threshold(inp.threshold, inp.sybil_estimate)
    if result.adopted:
        assert result.support > theta
        assert result.score > 0
        assert result.outcome != inp.status_quo
    else:
        assert result.outcome == inp.status_quo


@settings(max_examples=100, deadline=None)
@given(rate_inputs())
def test_kept_status_quo_means_no_candidate_qualifies(inp: DecisionInput) -> None:
    result = decide(inp)
    if result.adopted:
        return
    theta = effective_threshold(inp.threshold, inp.sybil_estimate)
    values = cast(tuple[Fraction, ...], inp.ballots)
    median = sorted(values)[len(values) // 2 :][:1]
    for p in {*inp.ballots, *inp.proposals, *median} - {inp.status_quo}:
        s = inp.status_quo
        support = Fraction(sum(abs(v - p) < abs(v - s) for v in inp.ballots), inp.members)  # type: ignore[operator]
        score = sum(abs(v - s) - abs(v - p) for v in inp.ballots)  # type: ignore[operator]
        assert not (support > theta and score > 0)


@settings(max_examples=100, deadline=None)
@given(inputs, st.randoms(use_true_random=False))
def test_ballot_order_does_not_matter(inp: DecisionInput, rng: random.Random) -> None:
    shuffled = list(inp.ballots)
    rng.shuffle(shuffled)
    again = DecisionInput(
        inp.kind, inp.members, inp.status_quo, inp.threshold, inp.sybil_estimate,
        tuple(shuffled), tuple(reversed(inp.proposals)), inp.params,
    )  # fmt: skip
    assert decide(again) == decide(inp)


@settings(max_examples=100, deadline=None)
@given(inputs)
def test_an_abstainer_never_turns_a_kept_status_quo_into_a_change(inp: DecisionInput) -> None:
    if decide(inp).adopted:
        return
    more = DecisionInput(
        inp.kind, inp.members + 1, inp.status_quo, inp.threshold, inp.sybil_estimate,
        inp.ballots, inp.proposals, inp.params,
    )  # fmt: skip
    assert not decide(more).adopted


@settings(max_examples=100, deadline=None)
@given(inputs, st.sampled_from([Fraction(1, 10), Fraction(1, 3), Fraction(3, 5)]))
def test_a_larger_sybil_estimate_never_turns_a_kept_status_quo_into_a_change(
    inp: DecisionInput, sigma: Fraction
) -> None:
    assert effective_threshold(inp.threshold, sigma) >= inp.threshold
    assert effective_threshold(inp.threshold, sigma) >= HALF + sigma / 2
    if decide(inp).adopted:
        return
    higher = DecisionInput(
        inp.kind, inp.members, inp.status_quo, inp.threshold, max(sigma, inp.sybil_estimate),
        inp.ballots, inp.proposals, inp.params,
    )  # fmt: skip
    assert not decide(higher).adopted
